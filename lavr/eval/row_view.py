"""What the HTML report shows of one results row: its typed trace, its program, the boxes of the objects its
answer rests on, and its image downscaled into the page.

Every lookup into a record is tolerant (older files have no trace; a row that failed has no answer) and lives in
one small function, so that a new record field is adapted to in one place.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..images import decode_image
from ..trace import Step, ToolStep, evidence_of

logger = logging.getLogger(__name__)

__all__ = ["Figure", "ImageEmbedder", "ProgramView", "evidence_boxes", "object_boxes", "program_of", "trace_of"]

_STEP = TypeAdapter(Step)
Boxes = list[tuple[str, list[float]]]


def trace_of(record: dict[str, Any]) -> list[Step]:
    """The row's trace as typed steps: ``trace`` (what ``lavr eval`` writes), else an answer's ``steps``.

    A step that does not validate (a file from another version) is left out, not fatal.
    """
    raw = record.get("trace")
    if not isinstance(raw, list):
        answer = record.get("answer")
        raw = answer.get("steps") if isinstance(answer, dict) else None
    steps: list[Step] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            steps.append(_STEP.validate_python(item))
        except ValidationError:
            logger.debug("row %s: a trace step that does not validate was left out", record.get("id"))
    return steps


@dataclass(frozen=True)
class ProgramView:
    """A program as written (its text form) and, when the run recorded one, its rendering in words."""

    text: str
    words: str | None = None


_WORDS_KEYS = ("program_words", "words", "program_text_words")


def _program_text(program: Any) -> str:
    """The text form of a program: as is when it is text; a query-language step list in its compact form; any
    other structure as JSON."""
    if isinstance(program, str):
        return program
    return json.dumps(program, ensure_ascii=False)


def program_of(record: dict[str, Any]) -> ProgramView | None:
    """The program the row's planner wrote: the record's own ``program`` (and ``program_words``) when it has
    them, else the last planner turn of the trace that carries one; ``None`` when no program was written.

    The raw JSON is read, not the typed steps, so that a field a newer version adds (the words) is found even
    where this version's step model does not declare it.
    """
    given_answer, given_trace = record.get("answer"), record.get("trace")
    answer: dict[str, Any] = given_answer if isinstance(given_answer, dict) else {}
    trace: list[Any] = given_trace if isinstance(given_trace, list) else answer.get("steps") or []
    plans = [s for s in reversed(trace) if isinstance(s, dict) and s.get("kind") == "plan" and s.get("program")]
    # the query tool's output holds the program it ran and its reading in words
    queries = [s["data"] for s in reversed(trace) if isinstance(s, dict) and s.get("tool") == "query"
               and isinstance(s.get("data"), dict) and s["data"].get("program")]
    for holder in (record, answer, *queries, *plans):
        if holder.get("program"):
            words = next((str(holder[k]) for k in _WORDS_KEYS if holder.get(k)), None)
            return ProgramView(text=_program_text(holder["program"]), words=words)
    return None


def _as_box(value: Any) -> list[float] | None:
    if isinstance(value, dict) and {"x1", "y1", "x2", "y2"} <= set(value):
        value = [value["x1"], value["y1"], value["x2"], value["y2"]]
    if isinstance(value, (list, tuple)) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value]
    return None


def object_boxes(steps: list[Step]) -> dict[str, tuple[str, list[float]]]:
    """Object id -> (label, normalised box), from every tool output of the trace (detections, scene graph
    nodes, ...); the first output naming an id wins (later ones describe the same object)."""
    found: dict[str, tuple[str, list[float]]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            box = _as_box(node.get("box"))
            if box is not None and isinstance(node.get("id"), str):
                found.setdefault(node["id"], (str(node.get("label") or ""), box))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for step in steps:
        if isinstance(step, ToolStep) and step.data:
            visit(step.data)
    return found


def evidence_boxes(steps: list[Step]) -> tuple[Boxes, bool]:
    """The boxes to draw for a row, and whether they are the answer's evidence.

    Returns:
        ``(boxes, True)``: the labelled boxes of the objects the answer rests on; ``(boxes, False)``: it names
        none (a count of zero, a planner that records no evidence), so every object the tools found is drawn,
        to be shown dashed.
    """
    boxes = object_boxes(steps)
    ids = [i for i in evidence_of(steps) if i in boxes]
    if ids:
        return [(f"{i} {boxes[i][0]}".strip(), boxes[i][1]) for i in ids], True
    return [(f"{i} {label}".strip(), box) for i, (label, box) in boxes.items()], False


@dataclass(frozen=True)
class Figure:
    """An embedded image: the CSS class that carries its pixels, and its size after downscaling."""

    css_class: str
    width: int
    height: int


class ImageEmbedder:
    """Finds each row's image, downscales it once and keeps it as a JPEG data URL in one CSS class, so that the
    page holds every image once however many rows show it.

    Args:
        search: Folders a relative ``image`` path may start from, in order (the dataset's folder, the results
            file's, the working folder).
        allowed_roots: ``LAVR_ALLOWED_ROOTS``: with any, an image outside them is not read.
        max_side: Longest side in the page, in pixels.
        quality: JPEG quality.
    """

    def __init__(self, *, search: list[Path], allowed_roots: list[Path] | None = None, max_side: int = 320,
                 quality: int = 80):
        self.search = search
        self.allowed_roots = allowed_roots or []
        self.max_side = max_side
        self.quality = quality
        self._by_path: dict[str, Figure | None] = {}
        self._rules: list[str] = []

    def _candidates(self, record: dict[str, Any]) -> list[Path]:
        out = [Path(record["image_path"])] if record.get("image_path") else []
        image = record.get("image")
        if image:
            path = Path(str(image)).expanduser()
            out += [path] if path.is_absolute() else [folder / path for folder in self.search]
        return out

    def figure(self, record: dict[str, Any]) -> Figure | None:
        """The row's image embedded in the page, or ``None`` when it cannot be found or read."""
        for path in self._candidates(record):
            key = str(path)
            if key in self._by_path:
                if self._by_path[key] is not None:
                    return self._by_path[key]
                continue
            self._by_path[key] = self._embed(path) if path.is_file() else None
            if self._by_path[key] is not None:
                return self._by_path[key]
        return None

    def _embed(self, path: Path) -> Figure | None:
        try:
            pil, _ = decode_image(path, allowed_roots=self.allowed_roots)
        except Exception as exc:  # noqa: BLE001 - a bad image leaves its card without a picture, not the page
            logger.warning("report: %s not shown: %s", path, exc)
            return None
        pil = pil.copy()
        pil.thumbnail((self.max_side, self.max_side))
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=self.quality, optimize=True)
        css_class = f"im{len(self._rules)}"
        self._rules.append(f'.{css_class}{{background-image:url("data:image/jpeg;base64,'
                           f'{base64.b64encode(buf.getvalue()).decode()}")}}')
        return Figure(css_class=css_class, width=pil.width, height=pil.height)

    def css(self) -> str:
        """One rule per embedded image (call after every ``figure``)."""
        return "\n".join(self._rules)
