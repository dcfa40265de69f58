"""Multimodal in-context examples: an image (shipped inside an installed package), the question, a short chain
of thought, the tool calls with the experts' real text outputs, and the answer. Stored in ``examples.yaml``."""

from __future__ import annotations

import functools
import importlib.util
import re
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from ..schema import ToolCall


class PackageImage(BaseModel):
    """An image file inside an installed Python package, so examples need no download."""

    package: str
    path: str

    def resolve(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.path
        return path if path.is_file() else None


class ExampleTurn(BaseModel):
    thought: str
    tool_calls: list[ToolCall]
    observations: list[str] = Field(description="The tools' text outputs, one per call, in order.")


class Example(BaseModel):
    id: str
    image: PackageImage
    image_size: tuple[int, int]
    question: str
    turns: list[ExampleTurn]
    final_thought: str
    answer: str
    rationale: str
    evidence: str = Field(description="A passage of one observation that the answer follows from.")

    def tools_used(self) -> set[str]:
        return {c.tool for t in self.turns for c in t.tool_calls}


@functools.cache
def load_examples() -> tuple[Example, ...]:
    text = resources.files(__package__).joinpath("examples.yaml").read_text(encoding="utf-8")
    return tuple(Example.model_validate(item) for item in yaml.safe_load(text))


_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "in", "of", "is", "are", "this", "that", "to", "on", "there", "what", "photo", "image",
         "picture"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def select_examples(question: str, available_tools: set[str], k: int, *,
                    exclude_images: set[str] | None = None, examples: tuple[Example, ...] | None = None,
                    image_sha: dict[str, str] | None = None) -> list[Example]:
    """The ``k`` examples most similar to the question (word overlap, PICa-style), using only available tools.

    ``exclude_images``: content hashes of the question's images; examples on the same image are left out so an
    example can never hand the model its answer. ``image_sha`` maps example id to its image hash.
    """
    pool = [e for e in (examples or load_examples()) if e.tools_used() <= available_tools]
    if exclude_images and image_sha:
        pool = [e for e in pool if image_sha.get(e.id) not in exclude_images]
    q = _words(question)

    def score(e: Example) -> tuple[float, str]:
        w = _words(e.question)
        return (len(q & w) / max(1, len(q | w)), e.id)

    ranked = sorted(pool, key=lambda e: (-score(e)[0], e.id))
    return ranked[:k]


