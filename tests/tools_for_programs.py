"""Test tools for pipelines and the graph: a weight-free detector (also usable as the scene graph's detector, so the
real SceneGraphTool can run on it) and a tool that caches through ``ctx.memo``."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from lavr.schema import Box, Detection
from lavr.tools.base import ImageArg, RunContext, Tool, ToolOutput

PEOPLE = [Box(x1=0.0, y1=0.2, x2=0.3, y2=1.0), Box(x1=0.35, y1=0.1, x2=0.6, y2=1.0),
          Box(x1=0.7, y1=0.0, x2=1.0, y2=1.0)]


class FakeDetectInput(ImageArg):
    classes: list[str] | None = Field(None, description="Only these labels.")


class FakeDetectOutput(ToolOutput):
    image: str
    detections: list[Detection]
    counts: dict[str, int]

    def to_text(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return "\n".join([f"{self.image}: {len(self.detections)} objects", f"counts: {counts}"]
                         + [d.render() for d in self.detections])


class FakeDetectTool(Tool[FakeDetectInput, FakeDetectOutput]):
    """Find people (three, left to right), registering them as obj_N."""

    name = "fake_detect"
    input_model = FakeDetectInput
    output_model = FakeDetectOutput

    def run(self, args: FakeDetectInput, ctx: RunContext) -> FakeDetectOutput:
        dets = [ctx.register_object(image=args.image, label="person", confidence=0.9, box=b) for b in PEOPLE]
        if args.classes and "person" not in args.classes:
            dets = []
        return FakeDetectOutput(image=args.image, detections=dets, counts={"person": len(dets)} if dets else {})


class Measured(BaseModel):
    mean: float


class MemoOutput(ToolOutput):
    image: str
    mean: float

    def to_text(self) -> str:
        return f"{self.image}: mean brightness {self.mean:.1f}"


class MemoTool(Tool[ImageArg, MemoOutput]):
    """Mean brightness of an image, cached per image content through ctx.memo."""

    name = "brightness"
    input_model = ImageArg
    output_model = MemoOutput

    def __init__(self, settings=None):
        super().__init__(settings)
        self.computed = 0

    def _compute(self, pil) -> Measured:
        self.computed += 1
        return Measured(mean=float(np.asarray(pil.convert("L")).mean()))

    def run(self, args: ImageArg, ctx: RunContext) -> MemoOutput:
        stored = ctx.images.get(args.image)
        value, _ = ctx.memo(tool=self.name, image=stored, params={}, identity="brightness:v1", model=Measured,
                            compute=lambda: self._compute(stored.pil))
        return MemoOutput(image=args.image, mean=value.mean)
