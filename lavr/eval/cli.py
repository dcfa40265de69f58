"""``lavr eval`` and ``lavr compare``: ``add_eval_commands(subparsers)`` adds them to the main CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..terminal import for_terminal

__all__ = ["add_eval_commands", "cmd_compare", "cmd_eval", "cmd_report"]


def add_eval_commands(subparsers: Any) -> None:
    """Add the ``eval``, ``report`` and ``compare`` sub-commands; each sets ``func`` to a handler returning an exit
    code.

    Args:
        subparsers: The object ``ArgumentParser.add_subparsers()`` returned.
    """
    from ..agents.options import add_agent_options
    from .metrics import METRICS

    ev = subparsers.add_parser("eval", help="evaluate on a dataset (JSONL/CSV) and write results as JSONL",
                               description="Ask every question of DATA, score the answers and write one JSON line "
                               "per question. The last line printed is 'accuracy: X.XXX (N questions)'.")
    ev.add_argument("data", type=Path, metavar="DATA", help="dataset file (.jsonl or .csv)")
    ev.add_argument("--out", type=Path, default=Path("results.jsonl"), help="results file (default results.jsonl)")
    add_agent_options(ev, seed_default=0, seed_help="random/numpy/torch and the LLM's sampling seed (default 0)")
    ev.add_argument("--metric", choices=list(METRICS), default="vqa", help="scoring (default vqa)")
    ev.add_argument("--concurrency", type=int, default=1, metavar="N", help="image groups at once (default 1)")
    ev.add_argument("--executor", choices=["local", "ray"], default="local", help="threads here, or Ray actors")
    ev.add_argument("--no-resume", action="store_true", help="start the results file afresh")
    ev.add_argument("--retry-errors", action="store_true", help="run rows recorded with an error again")
    ev.add_argument("--limit", type=int, metavar="N", help="only the first N rows of DATA")
    ev.add_argument("--report", type=Path, metavar="FILE", help="also write the report as JSON")
    ev.add_argument("--html", type=Path, metavar="FILE",
                    help="also write the report as one self-contained HTML page (plots, failure gallery)")
    ev.add_argument("--no-cache", action="store_true", help="do not read or write the expert cache")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)

    cmp = subparsers.add_parser("compare", help="compare two results files")
    cmp.add_argument("a", type=Path, metavar="A", help="results file A (the baseline)")
    cmp.add_argument("b", type=Path, metavar="B", help="results file B")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.add_argument("--html", type=Path, metavar="FILE",
                     help="also write the comparison as one self-contained HTML page (flipped rows with traces)")
    cmp.add_argument("--images", type=Path, action="append", default=[], metavar="DIR",
                     help="a folder relative image paths start from (repeatable)")
    cmp.set_defaults(func=cmd_compare)

    rep = subparsers.add_parser("report", help="the report of an existing results file (text, JSON or HTML)",
                                description="Print the report of RESULTS (what lavr eval prints); --html also "
                                "writes it as one self-contained HTML page.")
    rep.add_argument("results", type=Path, metavar="RESULTS", help="results file (JSONL, from lavr eval)")
    rep.add_argument("--html", type=Path, metavar="FILE", help="write the HTML page (plots, failure gallery)")
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    rep.add_argument("--images", type=Path, action="append", default=[], metavar="DIR",
                     help="a folder relative image paths start from (repeatable; default: the recorded path, "
                     "the results file's folder, the working folder)")
    rep.set_defaults(func=cmd_report)


def _absolute(spec: str, prefix: str) -> str:
    """``prefix`` + an absolute path, so that workers with another working folder find the file."""
    return prefix + str(Path(spec[len(prefix):]).expanduser().resolve())


def _spec(args: argparse.Namespace) -> Any:
    from ..backends import SCRIPTED_PREFIX
    from .spec import AgentSpec

    overrides: dict[str, Any] = {"llm_seed": args.seed}
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    llm, mode = args.llm or "", args.mode
    if llm.startswith(SCRIPTED_PREFIX):
        llm = _absolute(llm, SCRIPTED_PREFIX)
    elif llm and Path(llm).expanduser().is_file():
        llm = _absolute(llm, "")
    if mode.startswith("pipeline:"):
        mode = _absolute(mode, "pipeline:")
    return AgentSpec(llm=llm, settings=overrides, mode=mode, cache=not args.no_cache)


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``eval``; prints the report, ``errors: K`` and, last, the summary line.

    Returns:
        0, or 1 when no row could be scored but some failed.
    """
    from ..errors import InputError
    from ..outputs import refuse_overwrite
    from ..settings import settings_with_options
    from .dataset import load_dataset
    from .report import format_report, is_report_file, write_report_json
    from .runner import run_eval

    if args.concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must not be negative")
    if args.report:  # before the run, not after it: the report must not replace the dataset or the results
        refuse_overwrite(args.report, option="--report", inputs=[("the dataset file", args.data),
                                                                 ("the results file (--out)", args.out)],
                         written_by_lavr=is_report_file, kind="a lavr report")
    # Bad LAVR_* variables or --max-steps: one line now, before the dataset is read or any agent is built.
    settings = settings_with_options({"max_steps": ("--max-steps", args.max_steps), "llm": ("--llm", args.llm)},
                                     llm_seed=args.seed)
    if args.html:  # before the run: a long run must not end in a refusal
        from .html_report import check_html_path

        check_html_path(args.html, [("the dataset", args.data), ("the results file (--out)", args.out),
                                    ("the --report file", args.report)])
    dataset = load_dataset(args.data, allowed_roots=settings.allowed_roots, limit=args.limit)
    summary = run_eval(dataset, agent_factory=_spec(args), out=args.out, metric=args.metric,
                       concurrency=args.concurrency, resume=not args.no_resume, retry_errors=args.retry_errors,
                       seed=args.seed, executor=args.executor, progress=not args.no_progress)
    if args.report:
        write_report_json(summary.report, args.report)
    if args.html:
        from .html_report import write_report_page

        write_report_page(summary.out, args.html, ids=[r.id for r in dataset.rows], image_folders=[dataset.root],
                          allowed_roots=settings.allowed_roots)
    print(for_terminal(f"{summary.ran} row(s) run, {summary.skipped} already in {summary.out}, "
                       f"{summary.seconds:.1f} s"))
    print(for_terminal(format_report(summary.report)))
    if summary.report.scored == 0 and summary.report.errors:
        print(for_terminal(f"lavr: every row failed; {why_all_failed(summary.report)}"), file=sys.stderr)
        return 1
    return 0


