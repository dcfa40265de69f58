"""The agent as a LangGraph ``StateGraph``: plan -> tools -> plan ... -> answer, with budgets and retries."""

from __future__ import annotations

import operator
import re
import time
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from ..errors import BackendError
from ..planners.base import ImageInfo, PlanRequest, Planner
from ..planners.parsing import Decision
from ..schema import Step, ToolCall, Usage
from ..tools.base import RunContext
from ..tools.registry import ToolExecutor, ToolRegistry

CANNOT_TELL = "cannot tell"


class AgentState(TypedDict, total=False):
    question: str
    images: list[dict[str, Any]]
    history: list[tuple[str, str]]
    steps: Annotated[list[Step], operator.add]
    pending: list[dict[str, Any]]
    turns: int
    retries: int
    decision: dict[str, Any] | None
    finished: Literal["answered", "budget_exhausted", "failed"] | None
    error: str | None


def _context(config: RunnableConfig) -> RunContext:
    ctx = (config.get("configurable") or {}).get("lavr_context")
    if ctx is None:  # pragma: no cover - Agent always passes it
        raise RuntimeError("lavr_context missing from the run config")
    return ctx


def build_graph(planner: Planner, registry: ToolRegistry, executor: ToolExecutor, *, max_steps: int,
                max_retries: int, checkpointer: Any = None) -> Any:
    """Compile the agent graph. The run's ``RunContext`` travels in ``config['configurable']['lavr_context']``."""

    def request(state: AgentState, *, force: bool) -> PlanRequest:
        return PlanRequest(
            question=state["question"],
            images=[ImageInfo(**i) for i in state["images"]],
            tools=registry.available(),
            steps=list(state.get("steps", [])),
            steps_left=max(0, max_steps - state.get("turns", 0) - 1),
            retries_left=max(0, max_retries - state.get("retries", 0)),
            force_answer=force,
            history=list(state.get("history", [])),
        )

    def plan_step(state: AgentState, *, force: bool) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            outcome = planner.decide(request(state, force=force))
        except BackendError as exc:
            return {"error": str(exc), "finished": "failed", "decision": None, "pending": []}
        seconds = round(time.perf_counter() - start, 4)
        index = len(state.get("steps", []))
        if outcome.decision is None:
            step = Step(index=index, kind="retry", raw_reply=outcome.raw_reply, error=outcome.error,
                        usage=outcome.usage, seconds=seconds)
            return {"steps": [step], "retries": state.get("retries", 0) + 1, "pending": [], "decision": None}
        d = outcome.decision
        if d.is_final:
            step = Step(index=index, kind="answer", thought=d.thought, result=d.answer, raw_reply=outcome.raw_reply,
                        usage=outcome.usage, seconds=seconds, data={"rationale": d.rationale,
                                                                    "examples": outcome.example_ids})
            return {"steps": [step], "decision": d.model_dump(), "pending": [],
                    "turns": state.get("turns", 0) + 1, "finished": "answered"}
        calls = [c.model_copy(update={"id": c.id or f"call_{index}_{k}"}) for k, c in enumerate(d.tool_calls)]
        step = Step(index=index, kind="plan", thought=d.thought, raw_reply=outcome.raw_reply, usage=outcome.usage,
                    seconds=seconds, data={"tool_calls": [c.model_dump() for c in calls],
                                           "examples": outcome.example_ids})
        return {"steps": [step], "pending": [c.model_dump() for c in calls], "decision": None,
                "turns": state.get("turns", 0) + 1}

    def plan(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        return plan_step(state, force=False)

    def force(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        update = plan_step(state, force=True)
        if update.get("finished") == "answered":
            update["finished"] = "budget_exhausted"
        return update

    def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        calls = [ToolCall.model_validate(c) for c in state.get("pending", [])]
        first = len(state.get("steps", []))
        steps = executor.run_many(calls, _context(config), first_index=first)
        return {"steps": steps, "pending": []}

    def after_plan(state: AgentState) -> str:
        if state.get("finished"):
            return END
        if state.get("pending"):
            return "tools"
        if state.get("retries", 0) > max_retries:
            return "force"
        return "plan" if state.get("turns", 0) < max_steps else "force"

    def after_tools(state: AgentState) -> str:
        return "plan" if state.get("turns", 0) < max_steps else "force"

    graph = StateGraph(AgentState)
    graph.add_node("plan", plan)
    graph.add_node("tools", tools)
    graph.add_node("force", force)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", after_plan, {"tools": "tools", "plan": "plan", "force": "force", END: END})
    graph.add_conditional_edges("tools", after_tools, {"plan": "plan", "force": "force"})
    graph.add_edge("force", END)
    return graph.compile(checkpointer=checkpointer)


def evidence_for(answer: str, steps: list[Step]) -> list[int]:
    """Tool steps that mention the answer; all successful tool steps when none does."""
    ok = [s for s in steps if s.kind == "tool" and s.error is None and s.result]
    token = answer.strip().lower()
    if token and token not in ("yes", "no", CANNOT_TELL):
        pattern = re.compile(rf"(?<![\w.]){re.escape(token)}(?![\w.])")
        hits = [s.index for s in ok if pattern.search(s.result.lower())]
        if hits:
            return hits
    return [s.index for s in ok]


def total_usage(steps: list[Step]) -> Usage:
    usage = Usage()
    for s in steps:
        if s.usage:
            usage = usage.add(s.usage)
    return usage


def final_decision(state: dict[str, Any]) -> Decision | None:
    d = state.get("decision")
    return Decision.model_validate(d) if d else None
