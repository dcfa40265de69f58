"""What the web page shows: a turn's panel (the question and answer, the picture with the boxes the answer rests on
first, then every step folded, each with its own boxes), built step by step while a turn streams or at once for
a committed turn; and the thread's chat messages, the attached images shown in the bubbles as thumbnails.

All text from the LLM, the tools and the user is escaped (``html.escape``; the steps' own ``html_body``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image

from ..images import save_image_atomically
from ..trace import AnswerStep, ToolStep
from ..trace_html import STYLE, figure_html, jpeg_data_url, step_boxes
from .models import ChatTurn
from .thread import ThreadState

PICTURE_SIDE, STEP_SIDE, THUMB_SIDE = 900, 420, 240
PANEL_CSS = """
.lavr-trace { max-height: 82vh; overflow-y: auto; }
.lavr-trace .lavr-q { margin: .2em 0 .5em; font-size: 1.05em; }
.lavr-trace .lavr-q .answer { font-weight: 700; }
.lavr-trace .picture { margin-bottom: .6em; }
.lavr-trace .picture .fig img { max-height: 58vh; width: auto; }
.lavr-trace .status { color: #555; font-style: italic; margin: .3em 0; }
.lavr-trace .status::before { content: ""; display: inline-block; width: .8em; height: .8em; margin-right: .5em;
  border: 2px solid #bbb; border-top-color: #f58231; border-radius: 50%; animation: lavr-spin 1s linear infinite; }
@keyframes lavr-spin { to { transform: rotate(360deg); } }
.lavr-trace details.step { border-left: 4px solid #ccc; padding: .15em .8em; margin: .35em 0; }
.lavr-trace details.step.answer { border-color: #3cb44b; } .lavr-trace details.step.retry { border-color: #f58231; }
.lavr-trace details.step > summary { cursor: pointer; font-weight: 600; }
.lavr-trace details.step .fig img { max-width: 420px; }
.lavr-trace .hint { color: #777; font-size: .9em; }
"""
EMPTY_PANEL = ('<div class="lavr-trace" data-state="empty"><p class="hint">Attach or paste an image, ask; the '
               "picture with what the answer rests on shows here, and every step below it. Click an answer in "
               "the chat to see its turn again.</p></div>")


def step_target(step: Any, focus: str) -> str:
    """The image a step worked on (its ``image`` argument), else the turn's focus image."""
    return str((getattr(step, "args", None) or {}).get("image") or focus)


def answer_boxes(steps: list[Any], focus: str) -> list[tuple[str, list[float]]]:
    """The boxes the picture shows: the objects the final answer rests on (its evidence ids), found in the tool
    steps on the focus image; else every box of the last tool step on that image that has any."""
    drawn = [(s, step_boxes(s)) for s in steps if isinstance(s, ToolStep) and step_target(s, focus) == focus]
    drawn = [(s, boxes) for s, boxes in drawn if boxes]
    final = next((s for s in reversed(steps) if isinstance(s, AnswerStep) and s.final), None)
    if final is not None and final.evidence:
        wanted = set(final.evidence)
        found: dict[str, tuple[str, list[float]]] = {}
        for _, boxes in drawn:
            for label, box in boxes:
                if label.split(" ", 1)[0] in wanted:
                    found[label.split(" ", 1)[0]] = (label, box)
        if found:
            return [found[i] for i in final.evidence if i in found]
    return drawn[-1][1] if drawn else []


PictureOf = Callable[[str, int], "tuple[str, int, int] | None"]  # (image id, side) -> (src, width, height)


def inline_pictures(image_of: Callable[[str], Any]) -> PictureOf:
    """Pictures as ``data:`` URLs of the PIL images ``image_of`` gives (None when unknown)."""

    def picture_of(image_id: str, side: int) -> tuple[str, int, int] | None:
        pil = image_of(image_id)
        return jpeg_data_url(pil, side) if pil is not None else None

    return picture_of


class TurnView:
    """The panel of one turn, built as its steps arrive (``add``) or from a committed turn (``of_turn``).

    Args:
        question: the user's message.
        focus: the id of the image the turn is about (the picture).
        picture_of: an image's URL and size, fitted to a side (the page serves files; ``inline_pictures`` embeds).
    """

    def __init__(self, question: str, focus: str, picture_of: PictureOf):
        self.question, self.focus, self.picture_of = question, focus, picture_of
        self.steps: list[Any] = []
        self.status: str | None = "sending"
        self.answer: str | None = None
        self.turn: int | None = None
        self.events = 0
        self._urls: dict[tuple[str, int], tuple[str, int, int] | None] = {}
        self._step_html: dict[int, str] = {}

    @classmethod
    def of_turn(cls, turn: ChatTurn, picture_of: PictureOf) -> TurnView:
        view = cls(turn.text, turn.answer.image, picture_of)
        view.steps, view.status, view.answer, view.turn = list(turn.answer.steps), None, turn.answer.answer, turn.index
        return view

    def add(self, event: Any) -> None:
        """A run event: a ``Progress`` (becomes the status line) or a step (added, folded)."""
        self.events += 1
        if getattr(event, "kind", "") == "progress":
            self.status = event.text
        else:
            self.steps.append(event)

    def _url(self, image_id: str, side: int) -> tuple[str, int, int] | None:
        key = (image_id, side)
        if key not in self._urls:
            self._urls[key] = self.picture_of(image_id, side)
        return self._urls[key]

    def picture(self) -> str:
        url = self._url(self.focus, PICTURE_SIDE) if self.focus else None
        if url is None:
            return ""
        figure = figure_html(*url, answer_boxes(self.steps, self.focus), image_id=self.focus)
        return f'<div class="picture">{figure}</div>'

    def step(self, step: Any) -> str:
        if step.index not in self._step_html:
            head = f"#{step.index} {html.escape(step.title)} · {step.seconds:.2f} s"
            head += " · cached" if isinstance(step, ToolStep) and step.cached else ""
            boxes = step_boxes(step)
            figure = ""
            if boxes:
                target = step_target(step, self.focus)
                url = self._url(target, STEP_SIDE)
                figure = figure_html(*url, boxes, image_id=target) if url else ""
            self._step_html[step.index] = (f'<details class="step {step.kind}" data-index="{step.index}"><summary>'
                                           f"{head}</summary>{step.html_body()}{figure}</details>")
        return self._step_html[step.index]

    def html(self) -> str:
        esc = html.escape
        said = f' → <span class="answer">{esc(self.answer)}</span>' if self.answer is not None else ""
        state = "done" if self.answer is not None else "running"
        status = f'<p class="status">{esc(self.status)}…</p>' if self.status else ""
        turn = f' data-turn="{self.turn}"' if self.turn is not None else ""
        count = len(self.steps)
        steps = "".join(self.step(s) for s in self.steps)
        folded = (f'<p class="hint">{count} step{"s" * (count != 1)} (click one to unfold it)</p>{steps}'
                  if count else "")
        return (f'<div class="lavr-trace" data-state="{state}" data-events="{self.events}"{turn}>'
                f"<style>{STYLE}{PANEL_CSS}</style>"
                f'<p class="lavr-q">{esc(self.question)}{said}</p>{self.picture()}{status}'
                f'<div class="steps">{folded}</div></div>')


class Thumbnails:
    """JPEG copies of thread images, fitted to a side, in the page's upload folder (the only files the page serves),
    by content hash: the chat bubbles' thumbnails and the panel's pictures. A picture is then a URL the browser
    fetches once and keeps, not a ``data:`` URL sent again with every streamed update."""

    def __init__(self, folder: Path):
        self.folder = folder / "thumbs"
        self._sizes: dict[Path, tuple[int, int]] = {}

    def file(self, key: str, load: Callable[[], Any], side: int = THUMB_SIDE) -> tuple[Path, int, int]:
        target = self.folder / f"{key}-{side}.jpg"
        if target not in self._sizes:
            if not target.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                pil = load().convert("RGB")
                pil.thumbnail((side, side))
                save_image_atomically(pil, target, format="JPEG", quality=85)
                self._sizes[target] = pil.size
            else:
                with Image.open(target) as img:
                    self._sizes[target] = img.size
        return (target, *self._sizes[target])

    def path(self, key: str, load: Callable[[], Any]) -> Path:
        return self.file(key, load)[0]

    def url(self, key: str, load: Callable[[], Any], side: int) -> tuple[str, int, int]:
        path, width, height = self.file(key, load, side)
        return f"/gradio_api/file={quote(str(path))}", width, height


def image_message(path: Path, image_id: str) -> dict[str, Any]:
    return {"path": str(path), "alt_text": image_id, "mime_type": "image/jpeg"}


def chat_messages(state: ThreadState | None, image_of: Callable[[str], Any], thumbs: Thumbnails
                  ) -> list[dict[str, Any]]:
    """A thread as chat messages, two per turn (so message ``2 * n + 1`` is turn ``n``'s answer): the images
    attached in that turn and the user's text, then the answer. ``image_of`` loads a thread image whose thumbnail
    is not made yet."""
    if state is None:
        return []
    images = {i.id: i for i in state.images}
    out: list[dict[str, Any]] = []
    for turn in state.turns:
        content: list[Any] = []
        for image_id in turn.images:
            path = thumbs.path(images[image_id].sha256, partial(image_of, image_id))
            content.append(image_message(path, image_id))
        out.append({"role": "user", "content": content + [turn.text]})
        out.append({"role": "assistant", "content": turn.answer.answer})
    return out
