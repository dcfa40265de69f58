"""The one LangGraph graph every planning mode runs in: plan -> tools -> plan ... -> finish.

The planner (ReAct, pipeline, query, naive) only decides moves; this graph owns the budgets (planning turns,
malformed replies), the forced final answer, and the single tool executor. The planning nodes only record what
the planner's typed move was (``outcome``); the routing reads it, and the ``finish`` node decides once how the
question ended (``conclude``). The state is typed, with reducers:
``steps`` accumulate within a question and are reset when a thread gets its next question, and ``history``
keeps a thread's earlier (question, answer) turns, so a checkpointer gives persistent, resumable chat threads
in every mode alike.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite

from ..answers import short_answer
from ..backends.base import LLMBackend
from ..errors import BackendError, ContextFull
from ..planners.base import (
    CANNOT_TELL,
    CallTools,
    Failure,
    Final,
    ImageInfo,
    LlmStep,
    Planner,
    PlanOutcome,
    PlanRequest,
)
from ..schema import ToolCall
from ..tools.base import RunContext
from ..tools.registry import ToolRegistry
from ..trace import AnswerStep, PlanStep, RefusalStep, RetryStep, Step
from .executor import ToolExecutor

Finished = Literal["answered", "budget_exhausted", "failed"]
# What the last planning node produced, the one input of the routing and of the terminal decision:
# ``tools`` (calls to run), ``repeat`` (calls that were all made before with the same arguments: they run once
# more and then an answer is asked for), ``step`` (a pipeline's intermediate LLM step), ``retry`` (an unusable
# reply), ``answer`` (a ``Final``), ``refused`` (tool calls when only an answer was allowed), ``error`` (the LLM
# backend failed: the run raises).
Outcome = Literal["tools", "repeat", "step", "retry", "answer", "refused", "error"]
# Why the force node asked for an answer only: a budget (turns or retries) is spent, or the last move repeated
# earlier calls (an answer given then is an answer, not a spent budget).
Forced = Literal["budget", "repeat"]
MAX_ANSWER_CHARS = 1000  # a runaway reply is not an answer; the full text stays in the trace


def add_steps(left: list[Step] | None, right: list[Step] | None) -> list[Step]:
    return list(left or []) + list(right or [])


def add_turns(left: list[tuple[str, str]] | None, right: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    return list(left or []) + list(right or [])


def add_records(left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return list(left or []) + list(right or [])


class AgentState(TypedDict, total=False):
    """The graph's state. Per question: ``question``, ``steps``, ``pending``, counters, ``outcome``, ``forced``,
    ``final`` and ``finished`` (set once, by the ``finish`` node). Per thread (kept across questions by a
    checkpointer): ``history``, ``images``, ``objects`` (the object ids given out: the tools node loads them into
    the run context before its calls and stores them back after, so the state is their one source of truth), and
    ``answers`` (each finished question's record: question, images, final, steps; committed with the question
    itself, so a chat thread's turns survive a crash whole or not at all)."""

    question: str
    images: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    history: Annotated[list[tuple[str, str]], add_turns]
    answers: Annotated[list[dict[str, Any]], add_records]
    steps: Annotated[list[Step], add_steps]
    pending: list[dict[str, Any]]
    turns: int
    retries: int
    outcome: Outcome | None
    forced: Forced | None
    final: dict[str, Any] | None
    finished: Finished | None
    error: str | None


def new_question(question: str, images: list[dict[str, Any]], history: list[tuple[str, str]] | None = None
                 ) -> dict[str, Any]:
    """The input that starts a question: per-question fields reset (``Overwrite`` bypasses the reducers)."""
    update: dict[str, Any] = {"question": question, "images": images, "steps": Overwrite([]), "pending": [],
                              "turns": 0, "retries": 0, "outcome": None, "forced": None, "final": None,
                              "finished": None, "error": None}
    if history is not None:
        update["history"] = Overwrite(list(history))
    return update


def programs_that_ran(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each finished question's program (the last one a tool ran without an error), by question."""
    programs: dict[str, str] = {}
    for record in records:
        steps = record.get("steps") or []
        ran = {s.get("call_id") for s in steps if s.get("kind") == "tool" and s.get("error") is None}
        for s in steps:
            if s.get("kind") == "plan" and isinstance(s.get("program"), str) and \
                    any(c.get("id") in ran for c in s.get("tool_calls") or []):
                programs[str(record.get("question", ""))] = s["program"]
    return programs


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


def conclude(state: AgentState) -> Finished:
    """How the question ended: the one terminal decision, from the final move and why an answer was forced."""
    final = state.get("final")
    if final is None or state.get("forced") == "budget":
        return "budget_exhausted"  # no answer within the budget, or one only given because the budget was spent
    failure = final.get("failure")
    if failure in ("retries", "context"):
        return "budget_exhausted"
    return "failed" if failure else "answered"


def final_record(move: Final) -> dict[str, Any]:
    """The part of a ``Final`` the state keeps (JSON-safe: checkpoints and a thread's records hold it)."""
    return {"answer": move.answer, "rationale": move.rationale, "evidence": list(move.evidence),
            "verbatim": move.verbatim, "failure": move.failure.reason if move.failure else None}


def build_graph(planner: Planner, llm: LLMBackend, registry: ToolRegistry, executor: ToolExecutor, *,
                max_steps: int, max_retries: int, checkpointer: Any = None) -> Any:
    """Compile the agent graph. The run's ``RunContext`` (images, cache, memo: resources, not state) travels in
    ``config['configurable']['lavr_context']``."""

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
            programs=programs_that_ran(state.get("answers", [])),
        )

    def record(state: AgentState, outcome: PlanOutcome, seconds: float, *, force: bool) -> dict[str, Any]:
        """The planner's outcome as trace steps and state: what happened, never where to go next."""
        index = len(state.get("steps", []))
        turns = state.get("turns", 0) + (1 if outcome.used_llm else 0)
        move = outcome.move
        update: dict[str, Any] = {"pending": [], "turns": turns}
        if move is None:
            step: Step = RetryStep(index=index, error=outcome.error or "unusable reply", problems=outcome.problems,
                                   raw_reply=outcome.raw_reply, usage=outcome.usage, seconds=seconds)
            return {**update, "steps": [step], "retries": state.get("retries", 0) + 1, "outcome": "retry"}
        if isinstance(move, CallTools):
            calls = [c.model_copy(update={"id": c.id or f"call_{index}_{k}"}) for k, c in enumerate(move.calls)]
            if force:  # only an answer is allowed now: say so in the trace
                step = RefusalStep(index=index, tool_calls=calls, usage=outcome.usage, seconds=seconds,
                                   reason="the planning budget is spent: tools can no longer be called, so no "
                                          "answer was given")
                return {**update, "steps": [step], "outcome": "refused"}
            repeat = repeats_earlier_calls(calls, list(state.get("steps", [])))
            update.update(pending=[c.model_dump() for c in calls], outcome="repeat" if repeat else "tools")
            if not outcome.used_llm:  # a scripted move (a pipeline's tool steps): the tool steps say it all
                return update
            step = PlanStep(index=index, planner=planner.name, thought=move.thought or None, tool_calls=calls,
                            examples=outcome.example_ids, raw_reply=outcome.raw_reply or None,
                            program=move.program, usage=outcome.usage, seconds=seconds)
            return {**update, "steps": [step]}
        if isinstance(move, LlmStep):
            step = AnswerStep(index=index, answer=move.answer, rationale=move.rationale,
                              thought=move.thought or None, final=False, call_id=move.step_id, prompt=move.prompt,
                              error=move.error, raw_reply=outcome.raw_reply or None, usage=outcome.usage,
                              seconds=seconds)
            return {**update, "steps": [step], "outcome": "step"}
        given_by = move.step
        error = move.failure.detail if move.failure else (given_by.error if given_by else None)
        step = AnswerStep(index=index, answer=move.answer, rationale=move.rationale, thought=move.thought or None,
                          call_id=given_by.step_id if given_by else None, evidence=move.evidence,
                          examples=outcome.example_ids, prompt=given_by.prompt if given_by else None, error=error,
                          raw_reply=outcome.raw_reply or None, usage=outcome.usage, seconds=seconds)
        return {**update, "steps": [step], "outcome": "answer", "final": final_record(move)}

    def plan_step(state: AgentState, *, force: bool) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            outcome = planner.decide(request(state, force=force), llm)
        except ContextFull as exc:  # a budget the steps ran out of, like the step budget: no answer, not a failure
            outcome = PlanOutcome(move=Final(
                answer=f"{CANNOT_TELL}: the steps so far no longer fit the language model's context",
                verbatim=True, failure=Failure("context", str(exc))))
        except BackendError as exc:
            return {"error": str(exc), "outcome": "error", "final": None, "pending": []}
        return record(state, outcome, round(time.perf_counter() - start, 4), force=force)

    def plan(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        return plan_step(state, force=False)

    def force(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        forced: Forced = "repeat" if state.get("outcome") == "repeat" else "budget"
        return {**plan_step(state, force=True), "forced": forced}

    def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        calls = [ToolCall.model_validate(c) for c in state.get("pending", [])]
        earlier = list(state.get("steps", []))
        ctx = _context(config)
        ctx.restore_objects(state.get("objects") or [])
        steps = executor.run(calls, ctx, first_index=len(earlier), earlier=earlier, limit=planner.calls_per_turn)
        return {"steps": steps, "pending": [], "objects": [o.model_dump(mode="json") for o in ctx.objects.values()]}

    def finish(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Close the question: decide how it ended; the answer (``cannot tell`` when there is none) joins the
        thread's history."""
        finished = conclude(state)
        final = dict(state.get("final") or {"answer": CANNOT_TELL, "evidence": [],
                                             "rationale": "the planner gave no usable answer within its budget"})
        # The agent formats its answer (VQA style: "4", "yes", "red"); the LLM's own words stay in the AnswerStep.
        said = " ".join(str(final.get("answer") or "").split())[:MAX_ANSWER_CHARS]
        final["answer"] = (said if final.get("verbatim") else short_answer(said, question=state["question"])) \
            or CANNOT_TELL
        return {"final": final, "finished": finished, "history": [(state["question"], final["answer"])],
                "answers": [{
                    "question": state["question"], "final": final, "finished": finished,
                    "images": [{k: i.get(k) for k in ("id", "width", "height", "sha256")}
                               for i in state.get("images", [])],
                    "steps": [s.model_dump(mode="json") for s in state.get("steps", [])],
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                }]}

    def after_plan(state: AgentState) -> str:
        outcome = state.get("outcome")
        if outcome == "error":
            return END
        if outcome == "answer":
            return "finish"
        if outcome in ("tools", "repeat"):
            return "tools"
        if state.get("retries", 0) > max_retries or state.get("turns", 0) >= max_steps:
            return "force"
        return "plan"

    def after_tools(state: AgentState) -> str:
        if state.get("outcome") == "repeat" or state.get("turns", 0) >= max_steps:
            return "force"
        return "plan"

    def after_force(state: AgentState) -> str:
        return END if state.get("outcome") == "error" else "finish"  # whatever the forced move was, it ends here

    graph = StateGraph(AgentState)
    graph.add_node("plan", plan)
    graph.add_node("tools", tools)
    graph.add_node("force", force)
    graph.add_node("finish", finish)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", after_plan, {"tools": "tools", "plan": "plan", "force": "force",
                                                     "finish": "finish", END: END})
    graph.add_conditional_edges("tools", after_tools, {"plan": "plan", "force": "force"})
    graph.add_conditional_edges("force", after_force, {"finish": "finish", END: END})
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
