"""The evaluation report and the comparison of two runs as single self-contained HTML pages.

``render_report_html`` draws one results file: accuracy per question type with the confidently-wrong share,
latency, LLM calls and new prompt tokens per question, the most frequent wrong answers, a gallery of the wrong
rows (image with the boxes the answer rests on, question, answers, program, folded trace; filterable by type),
tool usage and error reasons. ``render_compare_html`` draws two runs side by side: per-type accuracy, the rows
that flipped with both traces, and latency and token deltas.

Every number on a page comes from the same model as the text (``EvalReport``, ``Comparison``) and is formatted
by the same functions (``fmt_score``, ``fmt_cost``, ``fmt_delta``); each such number carries ``data-n`` naming
what it is, so a test can hold the page against the text. Nothing is fetched when the page is viewed: plots are
inline SVG (matplotlib), images inline JPEG data URLs (downscaled, each image once), style and the few lines of
script (the gallery's filter) inline, and the page's content security policy forbids anything else. Every text
from a results file (questions, answers, programs, tool outputs) is escaped: shown, never interpreted.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..trace import AnswerStep, Step, ToolStep, clip
from ..trace_html import box_shapes
from . import plots
from .compare import Comparison, compare_results
from .report import (
    UNTYPED,
    EvalReport,
    build_report,
    expected_answer,
    fmt_cost,
    fmt_delta,
    fmt_score,
    is_abstention,
    is_confidently_wrong,
    is_right,
    is_scored,
    is_wrong,
    new_prompt_tokens,
    summary_line,
)
from .results import read_results
from .row_view import Figure, ImageEmbedder, evidence_boxes, program_of, trace_of

__all__ = ["check_html_path", "render_compare_html", "render_report_html", "write_compare_page", "write_html",
           "write_report_page"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
MAX_GALLERY = 1000  # cards on one page; more rows than this are counted, not drawn
MAX_STEP_TEXT = 1500  # characters of a tool's text output shown in a folded trace
SHOWN_IDS = 8
CARD_WIDTH = 360  # about how wide a gallery card draws its image, in CSS pixels

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0 auto;
  max-width: 1280px; padding: 1em 1.5em 3em; }
h1 { font-size: 1.5em; margin: .2em 0; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1em; margin: .4em 0; } .muted { color: #666; } code, pre { font: 12px/1.35 ui-monospace, monospace; }
.summary { font-size: 1.25em; font-weight: 600; }
table { border-collapse: collapse; margin: .6em 0; } th, td { border-bottom: 1px solid #e3e3e3; padding: .25em .7em;
  text-align: left; vertical-align: top; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; } .plot { max-width: 100%; height: auto; }

.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 1em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em .8em; background: #fff; min-width: 0; }
.card.confident { border-top: 4px solid #e6194b; } .card.abstained { border-top: 4px solid #aaa; }
.shot { display: block; width: 100%; height: auto; background-size: 100% 100%; background-color: #eee; }
.noimg { background: #f3f3f3; color: #777; padding: 2em .5em; text-align: center; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1em .8em; margin: .4em 0; } dt { color: #666; }
dd { margin: 0; overflow-wrap: anywhere; }
.given { color: #b00020; font-weight: 600; } .expected { color: #176b2c; font-weight: 600; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: .4em; margin: .3em 0; }
pre.error { background: #fde8e8; } .words { font-style: italic; }
details { margin-top: .4em; } summary { cursor: pointer; color: #4363d8; }
.step { border-left: 3px solid #ccc; padding-left: .6em; margin: .5em 0; } .step.answer { border-color: #3cb44b; }
.step.retry, .step.refusal { border-color: #f58231; } .step h4 { margin: .2em 0; font-size: .9em; }
.filters { position: sticky; top: 0; background: #fff; padding: .5em 0; z-index: 1; border-bottom: 1px solid #eee; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; } .pair .shot { max-width: 360px; }
.flip { margin-bottom: 1.2em; }
.delta-neg { color: #b00020; } .delta-pos { color: #176b2c; }
"""

