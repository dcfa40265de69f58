"""Command line: ``lavr ask IMAGE QUESTION``, ``lavr tools``, ``lavr models install``, ``lavr chat``, ``lavr serve``
(also ``python run.py ...``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import LavrError
from .terminal import for_terminal

# Commands after which the console entry skips the interpreter's teardown (see ``entry``).
LEAVE_FAST = {"ask"}


# CLI options that override a setting: option -> Settings field.
OPTION_FIELDS = {"--max-steps": "max_steps", "--llm": "llm", "--seed": "llm_seed"}


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Any:
    """``Settings`` from ``LAVR_*`` variables, overridden by the options given (validated like the variables:
    ``--max-steps 0`` or ``--max-steps 80`` is refused with the allowed range, never ignored).

    Raises:
        SettingsError: A variable or an option has a value that is not allowed.
    """
    from .settings import settings_with_options

    return settings_with_options({f: (o, getattr(args, f, None)) for o, f in OPTION_FIELDS.items()}, **extra)


def _check_output_file(path: str, what: str) -> None:
    """Refuse an output path whose folder is missing or that is a folder, before any slow work."""
    from .errors import InputError

    target = Path(path).expanduser()
    if target.is_dir():
        raise InputError(f"{what} {path}: is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{what} {path}: the folder {folder} is not writable")


def cmd_ask(args: argparse.Namespace) -> int:
    from .backends import make_backend
    from .prefetch import prefetch_scene
    from .samples import resolve_image_arg

    settings = settings_from_args(args)
    image = resolve_image_arg(args.image)
    if args.trace_html:  # before the LLM work, not after it; never onto the image, nor any file but a trace
        from .outputs import refuse_overwrite
        from .trace_html import is_trace_page

        _check_output_file(args.trace_html, "--trace-html")
        refuse_overwrite(args.trace_html, option="--trace-html", inputs=[("the image", image)],
                         written_by_lavr=is_trace_page, kind="a lavr trace page")
    backend = make_backend(settings.llm, settings)
    # query mode's first move is the image's scene graph: a forked child builds it (into the expert cache) while
    # this process imports the agent and loads the LLM (lavr.prefetch)
    planned = args.mode if args.mode != "auto" else backend.profile.default_planner
    scene = prefetch_scene(image, settings) if planned == "query" and not args.no_cache else None
    try:
        from .agents import make_agent  # after the fork: the child needs none of it

        agent = make_agent(args.mode, backend, settings=settings, cache=not args.no_cache)
        if scene is not None:
            agent.warm_up(args.question)
            scene.wait(settings.tool_timeout_s)
    finally:
        if scene is not None:
            scene.cancel()
    answer = agent.ask(image, args.question)
    if args.json:
        print(for_terminal(answer.model_dump_json(indent=2 if args.pretty else None), json=True))
    else:
        print(for_terminal(answer.answer))
        if args.rationale:
            print(for_terminal(f"rationale: {answer.rationale}"), file=sys.stderr)
    if args.trace_html:
        from .errors import InputError
        from .trace_html import write_trace_html

        sys.stdout.flush()  # the answer is out even if the trace cannot be written
        try:
            write_trace_html(answer, args.trace_html, image=image)
        except OSError as exc:
            raise InputError(f"--trace-html {args.trace_html}: cannot write the trace ({exc.strerror or exc}); "
                             "the answer above is complete") from None
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from .perception.install import status
    from .tools import ToolRegistry, default_tools

    settings = settings_from_args(args)
    registry = ToolRegistry(default_tools(settings))
    rows = []
    for name in registry.names():
        avail = registry.availability(name)
        rows.append({"name": name, "kind": "tool", "description": registry.get(name).description, **avail.model_dump()})
    models = status(settings)
    if args.json:
        rows += [_model_row(m) for m in models]
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "available" if row["available"] else "UNAVAILABLE"
        print(f"{row['name']:<16} {state}")
        if row["weights"]:
            print(f"    weights: {row['weights']}")
        if not row["available"]:
            print(f"    why: {row['reason']}")
            if row["fix"]:
                print(f"    fix: {row['fix']}")
    print("\nmodels (TF.js graph models, run by lavr's own executor):")
    _print_models(models)
    return 0


def _model_row(model: Any) -> dict[str, Any]:
    """A model as a ``tools --json`` row: the tools' keys, plus its source and state."""
    from .perception.install import fix_hint

    installed = model.state == "installed"
    return {"name": f"model:{model.name}", "kind": "model", "description": model.purpose, "available": installed,
            "weights": model.path, "source": model.source, "state": model.state,
            "reason": "" if installed else model.detail.split("; fix: ")[0], "fix": "" if installed else fix_hint()}


def _print_models(models: list[Any]) -> None:
    for model in models:
        print(f"{model.name:<18} {model.state:<10} {model.purpose}")
        print(f"    source: {model.source}")
        print(f"    file: {model.path}")
        if model.detail:
            print(f"    why: {model.detail}")


