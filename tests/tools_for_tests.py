"""Small tools used by the agent tests: no weights, predictable behaviour."""

from __future__ import annotations

import threading
import time

from pydantic import Field

from lavr.errors import ToolError
from lavr.tools.base import RunContext, Tool, ToolInput, ToolOutput


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
    """Waits until two calls run at the same time: fails if calls are run one after the other."""

    name = "meet"
    input_model = BarrierInput
    output_model = TextOut

    def __init__(self, settings=None):
        super().__init__(settings)
        self.barrier = threading.Barrier(2, timeout=5)

    def run(self, args: BarrierInput, ctx: RunContext) -> TextOut:
        self.barrier.wait()
        return TextOut(text=f"{args.who} met")