FILTER_SCRIPT = """
(function () {
  var type = document.getElementById('type-filter'), only = document.getElementById('confident-only');
  if (!type) return;
  function apply() {
    var shown = 0, cards = document.querySelectorAll('#gallery .card');
    for (var i = 0; i < cards.length; i++) {
      var c = cards[i];
      var ok = (type.value === '' || c.dataset.type === type.value) && (!only.checked || c.dataset.confident === '1');
      c.hidden = !ok; if (ok) shown++;
    }
    document.getElementById('shown').textContent = shown;
  }
  type.addEventListener('change', apply); only.addEventListener('change', apply); apply();
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _n(key: str, text: str, tag: str = "span", cls: str = "") -> str:
    """A number the text report shows too, tagged with what it is."""
    klass = f' class="{cls}"' if cls else ""
    return f'<{tag}{klass} data-n="{_e(key)}">{_e(text)}</{tag}>'


def _page(title: str, body: str, css: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_e(title)}</title>
<style>{STYLE}
{css}</style></head><body>
{body}
<script>{FILTER_SCRIPT}</script>
</body></html>
"""


# One row -----------------------------------------------------------------------------------------------------

def _figure_html(figure: Figure | None, steps: list[Step], record: dict[str, Any]) -> str:
    if figure is None:
        return f'<div class="noimg">image not found: {_e(record.get("image") or "(none)")}</div>'
    boxes, evidence = evidence_boxes(steps)
    scale = figure.width / CARD_WIDTH  # image pixels per screen pixel: labels read at about 11 px on the card
    shapes = box_shapes(figure.width, figure.height, boxes, font_size=max(1, round(11 * scale)),
                        stroke=round(2 * scale, 1), dashed=not evidence)
    what = ("the objects the answer rests on" if evidence else
            "every object the tools found (the answer names none)" if boxes else "no objects found")
    return (f'<svg class="shot {figure.css_class}" viewBox="0 0 {figure.width} {figure.height}" role="img" '
            f'aria-label="{_e(record.get("image") or "")}" data-boxes="{len(boxes)}" '
            f'data-evidence="{int(evidence)}">{shapes}</svg><div class="muted">boxes: {what}</div>')


def _step_html(step: Step) -> str:
    if isinstance(step, ToolStep) and step.result:
        step = step.model_copy(update={"result": clip(step.result, MAX_STEP_TEXT)})
    head = f"#{step.index} {_e(step.title)} · {step.seconds:.2f} s"
    if isinstance(step, ToolStep) and step.cached:
        head += " · cached"
    return f'<div class="step {step.kind}"><h4>{head}</h4>{step.html_body()}</div>'


def _trace_html(steps: list[Step]) -> str:
    if not steps:
        return '<p class="muted">no trace recorded</p>'
    return (f'<details class="trace"><summary>trace · {len(steps)} steps</summary>'
            + "".join(_step_html(s) for s in steps) + "</details>")


def _answer_html(record: dict[str, Any]) -> str:
    """What the run answered and what it cost: the given answer, score, mode, seconds, calls."""
    usage = record.get("usage") or {}
    given = record.get("prediction")
    if record.get("error") is not None:
        given_html = f'<span class="given">error</span> <code>{_e(record.get("error_kind") or "")}</code>'
    else:
        given_html = f'<span class="given">{_e(given if given is not None else "")}</span>'
    parts = [f"<dt>given</dt><dd>{given_html}</dd>",
             f"<dt>score</dt><dd>{_e(fmt_score(record['score']) if is_scored(record) else 'n/a')}</dd>",
             f"<dt>cost</dt><dd>{_e(fmt_cost(record.get('seconds') or 0.0))} s · {int(usage.get('llm_calls', 0))} "
             f"LLM calls · {new_prompt_tokens(usage)} new prompt tokens</dd>"]
    if record.get("mode"):
        parts.append(f"<dt>mode</dt><dd>{_e(record['mode'])}</dd>")
    return "".join(parts)


