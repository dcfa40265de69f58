"""``lavr chat`` (a line-by-line REPL) and ``lavr serve`` (the OpenAI-compatible server and web page)."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from ..errors import LavrError
from ..terminal import for_terminal

REPL_HELP = ("commands: /image PATH (attach an image to the next message), /trace (the last turn's steps), "
             "/new (start a new thread), /threads (list threads), /thread ID (switch), /help, /quit")


def _settings(args: argparse.Namespace) -> Any:
    """Settings from ``LAVR_*`` variables and the options, validated like them (``SettingsError`` if not allowed)."""
    from ..settings import settings_with_options

    return settings_with_options({"llm": ("--llm", getattr(args, "llm", None)),
                                  "max_steps": ("--max-steps", getattr(args, "max_steps", None))})


def format_steps(answer: Any) -> str:
    """The trace of a turn, one line per step (each step's own plain-text rendering)."""
    lines = []
    for s in answer.steps:
        cached = " (cached)" if getattr(s, "cached", False) else ""
        lines.append(f"  #{s.index} {s.prompt_text()[:300]}{cached}")
    return "\n".join(lines) or "  (no steps)"


class Repl:
    """Reads lines, prints answers. Errors are printed as ``lavr: error: ...`` and the session goes on."""

    def __init__(self, service: Any, *, thread_id: str | None = None, out: IO[str] = sys.stdout,
                 err: IO[str] = sys.stderr):
        self.service, self.out, self.err = service, out, err
        self.thread_id = thread_id
        self.pending: list[Any] = []
        self.last: Any = None
        if thread_id is not None:
            service.history(thread_id)  # ThreadNotFound before the first line

    def say(self, text: str) -> None:
        print(for_terminal(text), file=self.out, flush=True)

    def attach(self, path: str) -> None:
        from ..images import load_image
        from ..samples import resolve_image_arg

        image = resolve_image_arg(path)
        s = self.service.settings
        load_image(image, max_pixels=s.max_image_pixels, allowed_roots=s.allowed_roots)  # fail now, not later
        self.pending.append(image)
        self.say(f"attached {path} (sent with your next message)")

    def command(self, line: str) -> bool:
        """Run a /command; False to quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/image":
            if not arg:
                raise LavrError("usage: /image PATH")
            self.attach(arg)
        elif name == "/trace":
            self.say(format_steps(self.last.answer) if self.last else "no turn yet")
        elif name == "/new":
            self.thread_id, self.last, self.pending = None, None, []
            self.say("new thread (created with your next message)")
        elif name == "/threads":
            for t in self.service.threads():
                mark = "*" if t.id == self.thread_id else " "
                self.say(f"{mark} {t.id}  {t.turns:>3} turns  {t.updated}  {t.title}")
        elif name == "/thread":
            self.service.history(arg)
            self.thread_id, self.last = arg, None
            self.say(f"switched to {arg}")
        elif name == "/help":
            self.say(REPL_HELP)
        else:
            raise LavrError(f"unknown command {name}; {REPL_HELP}")
        return True

    def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        reply = self.service.send(self.thread_id, line, self.pending)
        self.pending = []
        self.thread_id, self.last = reply.thread_id, reply.turn
        self.say(reply.turn.answer.answer)
        return True

    def run(self, lines: Any) -> int:
        self.say(f"lavr chat{f' (thread {self.thread_id})' if self.thread_id else ''}. {REPL_HELP}")
        for line in lines:
            try:
                if not self.handle(line):
                    break
            except LavrError as exc:
                print(for_terminal(f"lavr: error: {exc}"), file=self.err, flush=True)
        if self.thread_id:
            self.say(f"thread: {self.thread_id}")
        return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from .session import open_chat

    settings = _settings(args)
    service = open_chat(args.mode, settings.llm, settings=settings)
    repl = Repl(service, thread_id=args.thread)
    if args.image:
        repl.attach(args.image)
    return repl.run(sys.stdin)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    settings = _settings(args)
    serve(host=args.host, port=args.port, settings=settings, mode=args.mode, web=not args.no_web)
    return 0


def add_chat_commands(sub: Any) -> None:
    chat = sub.add_parser("chat", help="chat about images in the terminal (threads persist)")
    chat.add_argument("--image", help="attach this image (or sample:NAME) to the first message")
    chat.add_argument("--thread", help="resume this thread id")
    chat.add_argument("--llm", help="local (default), openai:MODEL, or a .gguf path")
    chat.add_argument("--mode", default="auto", help="auto (default: query with the embedded LLM, else react), query, react, program, pipeline:FILE")
    chat.add_argument("--max-steps", type=int, help="planning turns before a forced answer")
    chat.set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="OpenAI-compatible server (/v1/chat/completions) with a web page at /")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--llm", help="local (default), openai:MODEL, or a .gguf path")
    serve.add_argument("--mode", default="auto", help="auto (default: query with the embedded LLM, else react), query, react, program, pipeline:FILE")
    serve.add_argument("--max-steps", type=int, help="planning turns before a forced answer")
    serve.add_argument("--no-web", action="store_true", help="only the API, no web page")
    serve.set_defaults(func=cmd_serve)
