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


def box_shapes(width: int, height: int, boxes: list[tuple[str, list[float]]], *, font_size: int = 16,
               stroke: float = 3, dashed: bool = False) -> str:
    """SVG rectangles and labels for normalised boxes on a ``width`` x ``height`` picture (no ``<svg>`` around:
    the caller places them over its image)."""
    shapes = []
    dash = f' stroke-dasharray="{stroke * 2:g} {stroke * 1.5:g}"' if dashed else ""
    for i, (label, (x1, y1, x2, y2)) in enumerate(boxes):
        colour = PALETTE[i % len(PALETTE)]
        shapes.append(
            f'<rect x="{x1 * width:.1f}" y="{y1 * height:.1f}" width="{(x2 - x1) * width:.1f}" '
            f'height="{(y2 - y1) * height:.1f}" fill="none" stroke="{colour}" stroke-width="{stroke:g}"{dash}/>'
            f'<text x="{x1 * width + stroke:.1f}" y="{y1 * height + font_size:.1f}" fill="{colour}" '
            f'font-size="{font_size}" font-family="sans-serif" paint-order="stroke" stroke="white" '
            f'stroke-width="{stroke:g}">{html.escape(label)}</text>'
        )
    return "".join(shapes)


def _svg(width: int, height: int, boxes: list[tuple[str, list[float]]]) -> str:
    return (f'<svg class="overlay" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
            + box_shapes(width, height, boxes) + "</svg>")


def jpeg_data_url(pil: Any, side: int = 900) -> tuple[str, int, int]:
    """A JPEG ``data:`` URL of ``pil`` shrunk to fit ``side`` pixels, and its width and height."""
    pil = pil.convert("RGB") if pil.mode != "RGB" else pil.copy()
    pil.thumbnail((side, side))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), pil.size[0], pil.size[1]


_data_url = jpeg_data_url


def figure_html(src: str, width: int, height: int, boxes: list[tuple[str, list[float]]], *, image_id: str = "",
                alt: str = "") -> str:
    """An image (by URL) with its boxes drawn over it: the ``.fig`` block of the trace pages."""
    esc = html.escape
    return (f'<div class="fig" data-image="{esc(image_id)}"><img src="{src}" width="{width}" height="{height}" '
            f'alt="{esc(alt or image_id)}">{_svg(width, height, boxes)}</div>')


STYLE = """
.fig { position: relative; display: inline-block; } .fig img { display: block; max-width: 100%; height: auto; }
.overlay { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
section { border-left: 4px solid #ccc; padding: 0 1em; margin: 1.5em 0; }
section.answer { border-color: #3cb44b; } section.retry { border-color: #f58231; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5em; } pre.error { background: #fde8e8; }
.thought { font-style: italic; }
"""


def render_trace_body(answer: Answer, image: ImageInput, *, images: dict[str, Any] | None = None,
                      input_figure: bool = True) -> str:
    """The trace as an HTML fragment (no page around it): the answer, then each step with its boxes drawn on
    the image the step worked on (``images`` maps other ids, e.g. a chat thread's ``img_1``, to images)."""
    pil, _ = load_image(image)
    main = _data_url(pil)
    figures: dict[str, tuple[str, int, int]] = {answer.image: main}
    esc = html.escape
    sections = []
    for step in answer.steps:
        boxes = step_boxes(step)
        figure = ""
        if boxes:
            target = str((getattr(step, "args", None) or {}).get("image") or answer.image)
            if target not in figures and images and target in images:
                figures[target] = _data_url(images[target])
            src, w, h = figures.get(target, main)
            figure = figure_html(src, w, h, boxes, image_id=target)
        head = f"#{step.index} {esc(step.title)} · {step.seconds:.2f}s"
        head += " · cached" if isinstance(step, ToolStep) and step.cached else ""
        sections.append(f'<section class="{step.kind}"><h2>{head}</h2>{step.html_body()}{figure}</section>')
    usage = answer.usage
    src, w, h = main
    input_html = f'<div class="fig"><img src="{src}" width="{w}" height="{h}" alt="input image"></div>'
    return f"""<h1>{esc(answer.question)}</h1>
<p><b>Answer:</b> <span class="answer">{esc(answer.answer)}</span> <br><b>Rationale:</b> {esc(answer.rationale)}</p>
<p>{answer.finished} · {answer.seconds:.2f} s · {usage.llm_calls} LLM calls · {usage.prompt_tokens} prompt +
{usage.completion_tokens} completion tokens · {esc(answer.llm)}</p>
{input_html if input_figure else ""}
{"".join(sections)}"""


def render_trace_html(answer: Answer, image: ImageInput, *, images: dict[str, Any] | None = None) -> str:
    """One self-contained page: ``render_trace_body`` with a style sheet and a strict content security policy."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8">{PAGE_MARK}{html.escape(answer.question)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>
body {{ font-family: sans-serif; max-width: 960px; margin: 2em auto; color: #222; }}
{STYLE}</style></head><body>
{render_trace_body(answer, image, images=images)}
</body></html>
"""


PAGE_MARK = "<title>lavr trace: "


def is_trace_page(path: str | Path) -> bool:
    """Whether ``path`` holds a page ``write_trace_html`` wrote (replacing it loses nothing)."""
    with open(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    return head.startswith("<!doctype html>") and PAGE_MARK in head


def write_trace_html(answer: Answer, path: str | Path, *, image: ImageInput) -> Path:
    out = Path(path)
    out.write_text(render_trace_html(answer, image), encoding="utf-8")
    return out