def _reasoning_html(record: dict[str, Any], steps: list[Step]) -> str:
    """The program (and its words) when one was written, the final rationale, the folded trace."""
    parts = []
    program = program_of(record)
    if program is not None:
        parts.append(f'<pre class="program">{_e(program.text)}</pre>')
        if program.words:
            parts.append(f'<p class="words">{_e(program.words)}</p>')
    final = next((s for s in reversed(steps) if isinstance(s, AnswerStep) and s.final), None)
    if final is not None and final.rationale:
        parts.append(f'<p class="rationale"><span class="muted">rationale:</span> {_e(final.rationale)}</p>')
    parts.append(_trace_html(steps))
    return "".join(parts)


def _card(record: dict[str, Any], images: ImageEmbedder) -> str:
    steps = trace_of(record)
    qtype = record.get("question_type") or UNTYPED
    confident = is_confidently_wrong(record)
    klass = "card confident" if confident else "card abstained"
    return (f'<article class="{klass}" id="row-{_e(record["id"])}" data-type="{_e(qtype)}" '
            f'data-confident="{int(confident)}">'
            f"{_figure_html(images.figure(record), steps, record)}"
            f'<h3 class="q">{_e(record.get("question") or "")}</h3>'
            f'<dl><dt>id</dt><dd><code>{_e(record["id"])}</code></dd><dt>type</dt><dd>{_e(qtype)}</dd>'
            f'<dt>expected</dt><dd class="expected">{_e(expected_answer(record))}</dd>{_answer_html(record)}</dl>'
            f"{_reasoning_html(record, steps)}</article>")


# The report page ---------------------------------------------------------------------------------------------

def _by_type_section(report: EvalReport) -> str:
    if not report.scored:
        return '<h2 id="by-type">Accuracy by question type</h2><p class="muted">nothing scored</p>'
    rows, names, acc, wrong, counts = [], [], [], [], []
    for qtype, t in report.by_type.items():
        names.append(qtype)
        acc.append(t.accuracy)
        wrong.append(t.confidently_wrong_share)
        counts.append(t.n)
        rows.append(f"<tr><td>{_e(qtype)}</td>{_n(f'by_type.{qtype}.n', str(t.n), 'td', 'num')}"
                    f"{_n(f'by_type.{qtype}.accuracy', fmt_score(t.accuracy), 'td', 'num')}"
                    f"{_n(f'by_type.{qtype}.confidently_wrong', fmt_score(t.confidently_wrong_share), 'td', 'num')}"
                    f"<td class=num>{t.wrong - t.confidently_wrong}</td></tr>")
    if not report.by_type:  # no question types: one bar for the whole run
        names, acc, counts = ["(all)"], [report.accuracy or 0.0], [report.scored]
        wrong = [report.confidently_wrong / report.scored]
    svg = plots.accuracy_by_type_svg(names, acc, wrong, counts)
    table = ("<table><tr><th>type</th><th class=num>n</th><th class=num>accuracy</th>"
             "<th class=num>confidently wrong</th><th class=num>wrong, cannot tell</th></tr>"
             + "".join(rows) + "</table>") if rows else ""
    return (f'<h2 id="by-type">Accuracy by question type</h2><p class="muted">Confidently wrong: a wrong answer '
            f'that is not "cannot tell", as a share of the type\'s scored questions.</p>'
            f'<div class="row">{svg}{table}</div>')


