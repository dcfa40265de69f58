"""What a tool step says about the cache: ``cached`` only when nothing was computed for it, and a result too large
for the cache is used, not cached (issue 18)."""

from __future__ import annotations

from chat_helpers import photo
from pydantic import BaseModel

from lavr.agents.executor import ToolExecutor
from lavr.cache import ExpertCache
from lavr.schema import ToolCall
from lavr.tools.base import ImageArg, RunContext, Tool, ToolOutput
from lavr.tools.registry import ToolRegistry


class Raw(BaseModel):
    values: list[int]


class Out(ToolOutput):
    total: int

    def to_text(self) -> str:
        return f"total={self.total}"


class TwoExperts(Tool[ImageArg, Out]):
    """Builds on one expert's output twice, as scene_graph does (its detector, then people on the same detections)."""

    name = "two_experts"
    input_model = ImageArg
    output_model = Out
    computed = 0
    size = 10

    def raw(self, ctx: RunContext, image: str) -> Raw:
        def compute() -> Raw:
            TwoExperts.computed += 1
            return Raw(values=list(range(self.size)))

        value, _ = ctx.memo(tool="expert", image=ctx.images.get(image), params={}, identity="expert-v1", model=Raw,
                            compute=compute)
        return value

    def run(self, args: ImageArg, ctx: RunContext) -> Out:
        first = self.raw(ctx, args.image)
        second = self.raw(ctx, args.image)  # the second look reuses the first: still computed for this call
        return Out(total=sum(first.values) + sum(second.values))


def run_once(settings, cache: ExpertCache | None, tool: Tool):
    ctx = RunContext(settings, cache=cache)
    ctx.images.add(photo(), image_id="img_0")
    return ToolExecutor(ToolRegistry([tool])).run_one(ToolCall(tool=tool.name, args={"image": "img_0"}), ctx)


def test_first_analysis_is_not_cached_the_next_run_is(settings, tmp_path):
    cache = ExpertCache(tmp_path / "cache.sqlite")
    TwoExperts.computed = 0
    first = run_once(settings, cache, TwoExperts(settings))
    assert first.ok and first.cached is False and TwoExperts.computed == 1
    second = run_once(settings, cache, TwoExperts(settings))  # a new question: the disk cache answers
    assert second.ok and second.cached is True and TwoExperts.computed == 1
    assert run_once(settings, None, TwoExperts(settings)).cached is False  # no cache: computed every time


def test_a_result_too_large_for_the_cache_is_used_not_cached(settings, tmp_path):
    cache = ExpertCache(tmp_path / "cache.sqlite", max_bytes=200)
    tool = TwoExperts(settings)
    tool.size = 500  # a JSON value of about 2,000 bytes: over the 200-byte bound (LAVR_CACHE_MAX_BYTES=200)
    step = run_once(settings, cache, tool)
    assert step.ok and step.error is None, step.error
    assert step.data["total"] == 2 * sum(range(500)) and step.cached is False
    assert cache.stats().entries == 0
