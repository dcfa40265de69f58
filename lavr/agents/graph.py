"""The one LangGraph graph every planning mode runs in: plan -> tools -> plan ... -> answer.

The planner (ReAct, program, pipeline, query) only decides moves; this graph owns the budgets (planning turns,
malformed replies), the forced final answer, and the single tool executor. The state is typed, with reducers:
``steps`` accumulate within a question and are reset when a thread gets its next question, and ``history``
keeps a thread's earlier (question, answer) turns, so a checkpointer gives persistent, resumable chat threads
in every mode alike.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite

from ..answers import short_answer
from ..backends.base import LLMBackend
from ..errors import BackendError
from ..planners.base import CANNOT_TELL, CallTools, Final, ImageInfo, PlanOutcome, Planner, PlanRequest
from ..schema import ToolCall
from ..tools.base import RunContext
from ..tools.registry import ToolRegistry
from ..trace import AnswerStep, PlanStep, RefusalStep, RetryStep, Step
from .executor import ToolExecutor

Finished = Literal["answered", "budget_exhausted", "failed"]
MAX_ANSWER_CHARS = 1000  # a runaway reply is not an answer; the full text stays in the trace


def add_steps(left: list[Step] | None, right: list[Step] | None) -> list[Step]:
    return list(left or []) + list(right or [])


def add_turns(left: list[tuple[str, str]] | None, right: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    return list(left or []) + list(right or [])


def add_records(left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return list(left or []) + list(right or [])


class AgentState(TypedDict, total=False):
    """The graph's state. Per question: ``question``, ``steps``, ``pending``, counters, ``final``, ``finished``.
    Per thread (kept across questions by a checkpointer): ``history``, ``images``, ``objects``, and ``answers``
    (each finished question's record: question, images, final, steps; committed with the question itself, so a
    chat thread's turns survive a crash whole or not at all)."""

    question: str
    images: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    history: Annotated[list[tuple[str, str]], add_turns]
    answers: Annotated[list[dict[str, Any]], add_records]
    steps: Annotated[list[Step], add_steps]
    pending: list[dict[str, Any]]
    turns: int
    retries: int
    final: dict[str, Any] | None
    finished: Finished | None
    error: str | None
    repeated: bool


def new_question(question: str, images: list[dict[str, Any]], history: list[tuple[str, str]] | None = None
                 ) -> dict[str, Any]:
    """The input that starts a question: per-question fields reset (``Overwrite`` bypasses the reducers)."""
    update: dict[str, Any] = {"question": question, "images": images, "steps": Overwrite([]), "pending": [],
                              "turns": 0, "retries": 0, "final": None, "finished": None, "error": None,
                              "repeated": False}
    if history is not None:
        update["history"] = Overwrite(list(history))
    return update


def _context(config: RunnableConfig) -> RunContext:
    ctx = (config.get("configurable") or {}).get("lavr_context")
    if ctx is None:  # pragma: no cover - Agent always passes it
        raise RuntimeError("lavr_context missing from the run config")
    return ctx


def _call_key(call: ToolCall) -> str:
    return f"{call.tool}:{json.dumps(call.args, sort_keys=True, default=str)}"


def repeats_earlier_calls(calls: list[ToolCall], steps: list[Step]) -> bool:
    """Whether every call of a move was already made, with the same arguments, earlier in this question. Tools
    are pure functions of their inputs, so another turn after them adds nothing: a small model otherwise repeats
    one call turn after turn. The calls still run (from the memo, at no cost) so their output is fresh in view,
    and then an answer is asked for."""
    made = {_call_key(c) for s in steps if isinstance(s, PlanStep) for c in s.tool_calls}
    return bool(calls) and all(_call_key(c) in made for c in calls)


def _finished_of(move: Final) -> Finished:
    if move.failed == "retries":
        return "budget_exhausted"
    return "failed" if move.failed == "template" or move.error else "answered"


def build_graph(planner: Planner, llm: LLMBackend, registry: ToolRegistry, executor: ToolExecutor, *,
                max_steps: int, max_retries: int, checkpointer: Any = None) -> Any:
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

    def record(state: AgentState, outcome: PlanOutcome, seconds: float, *, force: bool) -> dict[str, Any]:
        index = len(state.get("steps", []))
        turns = state.get("turns", 0) + (1 if outcome.used_llm else 0)
        move = outcome.move
        if move is None:
            step = RetryStep(index=index, error=outcome.error or "unusable reply", problems=outcome.problems,
                             raw_reply=outcome.raw_reply, usage=outcome.usage, seconds=seconds)
            update: dict[str, Any] = {"steps": [step], "retries": state.get("retries", 0) + 1, "pending": [],
                                      "turns": turns}
            if force:
                update["finished"] = "budget_exhausted"
            return update
        if isinstance(move, CallTools):
            calls = [c.model_copy(update={"id": c.id or f"call_{index}_{k}"}) for k, c in enumerate(move.calls)]
            if force:  # only an answer is allowed now: say so in the trace, and stop
                step = RefusalStep(index=index, tool_calls=calls, usage=outcome.usage, seconds=seconds,
                                   reason="the planning budget is spent: tools can no longer be called, so no "
                                          "answer was given")
                return {"steps": [step], "pending": [], "turns": turns, "finished": "budget_exhausted"}
            pending = {"pending": [c.model_dump() for c in calls], "turns": turns}
            if not outcome.used_llm:  # a scripted move (a pipeline's tool steps): the tool steps say it all
                return pending
            step = PlanStep(index=index, planner=planner.name, thought=move.thought or None, tool_calls=calls,
                            examples=outcome.example_ids, raw_reply=outcome.raw_reply or None,
                            program=move.program, usage=outcome.usage, seconds=seconds)
            repeated = repeats_earlier_calls(calls, list(state.get("steps", [])))
            return {"steps": [step], **pending, **({"repeated": True} if repeated else {})}
        step = AnswerStep(index=index, answer=move.answer, rationale=move.rationale, thought=move.thought or None,
                          final=move.final, call_id=move.call_id, evidence=move.evidence,
                          examples=outcome.example_ids, prompt=move.prompt, error=move.error,
                          raw_reply=outcome.raw_reply or None, usage=outcome.usage, seconds=seconds)
        if not move.final:
            return {"steps": [step], "pending": [], "turns": turns}
        # forced by a repeated call rather than a spent budget: an answer given then is an answer
        finished = "budget_exhausted" if force and not state.get("repeated") else _finished_of(move)
        return {"steps": [step], "pending": [], "turns": turns, "final": {"answer": move.answer,
                "rationale": move.rationale, "evidence": move.evidence, "verbatim": move.verbatim}, "finished": finished}

    def plan_step(state: AgentState, *, force: bool) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            outcome = planner.decide(request(state, force=force), llm)
        except BackendError as exc:
            return {"error": str(exc), "finished": "failed", "final": None, "pending": []}
        return record(state, outcome, round(time.perf_counter() - start, 4), force=force)

    def plan(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        return plan_step(state, force=False)

    def force(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        update = plan_step(state, force=True)
        update.setdefault("finished", "answered" if state.get("repeated") and update.get("final") else
                          "budget_exhausted")
        return update

    def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        calls = [ToolCall.model_validate(c) for c in state.get("pending", [])]
        earlier = list(state.get("steps", []))
        ctx = _context(config)
        steps = executor.run(calls, ctx, first_index=len(earlier), earlier=earlier, limit=planner.calls_per_turn)
        return {"steps": steps, "pending": [], "objects": [o.model_dump(mode="json") for o in ctx.objects.values()]}

    def finish(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Close the question: the answer (``cannot tell`` when there is none) joins the thread's history."""
        final = dict(state.get("final") or {"answer": CANNOT_TELL, "evidence": [],
                                             "rationale": "the planner gave no usable answer within its budget"})
        # The agent formats its answer (VQA style: "4", "yes", "red"); the LLM's own words stay in the AnswerStep.
        said = " ".join(str(final.get("answer") or "").split())[:MAX_ANSWER_CHARS]
        final["answer"] = (said if final.get("verbatim") else short_answer(said, question=state["question"])) \
            or CANNOT_TELL
        update: dict[str, Any] = {"final": final, "history": [(state["question"], final["answer"])]}
        if state.get("final") is None and state.get("finished") in (None, "answered"):
            update["finished"] = "budget_exhausted"
        update["answers"] = [{
            "question": state["question"], "final": final, "finished": update.get("finished", state.get("finished")),
            "images": [{k: i.get(k) for k in ("id", "width", "height", "sha256")} for i in state.get("images", [])],
            "steps": [s.model_dump(mode="json") for s in state.get("steps", [])],
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }]
        return update

    def after_plan(state: AgentState) -> str:
        if state.get("error"):
            return END
        if state.get("finished"):
            return "finish"
        if state.get("pending"):
            return "tools"
        if state.get("retries", 0) > max_retries:
            return "force"
        return "plan" if state.get("turns", 0) < max_steps else "force"

    def after_tools(state: AgentState) -> str:
        return "plan" if state.get("turns", 0) < max_steps and not state.get("repeated") else "force"

    graph = StateGraph(AgentState)
    graph.add_node("plan", plan)
    graph.add_node("tools", tools)
    graph.add_node("force", force)
    graph.add_node("finish", finish)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", after_plan, {"tools": "tools", "plan": "plan", "force": "force",
                                                     "finish": "finish", END: END})
    graph.add_conditional_edges("tools", after_tools, {"plan": "plan", "force": "force"})
    graph.add_conditional_edges("force", lambda s: END if s.get("error") else "finish", {"finish": "finish", END: END})
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
