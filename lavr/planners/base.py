"""The planner seam: given the question, the tools and the trace so far, decide the next move."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..backends.base import ImagePart
from ..schema import Step, Usage
from ..tools.base import Tool
from .parsing import Decision


@dataclass
class ImageInfo:
    id: str
    width: int
    height: int
    sha256: str
    data_url: str | None = None  # only filled when the backend accepts images

    def line(self) -> str:
        return f"Image {self.id}: {self.width}x{self.height} pixels."


@dataclass
class PlanRequest:
    question: str
    images: list[ImageInfo]
    tools: list[Tool]
    steps: list[Step]
    steps_left: int
    retries_left: int
    force_answer: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (question, answer) turns of a chat


@dataclass
class PlanOutcome:
    """Either a decision or the reason the reply was unusable (fed back to the LLM on retry)."""

    decision: Decision | None
    raw_reply: str
    usage: Usage
    error: str | None = None
    example_ids: list[str] = field(default_factory=list)
    images: list[ImagePart] = field(default_factory=list)


class Planner(Protocol):
    name: str

    def decide(self, request: PlanRequest) -> PlanOutcome: ...