def _cost_section(report: EvalReport, answered: list[dict[str, Any]]) -> str:
    if not answered:
        return ""
    seconds = [float(r.get("seconds") or 0.0) for r in answered]
    calls = [int((r.get("usage") or {}).get("llm_calls", 0)) for r in answered]
    new_tokens = [new_prompt_tokens(r.get("usage")) for r in answered]
    svgs = [plots.histogram_svg(seconds, title="latency per question", xlabel="seconds", salt="latency",
                                markers=report.latency),
            plots.histogram_svg(calls, title="LLM calls per question", xlabel="calls", salt="llm-calls",
                                integer=True),
            plots.histogram_svg(new_tokens, title="new prompt tokens per question", xlabel="tokens",
                                salt="new-tokens")]
    cells = [f"<tr><td>latency {k} (s)</td>{_n(f'latency.{k}', fmt_cost(v), 'td', 'num')}</tr>"
             for k, v in report.latency.items()]
    names = {"mean_llm_calls": "LLM calls", "mean_prompt": "prompt tokens", "mean_new_prompt": "new prompt tokens",
             "mean_completion": "completion tokens"}
    cells += [f"<tr><td>{names.get(k, k)} per question</td>{_n(f'tokens.{k}', fmt_cost(v), 'td', 'num')}</tr>"
              for k, v in report.tokens.items()]
    if report.retries:
        cells.append(f"<tr><td>malformed LLM replies fed back</td>"
                     f"{_n('retries.total', str(int(report.retries['total'])), 'td', 'num')}</tr>")
    return (f'<h2 id="cost">Latency and cost per answered question</h2><div class="row plots3">{"".join(svgs)}</div>'
            f'<table>{"".join(cells)}</table>')


def _confusion_section(report: EvalReport) -> str:
    if not report.confusions:
        return ""
    rows = []
    for qtype, found in report.confusions.items():
        for i, c in enumerate(found):
            ids = ", ".join(c.ids[:SHOWN_IDS]) + (f", +{len(c.ids) - SHOWN_IDS}" if len(c.ids) > SHOWN_IDS else "")
            rows.append(f"<tr><td>{_e(qtype) if i == 0 else ''}</td><td class=expected>{_e(c.expected)}</td>"
                        f"<td class=given>{_e(c.given)}</td>"
                        f"{_n(f'confusion.{qtype}.{c.expected}.{c.given}', str(c.count), 'td', 'num')}"
                        f"<td class=muted>{_e(ids)}</td></tr>")
    return ('<h2 id="confusions">Most frequent wrong answers</h2><table><tr><th>type</th><th>expected</th>'
            '<th>given (normalised)</th><th class=num>count</th><th>rows</th></tr>' + "".join(rows) + "</table>")


def _gallery_section(records: list[dict[str, Any]], images: ImageEmbedder) -> str:
    wrong = sorted((r for r in records if is_wrong(r)),
                   key=lambda r: (str(r.get("question_type") or UNTYPED), str(r["id"])))
    if not wrong:
        return '<h2 id="failures">Failure gallery</h2><p class="muted">no wrong answers</p>'
    counts: dict[str, int] = {}
    for r in wrong:
        counts[str(r.get("question_type") or UNTYPED)] = counts.get(str(r.get("question_type") or UNTYPED), 0) + 1
    options = "".join(f'<option value="{_e(t)}">{_e(t)} ({n})</option>' for t, n in sorted(counts.items()))
    shown = wrong[:MAX_GALLERY]
    more = (f'<p class="muted">{len(wrong) - len(shown)} more wrong rows not drawn (the first {MAX_GALLERY} '
            "are)</p>") if len(wrong) > len(shown) else ""
    confident = sum(1 for r in wrong if is_confidently_wrong(r))
    return (f'<h2 id="failures">Failure gallery</h2>'
            f'<div class="filters"><label>type <select id="type-filter"><option value="">all types '
            f'({len(wrong)})</option>{options}</select></label> <label><input type="checkbox" id="confident-only"> '
            f'only confidently wrong ({confident})</label> · <span id="shown">{len(shown)}</span> shown</div>'
            f'<div class="gallery" id="gallery">{"".join(_card(r, images) for r in shown)}</div>{more}')


