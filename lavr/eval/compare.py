"""Compare two results files: the accuracy of each, the delta, and the questions whose score changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .results import read_results

__all__ = ["Changed", "Comparison", "compare_files", "compare_results", "format_comparison"]


class Changed(BaseModel):
    """One question scored differently by A and B (``None`` score: the row failed)."""

    id: str
    question: str
    prediction_a: str | None
    prediction_b: str | None
    score_a: float | None
    score_b: float | None
    delta: float = Field(description="score_b - score_a, a failed row counting as 0.")


class Comparison(BaseModel):
    """A vs B. ``delta`` compares the questions scored in both files (``common_scored``)."""

    a: str
    b: str
    accuracy_a: float | None = Field(description="Over every scored row of A.")
    accuracy_b: float | None = Field(description="Over every scored row of B.")
    scored_a: int
    scored_b: int
    common_scored: int
    common_accuracy_a: float | None
    common_accuracy_b: float | None
    delta: float | None = Field(description="common_accuracy_b - common_accuracy_a.")
    changed: list[Changed] = Field(description="Sorted by delta: worst regressions first, then id.")
    only_in_a: list[str]
    only_in_b: list[str]


def _score(record: dict[str, Any]) -> float | None:
    value = record.get("score")
    return float(value) if record.get("error") is None and isinstance(value, (int, float)) else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compare_results(a: list[dict[str, Any]], b: list[dict[str, Any]], *, name_a: str = "A",
                    name_b: str = "B") -> Comparison:
    """Compare two lists of result records (see ``lavr.eval.results``) by id.

    Args:
        a: Records of the first run.
        b: Records of the second run.
        name_a: Label of A (a file name).
        name_b: Label of B.

    Returns:
        The comparison.
    """
    by_a, by_b = {r["id"]: r for r in a}, {r["id"]: r for r in b}
    scores_a = [s for s in map(_score, a) if s is not None]
    scores_b = [s for s in map(_score, b) if s is not None]
    common = [i for i in by_a if i in by_b]
    both = [i for i in common if _score(by_a[i]) is not None and _score(by_b[i]) is not None]
    changed = []
    for i in common:
        ra, rb = by_a[i], by_b[i]
        sa, sb = _score(ra), _score(rb)
        if sa == sb and (sa is not None or ra.get("error") == rb.get("error")):
            continue
        changed.append(Changed(id=i, question=str(ra.get("question") or rb.get("question") or ""),
                               prediction_a=ra.get("prediction"), prediction_b=rb.get("prediction"),
                               score_a=sa, score_b=sb, delta=(sb or 0.0) - (sa or 0.0)))
    changed.sort(key=lambda c: (c.delta, c.id))
    acc_a = _mean([_score(by_a[i]) or 0.0 for i in both])
    acc_b = _mean([_score(by_b[i]) or 0.0 for i in both])
    return Comparison(
        a=name_a, b=name_b, accuracy_a=_mean(scores_a), accuracy_b=_mean(scores_b), scored_a=len(scores_a),
        scored_b=len(scores_b), common_scored=len(both), common_accuracy_a=acc_a, common_accuracy_b=acc_b,
        delta=None if acc_a is None or acc_b is None else acc_b - acc_a, changed=changed,
        only_in_a=[i for i in by_a if i not in by_b], only_in_b=[i for i in by_b if i not in by_a],
    )


def compare_files(a: Path | str, b: Path | str) -> Comparison:
    """Compare two results files (torn lines skipped, the last record of an id wins)."""
    return compare_results(read_results(a), read_results(b), name_a=str(a), name_b=str(b))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pred(value: str | None, score: float | None) -> str:
    return "error" if score is None and value is None else repr(value)


def format_comparison(cmp: Comparison) -> str:
    """The comparison as text: accuracies, delta, changed questions, and ids found in one file only."""
    lines = [f"A: {cmp.a}: accuracy {_fmt(cmp.accuracy_a)} ({cmp.scored_a} questions)",
             f"B: {cmp.b}: accuracy {_fmt(cmp.accuracy_b)} ({cmp.scored_b} questions)"]
    delta = "n/a" if cmp.delta is None else f"{cmp.delta:+.3f}"
    lines.append(f"on {cmp.common_scored} questions scored in both: A {_fmt(cmp.common_accuracy_a)}, "
                 f"B {_fmt(cmp.common_accuracy_b)}, delta {delta}")
    if cmp.changed:
        lines.append(f"changed ({len(cmp.changed)}):")
        for c in cmp.changed:
            lines.append(f"  {c.delta:+.3f}  {c.id}: {c.question}")
            lines.append(f"          A {_pred(c.prediction_a, c.score_a)} ({_fmt(c.score_a)})  "
                         f"B {_pred(c.prediction_b, c.score_b)} ({_fmt(c.score_b)})")
    else:
        lines.append("changed: none")
    for label, ids in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b)):
        if ids:
            lines.append(f"{label} ({len(ids)}): {', '.join(ids)}")
    return "\n".join(lines)
