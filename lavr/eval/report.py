"""Summaries of a results file: accuracy, per-type accuracy, latency, tokens, tool usage and error reasons.

The summary line is always ``accuracy: X.XXX (N questions)``, where N counts the scored rows (errors are not
scored; they are counted on a separate ``errors: K`` line). Accuracy is the mean score in [0, 1].

``EvalReport`` is the one summary both renderings show: the text here (``format_report``) and the HTML page
(``lavr.eval.html_report``) take every number from it. Which rows are right, wrong and confidently wrong is
decided here too (``is_right``, ``is_wrong``, ``is_confidently_wrong``), once for the report, the page and
``lavr compare``:

- a scored row is *right* with full credit (score 1) and *wrong* below it (VQA soft accuracy gives partial
  credit; exact match and multiple choice give 0 or 1);
- a wrong row is *confidently wrong* unless its answer is an abstention (``is_abstention``: "cannot tell", what
  the planners answer when the tools do not settle a question, a few synonyms, or nothing at all).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..planners import CANNOT_TELL
from .metrics import latency_percentiles, normalize_answer
from .results import read_results

__all__ = ["ABSTENTIONS", "Confusion", "ErrorReason", "EvalReport", "TypeAccuracy", "build_report", "expected_answer",
           "fmt_cost", "fmt_delta", "fmt_score", "format_report", "is_abstention", "is_confidently_wrong",
           "is_report_file", "is_right", "is_scored", "is_wrong", "new_prompt_tokens", "report_from_file",
           "summary_line", "write_report_json"]

UNTYPED = "(none)"
# Answers that say the question could not be settled (normalised as the VQA evaluator does): a wrong abstention
# is an honest miss, not a confident error. CANNOT_TELL is what every planner answers then.
ABSTENTIONS = frozenset(normalize_answer(a) for a in (
    CANNOT_TELL, "can't tell", "cannot be determined", "unknown", "i don't know", "not sure", "unanswerable"))
CONFUSIONS_PER_TYPE = 5  # the most frequent (expected, given) pairs kept per question type


def is_scored(record: dict[str, Any]) -> bool:
    """The row ran without an error and has a score."""
    return record.get("error") is None and isinstance(record.get("score"), (int, float))


def is_right(record: dict[str, Any]) -> bool:
    """Scored with full credit."""
    return is_scored(record) and float(record["score"]) >= 1.0


def is_wrong(record: dict[str, Any]) -> bool:
    """Scored below full credit (an error row is neither right nor wrong: it was not scored)."""
    return is_scored(record) and float(record["score"]) < 1.0


def is_abstention(prediction: Any) -> bool:
    """The answer says it cannot tell (see ``ABSTENTIONS``), or is empty."""
    return prediction is None or not str(prediction).strip() or normalize_answer(str(prediction)) in ABSTENTIONS


def is_confidently_wrong(record: dict[str, Any]) -> bool:
    """Wrong, and the answer is not an abstention."""
    return is_wrong(record) and not is_abstention(record.get("prediction"))


def expected_answer(record: dict[str, Any]) -> str:
    """The answer a row expects, for display: the correct choice's text in multiple choice, else the most
    frequent of the acceptable answers (the first among equals)."""
    answers = record.get("answers")
    choices = record.get("choices") or []
    if record.get("metric") == "multiple_choice" and choices:
        correct = answers[0] if isinstance(answers, list) and answers else answers
        if isinstance(correct, int) and 0 <= correct < len(choices):
            return str(choices[correct])
        return str(correct)
    if isinstance(answers, list) and answers:
        return Counter(str(a) for a in answers).most_common(1)[0][0]
    return "" if answers is None else str(answers)


def fmt_score(value: float | None) -> str:
    """An accuracy or a share as every rendering shows it: three decimals, ``n/a`` for none."""
    return "n/a" if value is None else f"{value:.3f}"


def fmt_cost(value: float | None) -> str:
    """Seconds, tokens or calls per question as every rendering shows them: two decimals, ``n/a`` for none."""
    return "n/a" if value is None else f"{value:.2f}"


def fmt_delta(value: float | None, *, digits: int = 3) -> str:
    """A difference, signed: ``+0.120`` (``digits`` decimals), ``n/a`` for none."""
    return "n/a" if value is None else f"{value:+.{digits}f}"


def new_prompt_tokens(usage: dict[str, Any] | None) -> int:
    """Prompt tokens the LLM newly evaluated (not reused from its KV state; older records count them all)."""
    usage = usage or {}
    return int(usage.get("prompt_tokens", 0) or 0) - int(usage.get("cached_prompt_tokens", 0) or 0)


class TypeAccuracy(BaseModel):
    """Accuracy over the scored rows of one question type, and how its wrong rows split."""

    accuracy: float
    n: int
    wrong: int = Field(0, description="Rows scored below full credit.")
    confidently_wrong: int = Field(0, description="Wrong rows whose answer is not an abstention.")

    @property
    def confidently_wrong_share(self) -> float:
        """Confidently wrong rows over the type's scored rows."""
        return self.confidently_wrong / self.n if self.n else 0.0