def _tools_section(report: EvalReport) -> str:
    parts = ['<h2 id="tools">Tool usage and error reasons</h2><div class="row">']
    if report.tool_usage:
        parts.append(plots.tool_usage_svg(report.tool_usage))
        parts.append("<table><tr><th>tool</th><th class=num>calls</th></tr>" + "".join(
            f"<tr><td>{_e(k)}</td>{_n(f'tool_usage.{k}', str(v), 'td', 'num')}</tr>"
            for k, v in report.tool_usage.items()) + "</table>")
    if report.finished:
        parts.append("<table><tr><th>finished</th><th class=num>questions</th></tr>" + "".join(
            f"<tr><td>{_e(k)}</td>{_n(f'finished.{k}', str(v), 'td', 'num')}</tr>"
            for k, v in report.finished.items()) + "</table>")
    parts.append("</div>")
    if report.error_reasons:
        parts.append("<table><tr><th>error</th><th class=num>rows</th><th>example</th><th>ids</th></tr>" + "".join(
            f"<tr><td><code>{_e(e.kind)}</code></td>{_n(f'errors.{e.kind}', str(e.count), 'td', 'num')}"
            f"<td>{_e(clip(e.example, 300))}</td><td class=muted>{_e(', '.join(e.ids[:SHOWN_IDS]))}"
            f"{_e(f', +{len(e.ids) - SHOWN_IDS}') if len(e.ids) > SHOWN_IDS else ''}</td></tr>"
            for e in report.error_reasons) + "</table>")
    else:
        parts.append('<p class="muted">no errors</p>')
    return "".join(parts)


def render_report_html(records: Sequence[dict[str, Any]], report: EvalReport, *, images: ImageEmbedder,
                       source: str = "") -> str:
    """The evaluation page of one run.

    Args:
        records: The run's result records (``read_results``), the ones ``report`` was built from.
        report: ``build_report(records)``: every number shown comes from it.
        images: Finds and embeds the rows' images.
        source: The results file's name, shown in the heading.
    """
    records = list(records)
    answered = [r for r in records if r.get("error") is None]
    head = (f'<h1>lavr evaluation: {_e(source)}</h1>{_n("summary", summary_line(report), "p", "summary")}'
            f'<p>{_n("rows", str(report.rows))} rows: {_n("scored", str(report.scored))} scored, '
            f'{_n("errors", str(report.errors))} errors; {_n("wrong", str(report.wrong))} wrong, of which '
            f'{_n("confidently_wrong", str(report.confidently_wrong))} confidently (not "cannot tell")'
            f'{"; metric " + _e(", ".join(report.metrics)) if report.metrics else ""}</p>'
            '<p class="muted"><a href="#by-type">by type</a> · <a href="#cost">latency and cost</a> · '
            '<a href="#confusions">wrong answers</a> · <a href="#failures">failure gallery</a> · '
            '<a href="#tools">tools and errors</a></p>')
    body = "".join([head, _by_type_section(report), _cost_section(report, answered), _confusion_section(report),
                    _gallery_section(records, images), _tools_section(report)])
    return _page(f"lavr evaluation: {source}", body, images.css())


# The comparison page -----------------------------------------------------------------------------------------

def _delta_class(value: float | None) -> str:
    return "" if not value else "delta-pos" if value > 0 else "delta-neg"


def _side(record: dict[str, Any] | None, images: ImageEmbedder, label: str) -> str:
    if record is None:
        return f"<div><h3>{_e(label)}</h3><p class=muted>not in this run</p></div>"
    steps = trace_of(record)
    verdict = "right" if is_right(record) else "error" if not is_scored(record) else \
        "wrong, cannot tell" if is_abstention(record.get("prediction")) else "wrong"
    return (f"<div><h3>{_e(label)}: {verdict}</h3>{_figure_html(images.figure(record), steps, record)}"
            f"<dl>{_answer_html(record)}</dl>{_reasoning_html(record, steps)}</div>")


