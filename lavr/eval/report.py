"""Summaries of a results file: accuracy, per-type accuracy, latency, tokens, tool usage and error reasons.

The summary line is always ``accuracy: X.XXX (N questions)``, where N counts the scored rows (errors are not
scored; they are counted on a separate ``errors: K`` line). Accuracy is the mean score in [0, 1].
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field

from .metrics import latency_percentiles
from .results import read_results

__all__ = ["ErrorReason", "EvalReport", "TypeAccuracy", "build_report", "format_report", "report_from_file",
           "is_report_file", "summary_line", "write_report_json"]

UNTYPED = "(none)"


class TypeAccuracy(BaseModel):
    """Accuracy over the scored rows of one question type."""

    accuracy: float
    n: int


class ErrorReason(BaseModel):
    """Failed rows of one kind: how many, an example message, and their ids."""

    kind: str
    count: int
    example: str
    ids: list[str]


class EvalReport(BaseModel):
    """Everything the text report shows, as data (``--report report.json``)."""

    metrics: list[str] = Field(default_factory=list, description="Metric names found in the records.")
    rows: int = 0
    scored: int = 0
    errors: int = 0
    accuracy: float | None = None
    by_type: dict[str, TypeAccuracy] = Field(default_factory=dict)
    latency: dict[str, float] = Field(default_factory=dict, description="Seconds per answered question.")
    tokens: dict[str, float] = Field(default_factory=dict, description="Means per answered question.")
    tool_usage: dict[str, int] = Field(default_factory=dict, description="Tool calls by name.")
    finished: dict[str, int] = Field(default_factory=dict)
    retries: dict[str, float] = Field(default_factory=dict, description="Malformed LLM replies fed back.")
    error_reasons: list[ErrorReason] = Field(default_factory=list)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def build_report(records: Iterable[dict[str, Any]]) -> EvalReport:
    """Summarise result records (see ``lavr.eval.results`` for their keys).

    Args:
        records: Result records, one per row (use ``read_results`` to dedupe a file).

    Returns:
        The report; latency and token means cover the rows that were answered (no error).
    """
    rows = list(records)
    scored = [r for r in rows if r.get("error") is None and isinstance(r.get("score"), (int, float))]
    answered = [r for r in rows if r.get("error") is None]
    failed = [r for r in rows if r.get("error") is not None]
    report = EvalReport(rows=len(rows), scored=len(scored), errors=len(failed),
                        metrics=sorted({str(r["metric"]) for r in rows if r.get("metric")}))
    if scored:
        report.accuracy = _mean([float(r["score"]) for r in scored])
    if any(r.get("question_type") for r in scored):
        groups: dict[str, list[float]] = {}
        for r in scored:
            groups.setdefault(r.get("question_type") or UNTYPED, []).append(float(r["score"]))
        report.by_type = {k: TypeAccuracy(accuracy=_mean(v), n=len(v)) for k, v in sorted(groups.items())}
    seconds = [float(r["seconds"]) for r in answered if isinstance(r.get("seconds"), (int, float))]
    if seconds:
        report.latency = {k: round(v, 4) for k, v in latency_percentiles(seconds).items()}
    if answered:
        usage = [r.get("usage") or {} for r in answered]
        report.tokens = {
            "mean_prompt": round(_mean([float(u.get("prompt_tokens", 0)) for u in usage]), 1),
            "mean_completion": round(_mean([float(u.get("completion_tokens", 0)) for u in usage]), 1),
            "mean_llm_calls": round(_mean([float(u.get("llm_calls", 0)) for u in usage]), 2),
        }
    report.tool_usage = dict(Counter(t for r in answered for t in (r.get("tools") or [])).most_common())
    report.finished = dict(Counter(str(r["finished"]) for r in answered if r.get("finished")).most_common())
    if answered:
        retries = [int(r.get("retries") or 0) for r in answered]
        report.retries = {"total": float(sum(retries)), "questions_with_retry": float(sum(1 for n in retries if n)),
                          "share_with_retry": round(sum(1 for n in retries if n) / len(retries), 3)}
    reasons: dict[str, list[dict[str, Any]]] = {}
    for r in failed:
        reasons.setdefault(str(r.get("error_kind") or "error"), []).append(r)
    report.error_reasons = sorted(
        (ErrorReason(kind=k, count=len(v), example=str(v[0]["error"]), ids=[str(x["id"]) for x in v])
         for k, v in reasons.items()), key=lambda e: (-e.count, e.kind))
    return report


def summary_line(report: EvalReport) -> str:
    """``accuracy: X.XXX (N questions)`` (0.000 when nothing was scored)."""
    return f"accuracy: {report.accuracy or 0.0:.3f} ({report.scored} questions)"


def format_report(report: EvalReport) -> str:
    """The report as text; its last two lines are ``errors: K`` and the summary line."""
    lines = [f"rows: {report.rows} (scored {report.scored}, errors {report.errors})"
             + (f"; metric: {', '.join(report.metrics)}" if report.metrics else "")]
    if report.by_type:
        lines.append("accuracy by question type:")
        width = max(len(k) for k in report.by_type)
        lines += [f"  {k:<{width}}  {v.accuracy:.3f} ({v.n})" for k, v in report.by_type.items()]
    if report.latency:
        lines.append("latency (s): " + "  ".join(f"{k} {v:.2f}" for k, v in report.latency.items()))
    if report.tokens:
        t = report.tokens
        lines.append(f"tokens per question: prompt {t['mean_prompt']:.1f}, completion {t['mean_completion']:.1f}, "
                     f"LLM calls {t['mean_llm_calls']:.2f}")
    if report.tool_usage:
        lines.append("tool calls: " + ", ".join(f"{k}={v}" for k, v in report.tool_usage.items()))
    if report.finished:
        lines.append("finished: " + ", ".join(f"{k}={v}" for k, v in report.finished.items()))
    if report.retries:
        r = report.retries
        lines.append(f"retries (malformed LLM replies): {int(r['total'])} in {int(r['questions_with_retry'])} "
                     f"questions ({r['share_with_retry']:.0%})")
    if report.error_reasons:
        lines.append("error reasons:")
        for e in report.error_reasons:
            shown = ", ".join(e.ids[:5]) + (f", +{len(e.ids) - 5} more" if len(e.ids) > 5 else "")
            lines.append(f"  {e.kind}: {e.count} ({shown}), e.g. {e.example}")
    lines += [f"errors: {report.errors}", summary_line(report)]
    return "\n".join(lines)


def report_from_file(path: Path | str, *, ids: Iterable[str] | None = None) -> EvalReport:
    """The report of a results file, optionally restricted to ``ids``."""
    records = read_results(path)
    if ids is not None:
        wanted = set(ids)
        records = [r for r in records if r["id"] in wanted]
    return build_report(records)


def is_report_file(path: Path | str) -> bool:
    """Whether ``path`` holds a report ``write_report_json`` wrote (a JSON object with the report's counts)."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (ValueError, RecursionError, OSError):
        return False
    return isinstance(data, dict) and {"rows", "scored", "errors", "accuracy"} <= data.keys()


def write_report_json(report: EvalReport, path: Path | str) -> None:
    """Write the report as indented JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
