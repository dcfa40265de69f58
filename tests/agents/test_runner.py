"""The one runner: every mode in the same graph, one executor's rules (limits, timeouts, order), threads, API."""

import random
import threading
import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from PIL import Image
from pydantic import Field
from tools_for_tests import CountTool, SlowTool

from lavr import Agent
from lavr.agents import make_agent
from lavr.agents.executor import ToolExecutor
from lavr.backends import ScriptedBackend
from lavr.errors import InputError
from lavr.schema import Box, ToolCall
from lavr.tools.base import ImageArg, RunContext, Tool, ToolOutput
from lavr.tools.registry import ToolRegistry
from lavr.trace import AnswerStep, RefusalStep, ToolStep


def calls(*labels):
    return {"thought": "count them", "tool_calls": [{"tool": "count", "args": {"label": lb}} for lb in labels]}


def answer(text):
    return {"thought": "done", "answer": text, "rationale": "from the counts"}


@pytest.fixture
def image():
    return Image.new("RGB", (64, 48), (10, 200, 10))


def agent_for(settings, replies, tools=None, **updates):
    s = settings.model_copy(update={"num_examples": 0, **updates})
    backend = ScriptedBackend(replies)
    return Agent(backend, settings=s, tools=tools or [CountTool(s)], cache=False), backend


def test_the_per_turn_call_limit_is_enforced_for_every_backend(settings, image):
    # A backend without a grammar can ask for any number of calls; the executor runs the first four.
    agent, backend = agent_for(settings, [calls(*[f"x{i}" for i in range(40)]), answer("4")])
    ans = agent.ask(image, "How many?")
    assert sum(isinstance(s, ToolStep) for s in ans.steps) == 4
    [refusal] = [s for s in ans.steps if isinstance(s, RefusalStep)]
    assert len(refusal.tool_calls) == 36 and "at most 4 tool calls" in refusal.reason
    assert "at most 4 tool calls" in backend.requests[1]["messages"][-1].content  # the LLM is told


def test_a_timed_out_tool_frees_its_slot(settings):
    s = settings.model_copy(update={"tool_timeout_s": 0.3})
    executor = ToolExecutor(ToolRegistry([SlowTool(s), CountTool(s)]), timeout_s=0.3, max_parallel=1)
    ctx = RunContext(s)
    hung = [executor.run_one(ToolCall(tool="slow"), ctx) for _ in range(3)]
    assert all("timed out after 0.3 s" in h.error for h in hung)
    start = time.perf_counter()
    ok = executor.run_one(ToolCall(tool="count", args={"label": "bus"}), ctx)
    assert ok.error is None and ok.result == "counts: bus=1" and time.perf_counter() - start < 0.3
    assert executor.retired_pools == 3


def test_the_forced_answer_records_a_refusal(settings, image):
    agent, backend = agent_for(settings, [calls("person")], max_steps=1)
    backend.repeat_last = True
    ans = agent.ask(image, "How many?")
    assert ans.answer == "cannot tell" and ans.finished == "budget_exhausted"
    assert isinstance(ans.steps[-1], RefusalStep) and "budget is spent" in ans.steps[-1].reason
    assert ans.steps[-1].tool_calls[0].tool == "count"


@pytest.mark.parametrize("image_arg,question,needle", [
    (None, "q?", "the image must be a path, bytes or a PIL image, not NoneType"),
    (3, "q?", "not int"), ([1, 2], "q?", "not int"), ([], "q?", "no image given"),
    ("IMG", None, "the question must be a string, not NoneType"), ("IMG", 7, "not int"), ("IMG", ["a"], "not list"),
])
def test_the_python_api_refuses_wrong_types(settings, image, image_arg, question, needle):
    agent, _ = agent_for(settings, [answer("1")])
    with pytest.raises(InputError, match=needle):
        agent.ask(image if image_arg == "IMG" else image_arg, question)


