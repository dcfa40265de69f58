#!/usr/bin/env python
"""Planning modes side by side on the synthetic shapes set: accuracy by question family and seconds per question.

Every mode answers the same rows with the same LLM in this one process (the embedded model is loaded once and
shared), so the numbers compare. Rows carry oracle detections as precomputed outputs: only the LLM stage
differs. ``naive`` is the PICa-style baseline (every expert output pasted into one prompt, one call); any mode
``make_agent`` knows (``query``, ``react``, ``naive``, ...) can be listed.

    python bench/shapes_bench.py --modes naive,react,query [--llm local] [--limit 5 | --per-family 4]
        [--families count_attr,exist | --expressible-only]
        [--data examples/eval/shapes.jsonl] [--out-dir bench-results] [--json summary.json]

The set is generated (seed 0) when ``--data`` does not exist. Results files (``<out-dir>/shapes-<mode>.jsonl``)
are the ``lavr eval`` format, so ``lavr compare`` reads them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from lavr.errors import LavrError
from lavr.eval import run_eval
from lavr.eval.dataset import EvalDataset, load_dataset
from lavr.eval.results import read_results
from lavr.eval.spec import AgentSpec
from lavr.eval.synthetic import write_dataset

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "examples" / "eval" / "shapes.jsonl"


def select_rows(dataset: EvalDataset, *, limit: int | None, per_family: int | None,
                families: set[str] | None = None) -> EvalDataset:
    """The rows of ``families`` (all when None), the first ``per_family`` rows of each family, then the first
    ``limit`` rows of those."""
    rows = [r for r in dataset.valid if families is None or (r.question_type or "-") in families]
    if per_family is not None:
        seen: dict[str, int] = defaultdict(int)
        kept = []
        for row in rows:
            family = row.question_type or "-"
            if seen[family] < per_family:
                seen[family] += 1
                kept.append(row)
        rows = kept
    if limit is not None:
        rows = rows[:limit]
    return dataset.model_copy(update={"rows": rows})


def run_mode(mode: str, dataset: EvalDataset, *, llm: str, out_dir: Path, seed: int) -> list[dict]:
    """Answer every row with ``mode``; returns the result records."""
    out = out_dir / f"shapes-{mode.replace(':', '_').replace('/', '_')}.jsonl"
    spec = AgentSpec(llm=llm, mode=mode, cache=False)
    run_eval(dataset, agent_factory=spec, out=out, metric="exact_match", resume=False, seed=seed, progress=True)
    return read_results(out)


def summarise(records: list[dict]) -> dict:
    """Accuracy overall and by family, seconds and prompt tokens per question."""
    by_family: dict[str, list[float]] = defaultdict(list)
    for r in records:
        by_family[r.get("question_type") or "-"].append(float(r["score"]) if r.get("score") is not None else 0.0)
    seconds = [float(r["seconds"]) for r in records]
    usage = [r.get("usage") or {} for r in records]
    prompt = [u.get("prompt_tokens", 0) for u in usage]
    reused = [u.get("cached_prompt_tokens", 0) for u in usage]
    return {
        "n": len(records),
        "accuracy": sum(sum(v) for v in by_family.values()) / max(1, len(records)),
        "by_family": {f: sum(v) / len(v) for f, v in sorted(by_family.items())},
        "family_n": {f: len(v) for f, v in sorted(by_family.items())},
        "errors": sum(1 for r in records if r.get("error")),
        "seconds_mean": statistics.fmean(seconds) if seconds else 0.0,
        "seconds_median": statistics.median(seconds) if seconds else 0.0,
        "prompt_tokens_mean": statistics.fmean(prompt) if prompt else 0.0,
        "new_prompt_tokens_mean": statistics.fmean(p - c for p, c in zip(prompt, reused)) if prompt else 0.0,
        "llm_calls_mean": statistics.fmean(u.get("llm_calls", 0) for u in usage) if usage else 0.0,
    }


def table(summaries: dict[str, dict]) -> str:
    """One column per mode: accuracy by family, then totals, seconds and tokens per question."""
    modes = list(summaries)
    families = sorted({f for s in summaries.values() for f in s["by_family"]})
    width = max([len("new prompt tokens/q")] + [len(f) + 6 for f in families])
    head = f"{'family (n)':<{width}}" + "".join(f"{m:>12}" for m in modes)
    lines = [head, "-" * len(head)]
    for f in families:
        n = max(s["family_n"].get(f, 0) for s in summaries.values())
        cells = "".join(f"{summaries[m]['by_family'][f]:>12.3f}" if f in summaries[m]["by_family"] else f"{'-':>12}"
                        for m in modes)
        lines.append(f"{f + f' ({n})':<{width}}" + cells)
    lines.append("-" * len(head))
    for label, key, fmt in (("accuracy", "accuracy", ".3f"), ("errors", "errors", "d"),
                            ("seconds/q mean", "seconds_mean", ".2f"), ("seconds/q median", "seconds_median", ".2f"),
                            ("LLM calls/q", "llm_calls_mean", ".2f"), ("prompt tokens/q", "prompt_tokens_mean", ".0f"),
                            ("new prompt tokens/q", "new_prompt_tokens_mean", ".0f")):
        lines.append(f"{label:<{width}}" + "".join(f"{summaries[m][key]:>12{fmt}}" for m in modes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="naive,react", help="comma-separated: naive, react, query, ...")
    parser.add_argument("--llm", default="local", help="local (default), openai:MODEL, a .gguf, scripted:FILE")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, help="only the first N rows (after --per-family)")
    parser.add_argument("--per-family", type=int, help="only the first K rows of each question family")
    parser.add_argument("--out-dir", type=Path, default=Path("bench-results"))
    parser.add_argument("--json", type=Path, help="also write the summaries here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", help="comma-separated question families (default: all)")
    parser.add_argument("--expressible-only", action="store_true",
                        help="only the families the query language can express (no fallback rows)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        if not args.data.exists():
            write_dataset(args.data, seed=args.seed)
        families = set(args.families.split(",")) if args.families else None
        if args.expressible_only:
            from lavr.eval.synthetic_questions import EXPRESSIBLE
            families = set(EXPRESSIBLE)
        dataset = select_rows(load_dataset(args.data), limit=args.limit, per_family=args.per_family,
                              families=families)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        summaries = {mode: summarise(run_mode(mode, dataset, llm=args.llm, out_dir=args.out_dir, seed=args.seed))
                     for mode in modes}
    except LavrError as exc:
        print(f"lavr: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(dataset.rows)} questions from {args.data} ({args.llm})")
    print(table(summaries))
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