def _flips(title: str, key: str, ids: list[str], by_a: dict[str, dict[str, Any]], by_b: dict[str, dict[str, Any]],
           images: ImageEmbedder) -> str:
    parts = [f'<h2 id="{key}">{_e(title)} ({_n(key, str(len(ids)))})</h2>']
    if not ids:
        parts.append('<p class="muted">none</p>')
    for i in ids[:MAX_GALLERY]:
        a, b = by_a.get(i), by_b.get(i)
        some = a or b or {"id": i}
        parts.append(f'<article class="flip card" id="flip-{_e(i)}" '
                     f'data-type="{_e(some.get("question_type") or UNTYPED)}">'
                     f'<h3 class="q">{_e(some.get("question") or "")}</h3><dl><dt>id</dt><dd><code>{_e(i)}</code></dd>'
                     f'<dt>type</dt><dd>{_e(some.get("question_type") or UNTYPED)}</dd><dt>expected</dt>'
                     f'<dd class="expected">{_e(expected_answer(some))}</dd></dl>'
                     f'<div class="pair">{_side(a, images, "A")}{_side(b, images, "B")}</div></article>')
    return "".join(parts)


def render_compare_html(records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]], cmp: Comparison,
                        *, images: ImageEmbedder) -> str:
    """The page comparing run A (the baseline) with run B.

    Args:
        records_a: A's result records.
        records_b: B's result records.
        cmp: ``compare_results(records_a, records_b)``: every number shown comes from it.
        images: Finds and embeds the rows' images.
    """
    runs = "<br>".join(
        f"{x}: <code>{_e(name)}</code>: "
        + _n(f"{x.lower()}.summary", f"accuracy: {fmt_score(accuracy)} ({scored} questions)")
        for x, name, accuracy, scored in (("A", cmp.a, cmp.accuracy_a, cmp.scored_a),
                                          ("B", cmp.b, cmp.accuracy_b, cmp.scored_b)))
    head = (f"<h1>lavr comparison</h1><p>{runs}</p>"
            f'<p class="summary">on {_n("common_scored", str(cmp.common_scored))} questions scored in both: '
            f"A {_n('common_a', fmt_score(cmp.common_accuracy_a))}, "
            f"B {_n('common_b', fmt_score(cmp.common_accuracy_b))}, "
            f"delta {_n('delta', fmt_delta(cmp.delta), cls=_delta_class(cmp.delta))}</p>"
            f"<p>{_n('changed', str(len(cmp.changed)))} questions scored differently; "
            f"{len(cmp.only_in_a)} only in A, {len(cmp.only_in_b)} only in B</p>"
            '<p class="muted"><a href="#by-type">by type</a> · <a href="#costs">latency and tokens</a> · '
            '<a href="#to_wrong">right → wrong</a> · <a href="#to_right">wrong → right</a></p>')
    parts = [head]
    if cmp.by_type:
        names = list(cmp.by_type)
        svg = plots.side_by_side_svg(names, [t.accuracy_a for t in cmp.by_type.values()],
                                     [t.accuracy_b for t in cmp.by_type.values()], label_a="A", label_b="B")
        rows = "".join(
            f"<tr><td>{_e(k)}</td>{_n(f'by_type.{k}.a', fmt_score(t.accuracy_a), 'td', 'num')}"
            f"<td class=num>{t.n_a}</td>"
            f"{_n(f'by_type.{k}.b', fmt_score(t.accuracy_b), 'td', 'num')}<td class=num>{t.n_b}</td>"
            f"{_n(f'by_type.{k}.delta', fmt_delta(t.delta), 'td', 'num ' + _delta_class(t.delta))}</tr>"
            for k, t in cmp.by_type.items())
        parts.append(f'<h2 id="by-type">Accuracy by question type</h2><div class="row">{svg}<table><tr><th>type</th>'
                     f"<th class=num>A</th><th class=num>n</th><th class=num>B</th><th class=num>n</th>"
                     f"<th class=num>B − A</th></tr>{rows}</table></div>")
    if cmp.costs:
        rows = "".join(
            f"<tr><td>{_e(c.name)}</td>{_n(f'cost.{c.name}.a', fmt_cost(c.a), 'td', 'num')}"
            f"{_n(f'cost.{c.name}.b', fmt_cost(c.b), 'td', 'num')}"
            f"{_n(f'cost.{c.name}.delta', fmt_delta(c.delta, digits=2), 'td', 'num')}</tr>" for c in cmp.costs)
        parts.append(f'<h2 id="costs">Latency and tokens per answered question</h2><table><tr><th></th>'
                     f"<th class=num>A</th><th class=num>B</th><th class=num>B − A</th></tr>{rows}</table>")
    by_a, by_b = {r["id"]: r for r in records_a}, {r["id"]: r for r in records_b}
    parts.append(_flips("Right in A, wrong in B", "to_wrong", cmp.to_wrong, by_a, by_b, images))
    parts.append(_flips("Wrong in A, right in B", "to_right", cmp.to_right, by_a, by_b, images))
    return _page(f"lavr comparison: {cmp.a} vs {cmp.b}", "".join(parts), images.css())


