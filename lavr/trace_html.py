"""A visual rationale (VisProg style): one self-contained HTML page with the image, each step's boxes and text.

All text from the LLM, the tools and the image is escaped: it is shown, never interpreted.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from .images import ImageInput, load_image
from .trace import Answer, Step, ToolStep

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]


def step_boxes(step: Step) -> list[tuple[str, list[float]]]:
    """(label, normalised box) pairs found in a step's structured output."""
    found: list[tuple[str, list[float]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            box = node.get("box")
            if isinstance(box, dict) and {"x1", "y1", "x2", "y2"} <= set(box):
                label = " ".join(str(node[k]) for k in ("id", "label") if node.get(k)) or "region"
                found.append((label, [box["x1"], box["y1"], box["x2"], box["y2"]]))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(step.data or {} if isinstance(step, ToolStep) else {})
    seen: set[str] = set()
    unique = []
    for label, box in found:
        key = f"{label}{box}"
        if key not in seen:
            seen.add(key)
            unique.append((label, box))
    return unique


def _svg(width: int, height: int, boxes: list[tuple[str, list[float]]]) -> str:
    shapes = []
    for i, (label, (x1, y1, x2, y2)) in enumerate(boxes):
        colour = PALETTE[i % len(PALETTE)]
        shapes.append(
            f'<rect x="{x1 * width:.1f}" y="{y1 * height:.1f}" width="{(x2 - x1) * width:.1f}" '
            f'height="{(y2 - y1) * height:.1f}" fill="none" stroke="{colour}" stroke-width="3"/>'
            f'<text x="{x1 * width + 3:.1f}" y="{y1 * height + 16:.1f}" fill="{colour}" font-size="16" '
            f'font-family="sans-serif" paint-order="stroke" stroke="white" stroke-width="3">{html.escape(label)}</text>'
        )
    return (f'<svg class="overlay" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
            + "".join(shapes) + "</svg>")


def render_trace_html(answer: Answer, image: ImageInput) -> str:
    pil, _ = load_image(image)
    pil.thumbnail((900, 900))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=85)
    src = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    w, h = pil.size
    esc = html.escape
    sections = []
    for step in answer.steps:
        boxes = step_boxes(step)
        figure = (f'<div class="fig"><img src="{src}" width="{w}" height="{h}" alt="{esc(answer.image)}">'
                  f"{_svg(w, h, boxes)}</div>") if boxes else ""
        head = f"#{step.index} {esc(step.title)} · {step.seconds:.2f}s"
        head += " · cached" if isinstance(step, ToolStep) and step.cached else ""
        body = [step.html_body()]
        sections.append(f'<section class="{step.kind}"><h2>{head}</h2>{"".join(body)}{figure}</section>')
    usage = answer.usage
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lavr trace: {esc(answer.question)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>
body {{ font-family: sans-serif; max-width: 960px; margin: 2em auto; color: #222; }}
.fig {{ position: relative; display: inline-block; }} .fig img {{ display: block; max-width: 100%; height: auto; }}
.overlay {{ position: absolute; left: 0; top: 0; width: 100%; height: 100%; }}
section {{ border-left: 4px solid #ccc; padding: 0 1em; margin: 1.5em 0; }}
section.answer {{ border-color: #3cb44b; }} section.retry {{ border-color: #f58231; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .5em; }} pre.error {{ background: #fde8e8; }}
.thought {{ font-style: italic; }}
</style></head><body>
<h1>{esc(answer.question)}</h1>
<p><b>Answer:</b> {esc(answer.answer)} <br><b>Rationale:</b> {esc(answer.rationale)}</p>
<p>{answer.finished} · {answer.seconds:.2f} s · {usage.llm_calls} LLM calls · {usage.prompt_tokens} prompt +
{usage.completion_tokens} completion tokens · {esc(answer.llm)}</p>
<div class="fig"><img src="{src}" width="{w}" height="{h}" alt="input image"></div>
{"".join(sections)}
</body></html>
"""


def write_trace_html(answer: Answer, path: str | Path, *, image: ImageInput) -> Path:
    out = Path(path)
    out.write_text(render_trace_html(answer, image), encoding="utf-8")
    return out