def cmd_models(args: argparse.Namespace) -> int:
    from .perception.install import install, status, stderr_progress

    settings = settings_from_args(args)
    if args.action == "install":
        folder = install(settings, progress=stderr_progress)
        print(f"human-models installed in {folder}")
        return 0
    models = status(settings)
    if args.json:
        print(json.dumps([m.model_dump() for m in models], indent=2))
    else:
        _print_models(models)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from .cache import open_cache
    from .errors import InputError

    settings = settings_from_args(args)
    cache = open_cache(settings)
    if args.action == "stats":
        stats = cache.stats()
        print(json.dumps({"path": str(cache.path), **stats.model_dump()}) if args.json else
              f"{cache.path}: {stats.entries} entries, {stats.bytes:,} bytes")
    elif args.action == "clear":
        print(f"removed {cache.clear()} entries")
    else:
        if not args.file:
            raise InputError("cache seed needs a JSONL file")
        from .eval.precomputed import seed_file
        from .tools import ToolRegistry, default_tools

        report = seed_file(args.file, cache, ToolRegistry(default_tools(settings)), settings)
        for err in report.errors:
            print(for_terminal(f"{args.file}: {err}"), file=sys.stderr)
        kept = f"; {report.evicted} of them evicted again by the size bound (LAVR_CACHE_MAX_BYTES=" \
            f"{settings.cache_max_bytes})" if report.evicted else ""
        print(f"loaded {report.loaded} entries{kept}, {len(report.errors)} lines skipped")
        return 1 if report.errors and not report.loaded else 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lavr", description="LLM-Assisted Visual Reasoning")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    from .agents.options import add_agent_options
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer a question about an image")
    ask.add_argument("image", help="image file, or sample:NAME for a photo shipped in a package (sample:bus)")
    ask.add_argument("question")
    add_agent_options(ask)
    ask.add_argument("--json", action="store_true", help="print the whole Answer with its trace as JSON")
    ask.add_argument("--pretty", action="store_true", help="indent the JSON")
    ask.add_argument("--rationale", action="store_true", help="also print the answer's rationale (to stderr)")
    ask.add_argument("--no-cache", action="store_true", help="do not read or write the expert cache")
    ask.add_argument("--trace-html", metavar="FILE", help="write the visual trace as one HTML page")
    ask.set_defaults(func=cmd_ask)

    tools = sub.add_parser("tools", help="list the experts and whether they are available here")
    tools.add_argument("--json", action="store_true")
    tools.set_defaults(func=cmd_tools)

    models = sub.add_parser("models", help="the TF.js perception models: install them (npm) or list their state")
    models.add_argument("action", choices=["install", "list"])
    models.add_argument("--json", action="store_true", help="for list: JSON")
    models.set_defaults(func=cmd_models)

    cache = sub.add_parser("cache", help="the per-image expert cache: stats, clear, or seed precomputed outputs")
    cache.add_argument("action", choices=["stats", "clear", "seed"])
    cache.add_argument("file", nargs="?", type=Path, help="for seed: a JSONL file of precomputed expert outputs")
    cache.add_argument("--json", action="store_true")
    cache.set_defaults(func=cmd_cache)

    from .eval.cli import add_eval_commands

    add_eval_commands(sub)
    from .chat.cli import add_chat_commands

    add_chat_commands(sub)
    return parser


def entry() -> None:
    """The console script (``lavr``, ``python run.py``, ``python -m lavr``): ``main``, then exit.

    After ``ask`` the process leaves with ``os._exit`` once its output is flushed: the interpreter's teardown
    (freeing the LLM, torch and their threads) took 1.6 s of a 10 s cold ``lavr ask`` here and does nothing a
    finished question needs (the expert cache commits every write; its WAL journal survives any exit).
    """
    code = main()
    if _last_command in LEAVE_FAST:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


_last_command: str | None = None


# Where a lavr command runs torch, its OpenMP threads spin only briefly between operations, then sleep: on the 2
# cores lavr targets, threads spinning for long took the cores from the Python thread that feeds them the next
# operation and from the LLM loading beside them (a cold `lavr ask` took 17.6 s with libgomp's default policy, 9.7 s
# with PASSIVE, at load average 4; bench/cold_ask.py). Not spinning at all (PASSIVE alone) made each token the LLM
# writes ~30% slower (llama.cpp shares the process's libgomp): a short spin keeps both (GOMP_SPINCOUNT overrides
# the passive policy's zero). Read by libgomp when it loads; where the user chose either, lavr sets neither.
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}


def set_openmp_defaults() -> None:
    if not any(name in os.environ for name in OPENMP_DEFAULTS):
        os.environ.update(OPENMP_DEFAULTS)


def main(argv: list[str] | None = None) -> int:
    global _last_command
    set_openmp_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    _last_command = args.command
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    try:
        return args.func(args)
    except LavrError as exc:
        print(for_terminal(f"lavr: error: {_one_line(str(exc))}"), file=sys.stderr)
        return 2
    except ValidationError as exc:  # a pydantic model refused a value that no typed check caught first
        first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or exc.title
        print(for_terminal(f"lavr: error: invalid {where}: {first.get('msg', exc)}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lavr: interrupted (an eval results file stays valid: run the same command again to resume)",
              file=sys.stderr)
        return 130


class TerminalFormatter(logging.Formatter):
    """Log lines with control characters shown visibly (a logged error may quote an LLM reply or a file)."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
