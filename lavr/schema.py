"""Typed records at every boundary: boxes, detections, tool calls and token usage (the trace: ``lavr.trace``).

Box convention (used everywhere, and stated in the system prompt): ``[x1, y1, x2, y2]`` normalised to the
image's width and height, origin at the top-left corner, x to the right, y downwards, each in ``[0, 1]``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BOX_CONVENTION = (
    "Boxes are [x1, y1, x2, y2] normalised to the image size (0..1), origin at the top-left corner, "
    "x grows to the right and y grows downwards."
)


class Box(BaseModel):
    """An axis-aligned box in normalised coordinates (see ``BOX_CONVENTION``)."""

    model_config = ConfigDict(frozen=True)

    x1: float = Field(ge=0.0, le=1.0)
    y1: float = Field(ge=0.0, le=1.0)
    x2: float = Field(ge=0.0, le=1.0)
    y2: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("box must satisfy x1 <= x2 and y1 <= y2")
        return self

    @classmethod
    def from_list(cls, values: list[float] | tuple[float, ...]) -> Box:
        if len(values) != 4:
            raise ValueError(f"a box has 4 numbers [x1, y1, x2, y2], got {len(values)}")
        return cls(x1=values[0], y1=values[1], x2=values[2], y2=values[3])

    @classmethod
    def from_pixels(cls, xyxy: list[float] | tuple[float, ...], width: int, height: int) -> Box:
        """Normalise a pixel box, clipping it to the image."""
        x1, y1, x2, y2 = (float(v) for v in xyxy)

        def clip(v: float) -> float:
            return min(1.0, max(0.0, v))

        return cls(x1=clip(x1 / width), y1=clip(y1 / height), x2=clip(x2 / width), y2=clip(y2 / height))

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        return (
            round(self.x1 * width),
            round(self.y1 * height),
            max(round(self.x2 * width), round(self.x1 * width) + 1),
            max(round(self.y2 * height), round(self.y1 * height) + 1),
        )

    def as_list(self, digits: int = 3) -> list[float]:
        return [round(self.x1, digits), round(self.y1, digits), round(self.x2, digits), round(self.y2, digits)]

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def intersection(self, other: Box) -> float:
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return max(0.0, w) * max(0.0, h)

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def render(self) -> str:
        return "[" + ", ".join(f"{v:.3f}" for v in self.as_list()) + "]"


class Detection(BaseModel):
    """One detected object. ``id`` is the handle the LLM uses (``obj_3``)."""

    id: str
    image: str
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box
    attributes: dict[str, str] = Field(default_factory=dict)

    def render(self) -> str:
        attrs = "".join(f" {k}={v}" for k, v in sorted(self.attributes.items()))
        return f"{self.id} {self.label} {self.box.render()} conf={self.confidence:.2f}{attrs}"


class ToolCall(BaseModel):
    """A call the planner asked for. ``args`` are validated by the tool's input model before it runs."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str = ""

    @field_validator("args", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class Usage(BaseModel):
    """Token usage summed over LLM calls. ``cached_prompt_tokens`` are the prompt tokens a backend reused from
    its KV state instead of evaluating them (part of ``prompt_tokens``; 0 when a backend cannot tell)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            llm_calls=self.llm_calls + other.llm_calls,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
        )