def why_all_failed(report: Any) -> str:
    """The most common error of a run in one line, with a hint for the usual causes."""
    if not report.error_reasons:
        return "see the error reasons above"
    top = max(report.error_reasons, key=lambda e: e.count)
    hint = ""
    if top.kind == "dataset:image_outside_roots":
        hint = " (LAVR_ALLOWED_ROOTS confines every image read: add the images' folder to it, or unset it)"
    elif top.kind == "dataset:missing_image":
        hint = " (relative image paths start at the dataset file's folder)"
    return f"most common error ({top.count} of {report.errors} rows, {top.kind}): {top.example}{hint}"


def cmd_compare(args: argparse.Namespace) -> int:
    """Run ``compare``: text, or JSON with ``--json``."""
    from ..errors import InputError
    from .compare import compare_files, format_comparison

    for path in (args.a, args.b):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such results file")
    if args.html:
        from ..settings import Settings
        from .html_report import check_html_path, write_compare_page

        check_html_path(args.html, [("results file A", args.a), ("results file B", args.b)])
        result = write_compare_page(args.a, args.b, args.html, image_folders=args.images,
                                    allowed_roots=Settings().allowed_roots)
    else:
        result = compare_files(args.a, args.b)
    print(for_terminal(json.dumps(result.model_dump(mode="json"), indent=2), json=True) if args.json else
          for_terminal(format_comparison(result)))
    if args.html:
        print(for_terminal(f"wrote {args.html}"), file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``report``: the text report of a results file (or JSON with ``--json``), and the page with ``--html``."""
    from ..errors import InputError
    from ..settings import Settings
    from .report import format_report, report_from_file

    if not Path(args.results).is_file():
        raise InputError(f"{args.results}: no such results file")
    if args.html:
        from .html_report import check_html_path, write_report_page

        check_html_path(args.html, [("the results file", args.results)])
        report = write_report_page(args.results, args.html, image_folders=args.images,
                                   allowed_roots=Settings().allowed_roots)
    else:
        report = report_from_file(args.results)
    print(for_terminal(json.dumps(report.model_dump(mode="json"), indent=2), json=True) if args.json else
          for_terminal(format_report(report)))
    if args.html:
        print(for_terminal(f"wrote {args.html}"), file=sys.stderr)
    return 0