# Writing ---------------------------------------------------------------------------------------------------

def _same_file(a: Path, b: Path) -> bool:
    if a.expanduser().resolve() == b.expanduser().resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links and bind mounts: the same inode under another name
    except OSError:
        return False


def check_html_path(out: Path, inputs: Iterable[tuple[str, Path | None]], *, option: str = "--html") -> None:
    """Refuse an HTML output path that is a folder or one of the command's input (or other output) files.

    Args:
        out: The page's path.
        inputs: (what it is, path) of every file the command reads or writes besides the page.
        option: The option as typed, for the message.

    Raises:
        InputError: One line saying which file the page would have replaced.
    """
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{option} {out}: is a folder; give a file name, e.g. {out / 'report.html'}")
    for what, path in inputs:
        if path is not None and _same_file(out, Path(path)):
            raise InputError(f"{option} {out}: is {what} ({path}); the page would replace it: give another file")


def write_html(text: str, path: Path | str) -> Path:
    """Write the page whole or not at all (a temporary file in the same folder, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path



def write_report_page(results: Path, out: Path, *, ids: Iterable[str] | None = None,
                      image_folders: Sequence[Path] = (), allowed_roots: Sequence[Path] = ()) -> EvalReport:
    """Read a results file, render its page and write it to ``out``.

    Args:
        results: The results file.
        out: The page.
        ids: Only these rows (``lavr eval``: the dataset's), as its text report.
        image_folders: Where relative image paths may start, before the results file's folder and the working
            folder.
        allowed_roots: ``LAVR_ALLOWED_ROOTS``.

    Returns:
        The report the page shows.
    """
    records = read_results(results)
    if ids is not None:
        wanted = set(ids)
        records = [r for r in records if r["id"] in wanted]
    report = build_report(records)
    images = _embedder(image_folders, [Path(results)], allowed_roots)
    write_html(render_report_html(records, report, images=images, source=Path(results).name), out)
    return report


def write_compare_page(a: Path, b: Path, out: Path, *, image_folders: Sequence[Path] = (),
                       allowed_roots: Sequence[Path] = ()) -> Comparison:
    """Compare two results files, render the page and write it to ``out``; returns the comparison shown."""
    records_a, records_b = read_results(a), read_results(b)
    cmp = compare_results(records_a, records_b, name_a=str(a), name_b=str(b))
    images = _embedder(image_folders, [Path(a), Path(b)], allowed_roots)
    write_html(render_compare_html(records_a, records_b, cmp, images=images), out)
    return cmp


def _embedder(folders: Sequence[Path], results: list[Path], allowed_roots: Sequence[Path]) -> ImageEmbedder:
    search = [*folders, *(p.expanduser().resolve().parent for p in results), Path.cwd()]
    return ImageEmbedder(search=list(dict.fromkeys(search)), allowed_roots=list(allowed_roots))
