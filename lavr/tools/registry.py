"""A registry of tools and the executor that runs the LLM's tool calls safely (validation, errors, timeouts)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Iterable

from pydantic import ValidationError

from ..errors import LavrError
from ..schema import Step, ToolCall
from .base import Availability, RunContext, Tool

logger = logging.getLogger(__name__)


def format_validation_error(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class ToolRegistry:
    """Named tools; ``available()`` are the ones offered to the planner."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        self._availability: dict[str, Availability] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool:
        return self._tools[name]

    def names(self) -> list[str]:
        return list(self._tools)

    def availability(self, name: str) -> Availability:
        if name not in self._availability:
            try:
                self._availability[name] = self._tools[name].availability()
            except Exception as exc:  # a probe must never take the agent down
                self._availability[name] = Availability(available=False, reason=f"availability check failed: {exc}")
        return self._availability[name]

    def available(self) -> list[Tool]:
        return [t for t in self._tools.values() if self.availability(t.name).available]

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.available()]


class ToolExecutor:
    """Runs tool calls for the agent. Every failure becomes a ``Step`` with an ``error`` the LLM can read."""

    def __init__(self, registry: ToolRegistry, *, timeout_s: float = 120.0, max_parallel: int = 4):
        self.registry = registry
        self.timeout_s = timeout_s
        self.max_parallel = max(1, max_parallel)
        # Shared so that a timed-out call does not block the next question's calls forever.
        self._pool = ThreadPoolExecutor(max_workers=self.max_parallel * 2, thread_name_prefix="lavr-tool")

    def run_one(self, call: ToolCall, ctx: RunContext, *, index: int = 0) -> Step:
        start = time.perf_counter()
        step = Step(index=index, kind="tool", tool=call.tool, args=call.args, call_id=call.id or None)
        try:
            step.result, step.data, step.cached = self._run(call, ctx)
        except _ToolFailure as failure:
            step.error = str(failure)
        step.seconds = round(time.perf_counter() - start, 4)
        if step.error:
            logger.info("tool %s failed: %s", call.tool, step.error)
        return step

    def run_many(self, calls: list[ToolCall], ctx: RunContext, *, first_index: int = 0) -> list[Step]:
        """Run independent calls in parallel; results come back in the order of ``calls``."""
        if len(calls) == 1:
            return [self.run_one(calls[0], ctx, index=first_index)]
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(calls))) as pool:
            futures = [pool.submit(self.run_one, c, ctx, index=first_index + i) for i, c in enumerate(calls)]
            return [f.result() for f in futures]

    def _run(self, call: ToolCall, ctx: RunContext) -> tuple[str, dict[str, Any], bool]:
        if call.tool not in self.registry:
            valid = ", ".join(t.name for t in self.registry.available())
            raise _ToolFailure(f"unknown tool {call.tool!r}. Valid tools: {valid}")
        tool = self.registry.get(call.tool)
        avail = self.registry.availability(call.tool)
        if not avail.available:
            raise _ToolFailure(f"tool {call.tool!r} is not available here: {avail.reason}")
        try:
            args = tool.input_model.model_validate(call.args)
        except ValidationError as err:
            props = ", ".join(tool.input_model.model_fields)
            raise _ToolFailure(
                f"invalid arguments for {call.tool}: {format_validation_error(err)}. Accepted arguments: {props}"
            ) from None

        future = self._pool.submit(self._call_tool, tool, args, ctx)
        try:
            output, cached = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            raise _ToolFailure(f"tool {call.tool} timed out after {self.timeout_s:.0f} s") from None
        except LavrError as exc:
            raise _ToolFailure(f"{call.tool} failed: {exc}") from None
        except Exception as exc:  # a crashing expert must not end the run
            logger.exception("tool %s crashed", call.tool)
            raise _ToolFailure(f"{call.tool} crashed: {type(exc).__name__}: {exc}") from None
        return output.to_text(), output.model_dump(mode="json"), cached

    @staticmethod
    def _call_tool(tool: Tool, args: Any, ctx: RunContext) -> tuple[Any, bool]:
        ctx.begin_call()
        # No ensure_ready() here: tools load weights inside their cached computation, so a cache hit never
        # pays for loading a model.
        output = tool.run(args, ctx)
        return output, ctx.call_was_cached()


class _ToolFailure(Exception):
    pass