def test_every_mode_runs_in_the_same_graph(settings, tmp_path):
    pipeline = {"steps": [{"id": "n", "tool": "count", "args": {"label": "bus"}}]}
    agents = [make_agent(mode, ScriptedBackend([]), settings=settings, tools=[CountTool(settings)], cache=False,
                         pipeline=pipeline if mode == "pipeline" else None) for mode in ("react", "naive", "pipeline")]
    shapes = {frozenset(a.graph.get_graph().nodes) for a in agents}
    assert len(shapes) == 1 and {"plan", "tools", "force", "finish"} <= set(next(iter(shapes)))
    assert [a.mode for a in agents] == ["react", "naive", "pipeline"]


@pytest.mark.parametrize("mode", ["react"])
def test_a_thread_keeps_its_turns_in_every_mode(settings, image, mode):
    s = settings.model_copy(update={"num_examples": 0})
    replies = [calls("person"), answer("4"), answer("4 people, as before")]
    backend = ScriptedBackend(replies)
    agent = make_agent(mode, backend, settings=s, tools=[CountTool(s)], cache=False, checkpointer=InMemorySaver())
    first = agent.ask(image, "How many people?", thread_id="t1")
    second = agent.ask(image, "And now?", thread_id="t1")
    assert first.thread_id == second.thread_id == "t1"
    assert second.steps[0].index == 0 and all(s.index == i for i, s in enumerate(second.steps))  # a fresh trace
    later = backend.requests[-1]["messages"][1].content
    assert "Earlier in this conversation:\nQ: How many people?\nA: 4" in later
    state = agent.graph.get_state({"configurable": {"thread_id": "t1"}}).values
    assert [tuple(t) for t in state["history"]] == [("How many people?", "4"), ("And now?", second.answer)]


class SpotInput(ImageArg):
    spot: int = Field(description="Which spot.")


class SpotOutput(ToolOutput):
    id: str

    def to_text(self) -> str:
        return self.id


class SpotTool(Tool[SpotInput, SpotOutput]):
    """Registers an object at a spot; its expensive part takes a random time."""

    name = "spot"
    input_model = SpotInput
    output_model = SpotOutput

    def prefetch(self, args: SpotInput, ctx: RunContext) -> None:
        time.sleep(random.uniform(0, 0.03))

    def run(self, args: SpotInput, ctx: RunContext) -> SpotOutput:
        x = args.spot / 10
        obj = ctx.register_object(image=args.image, label="dot", confidence=1.0,
                                  box=Box(x1=x, y1=0.0, x2=x + 0.05, y2=0.05))
        return SpotOutput(id=obj.id)


def test_object_ids_follow_the_order_of_the_calls_not_thread_timing(settings, image):
    executor = ToolExecutor(ToolRegistry([SpotTool(settings)]), max_parallel=4)
    seen = set()
    for _ in range(5):
        ctx = RunContext(settings)
        ctx.images.add(image)
        steps = executor.run([ToolCall(tool="spot", args={"spot": k}, id=f"c{k}") for k in (3, 1, 2, 0)], ctx,
                             first_index=0)
        seen.add(tuple(s.result for s in steps))
    assert seen == {("obj_0", "obj_1", "obj_2", "obj_3")}
    assert threading.active_count() < 50


def test_pipeline_llm_answers_are_references_too(settings, image):
    pipeline = {"steps": [{"id": "ask", "llm": "Which label? {{ question }}"},
                          {"id": "n", "tool": "count", "args": {"label": "$ask.answer"}}]}
    agent = make_agent("pipeline", ScriptedBackend([{"answer": "bus", "rationale": "r"}]), settings=settings,
                       tools=[CountTool(settings)], cache=False, pipeline=pipeline)
    ans = agent.ask(image, "Count the buses")
    assert ans.answer == "bus"  # a pipeline answers with its last LLM step
    assert [type(s) for s in ans.steps] == [AnswerStep, ToolStep, AnswerStep] and ans.steps[0].final is False
    assert ans.steps[1].args == {"label": "bus"} and ans.steps[1].result == "counts: bus=1"


def test_the_agent_formats_its_answer_and_keeps_the_llms_words(settings, image):
    agent, _ = agent_for(settings, [calls("person"), answer("There are 4 people.")])
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and ans.steps[-1].answer == "There are 4 people."
