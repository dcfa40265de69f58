"""The one place tool calls run, for every planning mode.

Rules (the same for ReAct turns, programs, pipelines and query programs):
- A move may start at most ``limit`` calls; the rest are refused and the refusal is in the trace.
- Arguments may reference earlier calls' outputs (``lavr.refs``); they are substituted right before the call,
  from every tool step in the trace so far, and re-validated by the tool's input model.
- Calls of one move run in two phases: first each tool's expensive, side-effect-free work (``Tool.prefetch``:
  model inference, memoised per image) runs in parallel; then the calls run one by one in the order the planner
  wrote them. Tools are pure functions of their inputs, and object ids are given out in that fixed order, so a
  result never depends on thread timing.
- Every failure (unknown tool, wrong arguments, a crash, a timeout, an unresolvable reference) becomes a
  ``ToolStep`` with an ``error`` the LLM can read; nothing raises out of the executor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pydantic import ValidationError

from ..errors import LavrError
from ..refs import RefError, find_refs, substitute
from ..schema import ToolCall
from ..tools.base import RunContext, Tool
from ..tools.registry import ToolRegistry, format_validation_error
from ..trace import AnswerStep, RefusalStep, Step, ToolStep

logger = logging.getLogger(__name__)


class ToolFailure(Exception):
    """A call that could not produce an output; ``str()`` is what the LLM reads."""


def outputs_of(steps: list[Any]) -> dict[str, Any]:
    """Step id -> structured output (None when it failed) of every tool step and named LLM step of a trace:
    what references (``$s1.counts.person``, ``$first.answer``) resolve against."""
    outputs: dict[str, Any] = {}
    for s in steps:
        if isinstance(s, ToolStep) and s.call_id:
            outputs[s.call_id] = s.data if s.error is None else None
        elif isinstance(s, AnswerStep) and s.call_id:
            outputs[s.call_id] = {"answer": s.answer, "rationale": s.rationale} if s.error is None else None
    return outputs


class ToolExecutor:
    """Runs tool calls. A call that times out keeps its thread (Python cannot kill one), so the pool it ran on is
    retired and a fresh one takes the next calls: a hung expert never blocks later calls."""

    def __init__(self, registry: ToolRegistry, *, timeout_s: float = 120.0, max_parallel: int = 4):
        self.registry = registry
        self.timeout_s = timeout_s
        self.max_parallel = max(1, max_parallel)
        self._pool_lock = threading.Lock()
        self._pool = self._new_pool()
        self.retired_pools = 0

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="lavr-tool")

    def _retire(self, pool: ThreadPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is pool:
                self._pool = self._new_pool()
                self.retired_pools += 1
        pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, fn: Any, *args: Any) -> tuple[Any, ThreadPoolExecutor]:
        with self._pool_lock:
            pool = self._pool
            return pool.submit(fn, *args), pool

    # One move -----------------------------------------------------------------------------------------------
    def run(self, calls: list[ToolCall], ctx: RunContext, *, first_index: int, earlier: list[Any] | None = None,
            limit: int | None = None) -> list[Step]:
        """Run one move's calls; returns a tool step per call run (in order), then a refusal step if any were
        over ``limit``."""
        refused: list[ToolCall] = []
        if limit is not None and len(calls) > limit:
            calls, refused = calls[:limit], calls[limit:]
        outputs = outputs_of(earlier or [])
        self._prefetch(calls, ctx)
        steps: list[Step] = []
        for call in calls:
            step = self.run_one(call, ctx, index=first_index + len(steps), outputs=outputs)
            if step.call_id:
                outputs[step.call_id] = step.data if step.error is None else None
            steps.append(step)
        if refused:
            steps.append(RefusalStep(index=first_index + len(steps), tool_calls=refused,
                                     reason=f"at most {limit} tool calls run per turn; "
                                            f"{len(refused)} more were not run"))
        return steps

    def run_one(self, call: ToolCall, ctx: RunContext, *, index: int = 0,
                outputs: Mapping[str, Any] | None = None) -> ToolStep:
        start = time.perf_counter()
        step = ToolStep(index=index, tool=call.tool, args=call.args, call_id=call.id or None)
        try:
            raw, args = self._resolve(call, outputs)
            step.args = raw
            output, cached = self._call(call.tool, args, ctx)
            step.result, step.data, step.cached = output.to_text(), output.model_dump(mode="json"), cached
        except ToolFailure as failure:
            step.error = str(failure)
            logger.info("tool %s failed: %s", call.tool, step.error)
        step.seconds = round(time.perf_counter() - start, 4)
        return step

    # Pieces ---------------------------------------------------------------------------------------------------
    def _tool(self, name: str) -> Tool:
        if name not in self.registry:
            valid = ", ".join(t.name for t in self.registry.available())
            raise ToolFailure(f"unknown tool {name!r}. Valid tools: {valid}")
        avail = self.registry.availability(name)
        if not avail.available:
            raise ToolFailure(f"tool {name!r} is not available here: {avail.reason}")
        return self.registry.get(name)

    def _resolve(self, call: ToolCall, outputs: Mapping[str, Any] | None) -> tuple[dict[str, Any], Any]:
        """The arguments with references substituted, and validated by the tool's input model."""
        tool = self._tool(call.tool)
        try:
            raw = substitute(call.args, outputs if outputs is not None else {})
        except RefError as exc:
            raise ToolFailure(f"not run: {exc}") from None
        try:
            return raw, tool.input_model.model_validate(raw)
        except ValidationError as err:
            props = ", ".join(tool.input_model.model_fields)
            raise ToolFailure(f"invalid arguments for {call.tool}: {format_validation_error(err)}. "
                              f"Accepted arguments: {props}") from None

    def _prefetch(self, calls: list[ToolCall], ctx: RunContext) -> None:
        """Run the heavy, order-independent part of each call in parallel (errors surface in the real call)."""
        jobs = []
        for call in calls:
            if find_refs(call.args) or call.tool not in self.registry:
                continue
            tool = self.registry.get(call.tool)
            if type(tool).prefetch is Tool.prefetch or not self.registry.availability(call.tool).available:
                continue
            try:
                args = tool.input_model.model_validate(call.args)
            except ValidationError:
                continue
            jobs.append((tool, args))
        if len(jobs) < 2:
            return  # nothing to overlap; the call itself does the work
        futures = [self._submit(self._prefetch_one, tool, args, ctx) for tool, args in jobs]
        deadline = time.monotonic() + self.timeout_s
        for future, pool in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                self._retire(pool)
            except Exception:  # noqa: BLE001 - reported by the call itself
                pass

    def _call(self, name: str, args: Any, ctx: RunContext) -> tuple[Any, bool]:
        tool = self._tool(name)
        future, pool = self._submit(self._invoke, tool, args, ctx)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            self._retire(pool)
            raise ToolFailure(f"tool {name} timed out after {self.timeout_s:g} s") from None
        except LavrError as exc:
            raise ToolFailure(f"{name} failed: {exc}") from None
        except Exception as exc:  # a crashing expert must not end the run
            logger.exception("tool %s crashed", name)
            raise ToolFailure(f"{name} crashed: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _prefetch_one(tool: Tool, args: Any, ctx: RunContext) -> None:
        tool.prefetch(args, ctx.for_call(prefetch=True))

    @staticmethod
    def _invoke(tool: Tool, args: Any, ctx: RunContext) -> tuple[Any, bool]:
        call = ctx.for_call()
        # No ensure_ready() here: tools load weights inside their memoised computation, so a cache hit never pays
        # for loading a model.
        output = tool.run(args, call)
        return output, call.call.cached