class Confusion(BaseModel):
    """One frequent mistake: the expected answer, the (normalised) answer given instead, how often, which rows."""

    expected: str
    given: str
    count: int
    ids: list[str]


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
    wrong: int = Field(0, description="Scored rows below full credit.")
    confidently_wrong: int = Field(0, description="Wrong rows whose answer is not an abstention.")
    by_type: dict[str, TypeAccuracy] = Field(default_factory=dict)
    confusions: dict[str, list[Confusion]] = Field(
        default_factory=dict, description="Per question type, the most frequent wrong answers.")
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
        report.wrong = sum(1 for r in scored if is_wrong(r))
        report.confidently_wrong = sum(1 for r in scored if is_confidently_wrong(r))
    if any(r.get("question_type") for r in scored):
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in scored:
            groups.setdefault(r.get("question_type") or UNTYPED, []).append(r)
        report.by_type = {k: TypeAccuracy(accuracy=_mean([float(r["score"]) for r in v]), n=len(v),
                                          wrong=sum(1 for r in v if is_wrong(r)),
                                          confidently_wrong=sum(1 for r in v if is_confidently_wrong(r)))
                          for k, v in sorted(groups.items())}
    report.confusions = _confusions(scored)
    seconds = [float(r["seconds"]) for r in answered if isinstance(r.get("seconds"), (int, float))]
    if seconds:
        report.latency = {k: round(v, 4) for k, v in latency_percentiles(seconds).items()}
    if answered:
        usage = [r.get("usage") or {} for r in answered]
        report.tokens = {
            "mean_prompt": round(_mean([float(u.get("prompt_tokens", 0)) for u in usage]), 1),
            "mean_completion": round(_mean([float(u.get("completion_tokens", 0)) for u in usage]), 1),
            "mean_llm_calls": round(_mean([float(u.get("llm_calls", 0)) for u in usage]), 2),
            "mean_new_prompt": round(_mean([float(new_prompt_tokens(u)) for u in usage]), 1),
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


def _confusions(scored: list[dict[str, Any]]) -> dict[str, list[Confusion]]:
    """Per question type, the ``CONFUSIONS_PER_TYPE`` most frequent (expected, given) pairs of the wrong rows."""
    pairs: dict[str, dict[tuple[str, str], list[str]]] = {}
    for r in scored:
        if is_wrong(r):
            given = normalize_answer(str(r.get("prediction") or "")) or "(empty)"
            pairs.setdefault(r.get("question_type") or UNTYPED, {}).setdefault(
                (expected_answer(r), given), []).append(str(r["id"]))
    return {qtype: [Confusion(expected=e, given=g, count=len(ids), ids=ids) for (e, g), ids in
                    sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:CONFUSIONS_PER_TYPE]]
            for qtype, found in sorted(pairs.items())}


def summary_line(report: EvalReport) -> str:
    """``accuracy: X.XXX (N questions)`` (0.000 when nothing was scored)."""
    return f"accuracy: {report.accuracy or 0.0:.3f} ({report.scored} questions)"


def format_report(report: EvalReport) -> str:
    """The report as text; its last two lines are ``errors: K`` and the summary line."""
    lines = [f"rows: {report.rows} (scored {report.scored}, errors {report.errors})"
             + (f"; metric: {', '.join(report.metrics)}" if report.metrics else "")]
    if report.scored:
        lines.append(f"wrong: {report.wrong}, confidently wrong (not \"{CANNOT_TELL}\"): {report.confidently_wrong}")
    if report.by_type:
        lines.append("accuracy by question type (confidently wrong share):")
        width = max(len(k) for k in report.by_type)
        lines += [f"  {k:<{width}}  {fmt_score(v.accuracy)} ({v.n})  {fmt_score(v.confidently_wrong_share)}"
                  for k, v in report.by_type.items()]
    if report.confusions:
        lines.append("most frequent wrong answers (expected -> given, count):")
        for qtype, found in report.confusions.items():
            lines.append(f"  {qtype}: " + "; ".join(f"{c.expected!r} -> {c.given!r} x{c.count}" for c in found))
    if report.latency:
        lines.append("latency (s): " + "  ".join(f"{k} {fmt_cost(v)}" for k, v in report.latency.items()))
    if report.tokens:
        t = report.tokens
        lines.append(f"tokens per question: prompt {fmt_cost(t['mean_prompt'])} "
                     f"(new {fmt_cost(t['mean_new_prompt'])}), "
                     f"completion {fmt_cost(t['mean_completion'])}, LLM calls {fmt_cost(t['mean_llm_calls'])}")
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
