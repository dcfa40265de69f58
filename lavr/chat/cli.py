"""``lavr chat`` (the terminal chat, ``lavr.chat.repl``) and ``lavr serve`` (the OpenAI-compatible server and web
page)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..agents.options import MODE_HELP, MODE_METAVAR, planner_mode
from ..errors import InputError
from ..terminal import for_terminal
from .models import check_thread_id
from .repl import REPL_HELP, Repl, format_trace

__all__ = ["REPL_HELP", "Repl", "add_chat_commands", "format_trace"]


def _settings(args: argparse.Namespace) -> Any:
    """Settings from ``LAVR_*`` variables and the options, validated like them (``SettingsError`` if not allowed)."""
    from ..settings import settings_with_options

    return settings_with_options({"llm": ("--llm", getattr(args, "llm", None)),
                                  "max_steps": ("--max-steps", getattr(args, "max_steps", None))})


def cmd_chat(args: argparse.Namespace) -> int:
    from .logs import store_description
    from .repl import input_lines, is_tty
    from .session import open_chat

    settings = _settings(args)
    if args.thread is not None:
        check_thread_id(args.thread)
    talk = is_tty(sys.stderr)
    if talk:  # loading the planner, the LLM's files and the experts takes seconds: say so first
        print(for_terminal(f"lavr chat: starting ({args.mode} mode, LLM {settings.llm})…"), file=sys.stderr,
              flush=True)
    service = open_chat(args.mode, settings.llm, settings=settings)
    repl = Repl(service, thread_id=args.thread)
    if talk:
        agent = service.agent
        print(for_terminal(f"lavr chat: {agent.mode} mode, LLM {getattr(agent.backend, 'name', '?')}, threads in "
                           f"{store_description(settings)}"), file=sys.stderr, flush=True)
    if args.image:
        repl.attach(args.image)
    return repl.run(input_lines(settings))


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    settings = _settings(args)
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    print(for_terminal(f"lavr serve: starting ({args.mode} mode, LLM {settings.llm})…"), file=sys.stderr, flush=True)
    serve(host=args.host, port=args.port, settings=settings, mode=args.mode, web=not args.no_web,
          workers=args.workers)
    return 0


def add_chat_commands(sub: Any) -> None:
    chat = sub.add_parser("chat", help="chat about images in the terminal (threads persist)")
    chat.add_argument("--image", help="attach this image (or sample:NAME) to the first message")
    chat.add_argument("--thread", help="resume this thread id")
    chat.add_argument("--llm", help="local (default), openai:MODEL, or a .gguf path")
    chat.add_argument("--mode", default="auto", type=planner_mode, metavar=MODE_METAVAR, help=MODE_HELP)
    chat.add_argument("--max-steps", type=int, help="planning turns before a forced answer")
    chat.set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="OpenAI-compatible server (/v1/chat/completions) with a web page at /")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--llm", help="local (default), openai:MODEL, or a .gguf path")
    serve.add_argument("--mode", default="auto", type=planner_mode, metavar=MODE_METAVAR, help=MODE_HELP)
    serve.add_argument("--max-steps", type=int, help="planning turns before a forced answer")
    serve.add_argument("--no-web", action="store_true", help="only the API, no web page")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes on one socket (API only, threads in PostgreSQL; default 1)")
    serve.set_defaults(func=cmd_serve)
