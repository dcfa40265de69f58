"""Small tools used by the agent tests: no weights, predictable behaviour."""

from __future__ import annotations

import threading
import time

from pydantic import Field

from lavr.errors import ToolError
from lavr.tools.base import Availability, RunContext, Tool, ToolInput, ToolOutput
from lavr.tools.detect import DetectTool, RawDetection, RawDetections


class CountInput(ToolInput):
    label: str = Field(description="What to count.")


class CountOutput(ToolOutput):
    label: str
    count: int

    def to_text(self) -> str:
        return f"counts: {self.label}={self.count}"


class CountTool(Tool[CountInput, CountOutput]):
    """Count objects of a label (test double with fixed counts)."""

    name = "count"
    input_model = CountInput
    output_model = CountOutput
    counts = {"person": 4, "bus": 1}

    def run(self, args: CountInput, ctx: RunContext) -> CountOutput:
        if args.label not in self.counts:
            raise ToolError(f"cannot count {args.label!r}; known: {', '.join(self.counts)}")
        return CountOutput(label=args.label, count=self.counts[args.label])


class NoArgs(ToolInput):
    pass


class TextOut(ToolOutput):
    text: str

    def to_text(self) -> str:
        return self.text


class CrashTool(Tool[NoArgs, TextOut]):
    """Always crashes."""

    name = "crash"
    input_model = NoArgs
    output_model = TextOut

    def run(self, args: NoArgs, ctx: RunContext) -> TextOut:
        raise RuntimeError("boom")


class SlowTool(Tool[NoArgs, TextOut]):
    """Sleeps longer than any timeout the tests set."""

    name = "slow"
    input_model = NoArgs
    output_model = TextOut

    def run(self, args: NoArgs, ctx: RunContext) -> TextOut:
        time.sleep(3)
        return TextOut(text="late")


class BarrierInput(ToolInput):
    who: str


class BarrierTool(Tool[BarrierInput, TextOut]):
    """Its expensive part (``prefetch``) waits until two calls do it at the same time: fails if the executor runs
    the calls of one move one after the other. With ``in_run`` the call itself waits (for two questions run at
    once, e.g. by the eval runner)."""

    name = "meet"
    input_model = BarrierInput
    output_model = TextOut

    def __init__(self, settings=None, *, in_run: bool = False):
        super().__init__(settings)
        self.barrier = threading.Barrier(2, timeout=5)
        self.met: set[str] = set()
        self.in_run = in_run

    def prefetch(self, args: BarrierInput, ctx: RunContext) -> None:
        if not self.in_run:
            self.barrier.wait()
            self.met.add(args.who)

    def run(self, args: BarrierInput, ctx: RunContext) -> TextOut:
        if self.in_run:
            self.barrier.wait()
        elif args.who not in self.met:
            raise ToolError(f"{args.who} waited alone")
        return TextOut(text=f"{args.who} met")


class FixedDetector(DetectTool):
    """A detector that 'finds' the given raw detections on every image: the real detect post-processing (class
    filters, thresholds, object ids) and everything built on it, without model weights."""

    def __init__(self, settings, detections: list[RawDetection], labels: list[str] | None = None):
        super().__init__(settings)
        self.fixed = RawDetections(detections=detections,
                                   labels=labels or sorted({d.label for d in detections}))
        self.calls = 0

    def availability(self) -> Availability:
        return Availability(available=True, weights="fixed test detections")

    def identity(self) -> str:
        return "fixed-detector"

    def setup(self) -> None:
        pass

    def predict(self, pil_images, *, conf):
        self.calls += 1
        return [self.fixed for _ in pil_images]
