"""Compare two results files: the accuracy of each, the delta, the questions whose score changed, the ones that
flipped between right and wrong, accuracy per question type side by side, and latency and token deltas.

``Comparison`` is the one model the text (``format_comparison``) and the HTML page (``lavr.eval.html_report``)
both render; right and wrong mean what ``lavr.eval.report`` says (an error row is not right).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .report import EvalReport, build_report, fmt_cost, fmt_delta, fmt_score, is_right, is_scored
from .results import read_results

__all__ = ["Changed", "Comparison", "CostDelta", "TypeSideBySide", "compare_files", "compare_results",
           "format_comparison"]


class Changed(BaseModel):
    """One question scored differently by A and B (``None`` score: the row failed)."""

    id: str
    question: str
    prediction_a: str | None
    prediction_b: str | None
    score_a: float | None
    score_b: float | None
    delta: float = Field(description="score_b - score_a, a failed row counting as 0.")


class TypeSideBySide(BaseModel):
    """One question type's accuracy in A and in B (each over its own scored rows; ``None``: none scored)."""

    accuracy_a: float | None
    n_a: int
    accuracy_b: float | None
    n_b: int

    @property
    def delta(self) -> float | None:
        return None if self.accuracy_a is None or self.accuracy_b is None else self.accuracy_b - self.accuracy_a


class CostDelta(BaseModel):
    """A latency percentile or a per-question mean of A and B (from each run's report), and B - A."""

    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


# The costs compared: (name shown, the report's section, its key).
COSTS = [("latency p50 (s)", "latency", "p50"), ("latency p90 (s)", "latency", "p90"),
         ("latency p99 (s)", "latency", "p99"), ("LLM calls", "tokens", "mean_llm_calls"),
         ("prompt tokens", "tokens", "mean_prompt"), ("new prompt tokens", "tokens", "mean_new_prompt"),
         ("completion tokens", "tokens", "mean_completion")]


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
    to_wrong: list[str] = Field(default_factory=list, description="Right in A, not right in B (ids).")
    to_right: list[str] = Field(default_factory=list, description="Not right in A, right in B (ids).")
    by_type: dict[str, TypeSideBySide] = Field(default_factory=dict)
    costs: list[CostDelta] = Field(default_factory=list, description="Per-question means and latency, A vs B.")
    report_a: EvalReport = Field(default_factory=EvalReport)
    report_b: EvalReport = Field(default_factory=EvalReport)


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
    # A flip needs a verdict on both sides: an id scored in neither (an error in both) did not flip.
    decided = [i for i in common if is_scored(by_a[i]) or is_scored(by_b[i])]
    report_a, report_b = build_report(a), build_report(b)
    return Comparison(
        a=name_a, b=name_b, accuracy_a=_mean(scores_a), accuracy_b=_mean(scores_b), scored_a=len(scores_a),
        scored_b=len(scores_b), common_scored=len(both), common_accuracy_a=acc_a, common_accuracy_b=acc_b,
        delta=None if acc_a is None or acc_b is None else acc_b - acc_a, changed=changed,
        only_in_a=[i for i in by_a if i not in by_b], only_in_b=[i for i in by_b if i not in by_a],
        to_wrong=[i for i in decided if is_right(by_a[i]) and not is_right(by_b[i])],
        to_right=[i for i in decided if not is_right(by_a[i]) and is_right(by_b[i])],
        by_type=_by_type(report_a, report_b), costs=_costs(report_a, report_b), report_a=report_a, report_b=report_b,
    )


def _by_type(a: EvalReport, b: EvalReport) -> dict[str, TypeSideBySide]:
    out = {}
    for qtype in sorted(set(a.by_type) | set(b.by_type)):
        ta, tb = a.by_type.get(qtype), b.by_type.get(qtype)
        out[qtype] = TypeSideBySide(accuracy_a=ta.accuracy if ta else None, n_a=ta.n if ta else 0,
                                    accuracy_b=tb.accuracy if tb else None, n_b=tb.n if tb else 0)
    return out


def _costs(a: EvalReport, b: EvalReport) -> list[CostDelta]:
    return [CostDelta(name=name, a=getattr(a, section).get(key), b=getattr(b, section).get(key))
            for name, section, key in COSTS
            if key in getattr(a, section) or key in getattr(b, section)]


def compare_files(a: Path | str, b: Path | str) -> Comparison:
    """Compare two results files (torn lines skipped, the last record of an id wins)."""
    return compare_results(read_results(a), read_results(b), name_a=str(a), name_b=str(b))


def _pred(value: str | None, score: float | None) -> str:
    return "error" if score is None and value is None else repr(value)


def format_comparison(cmp: Comparison) -> str:
    """The comparison as text: accuracies, delta, changed questions, and ids found in one file only."""
    lines = [f"A: {cmp.a}: accuracy {fmt_score(cmp.accuracy_a)} ({cmp.scored_a} questions)",
             f"B: {cmp.b}: accuracy {fmt_score(cmp.accuracy_b)} ({cmp.scored_b} questions)"]
    delta = fmt_delta(cmp.delta)
    lines.append(f"on {cmp.common_scored} questions scored in both: A {fmt_score(cmp.common_accuracy_a)}, "
                 f"B {fmt_score(cmp.common_accuracy_b)}, delta {delta}")
    if cmp.changed:
        lines.append(f"changed ({len(cmp.changed)}):")
        for c in cmp.changed:
            lines.append(f"  {c.delta:+.3f}  {c.id}: {c.question}")
            lines.append(f"          A {_pred(c.prediction_a, c.score_a)} ({fmt_score(c.score_a)})  "
                         f"B {_pred(c.prediction_b, c.score_b)} ({fmt_score(c.score_b)})")
    else:
        lines.append("changed: none")
    lines.append(f"flipped: right -> wrong {len(cmp.to_wrong)}, wrong -> right {len(cmp.to_right)}")
    for label, ids in (("  right -> wrong", cmp.to_wrong), ("  wrong -> right", cmp.to_right)):
        if ids:
            lines.append(f"{label}: {', '.join(ids)}")
    if cmp.by_type:
        lines.append("accuracy by question type (A, B, delta):")
        width = max(len(k) for k in cmp.by_type)
        for qtype, t in cmp.by_type.items():
            delta = fmt_delta(t.delta)
            lines.append(f"  {qtype:<{width}}  {fmt_score(t.accuracy_a)} ({t.n_a})  "
                         f"{fmt_score(t.accuracy_b)} ({t.n_b})  {delta}")
    if cmp.costs:
        lines.append("per question (A, B, delta): " + "; ".join(
            f"{c.name} {fmt_cost(c.a)}, {fmt_cost(c.b)}, {fmt_delta(c.delta, digits=2)}" for c in cmp.costs))
    for label, ids in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b)):
        if ids:
            lines.append(f"{label} ({len(ids)}): {', '.join(ids)}")
    return "\n".join(lines)
