"""Query mode with a scripted LLM: scene -> one constrained program -> exact answer; errors fed back once, then
ReAct; the static prefix and the per-question message."""

import json

import pytest
from PIL import Image

from lavr.agents import Agent, make_agent
from lavr.backends import ScriptedBackend
from lavr.planners.query import QueryPlanner, QueryPrompt
from lavr.schema import Box
from lavr.tools import QueryTool, SceneGraphTool
from lavr.tools.detect import RawDetection
from lavr.trace import AnswerStep, PlanStep, RetryStep, ToolStep
from tools_for_tests import FixedDetector

SHAPES = [
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.05, y1=0.4, x2=0.2, y2=0.6), attributes={"color": "red"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.4, y1=0.4, x2=0.55, y2=0.6), attributes={"color": "blue"}),
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.7, y1=0.4, x2=0.85, y2=0.6), attributes={"color": "red"}),
]
COUNT_RED = ["count", ["filter", "object", "red"]]
REACT_ANSWER = {"thought": "from the scene", "answer": "a drawing", "rationale": "the caption says so"}


@pytest.fixture
def image():
    return Image.new("RGB", (160, 120), (255, 255, 255))


def tools(settings):
    detector = FixedDetector(settings, SHAPES, labels=["circle", "square", "triangle"])
    scene = SceneGraphTool(settings, detector=detector)
    return [detector, scene, QueryTool(settings, scene_graph=scene)]


def agent_for(settings, replies, backend_cls=ScriptedBackend):
    s = settings.model_copy(update={"num_examples": 0})
    backend = backend_cls(replies)
    return Agent(backend, planner="query", settings=s, tools=tools(s), cache=False), backend


def test_one_llm_call_writes_the_program_and_the_tools_compute_the_answer(settings, image):
    agent, backend = agent_for(settings, [COUNT_RED])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == "2" and ans.finished == "answered" and ans.mode == "query"
    assert [type(s) for s in ans.steps] == [ToolStep, PlanStep, ToolStep, AnswerStep]
    scene, plan, query, final = ans.steps
    assert scene.tool == "scene_graph" and query.tool == "query" and query.args["steps"] == plan.program
    assert final.evidence == ["obj_0", "obj_2"] and "obj_0" in ans.rationale
    assert ans.usage.llm_calls == 1 and len(backend.requests) == 1  # no second call to compose the answer
    request = backend.requests[0]
    assert "$defs" in request["json_schema"] and "anyOf" in request["json_schema"]  # the compact form's grammar
    assert plan.program == [{"op": "select", "label": "object"},
                            {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
                            {"op": "count", "input": 1}]
    assert request["messages"][0].content == QueryPrompt().prefix_text  # the static prefix, byte for byte
    question = request["messages"][1].content
    assert question.endswith("Question: How many red objects are there?") and "circle" in question
    assert len(question) < 400  # per question the model newly reads only this short message


def test_the_prefix_is_identical_across_questions_and_images(settings, image):
    agent, backend = agent_for(settings, [COUNT_RED, COUNT_RED])
    agent.ask(image, "How many red objects are there?")
    agent.ask(Image.new("RGB", (50, 50)), "Count the red things.")
    first, second = (r["messages"][0].content for r in backend.requests)
    assert first == second


def test_a_program_naming_what_the_scene_lacks_is_fed_back_once(settings, image):
    wrong = ["count", "hexagon"]
    agent, backend = agent_for(settings, [wrong, COUNT_RED])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == "2" and [type(s) for s in ans.steps][:3] == [ToolStep, RetryStep, PlanStep]
    assert "hexagon" in ans.steps[1].error
    feedback = backend.requests[1]["messages"]
    assert json.loads(feedback[-2].content) == wrong and "invalid_program" in feedback[-1].content


def test_two_failures_hand_the_question_to_react(settings, image):
    wrong = ["count", "hexagon"]
    agent, backend = agent_for(settings, [wrong, wrong, REACT_ANSWER])
    ans = agent.ask(image, "How many hexagons are there?")  # a label no expert knows
    assert ans.answer == "a drawing" and ans.finished == "answered"
    assert sum(isinstance(s, RetryStep) for s in ans.steps) == 2
    react_prompt = backend.requests[2]["messages"]
    # ReAct sees its own turns, not the rejected programs
    assert not any('"hexagon"' in m.content or "invalid_program" in m.content for m in react_prompt)
    assert backend.requests[2]["json_schema"] != backend.requests[0]["json_schema"]


def test_an_unsupported_question_falls_back_to_react(settings, image):
    agent, backend = agent_for(settings, [["unsupported"], REACT_ANSWER])
    ans = agent.ask(image, "Why is the circle there?")
    assert ans.answer == "a drawing"
    query = next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query")
    assert query.data["answer_type"] == "unsupported"
    assert len(backend.requests) == 2


def test_a_question_naming_no_object_goes_to_react_without_writing_a_program(settings, image):
    agent, backend = agent_for(settings, [REACT_ANSWER])
    ans = agent.ask(image, "Is this a photograph or a drawing?")
    assert ans.answer == "a drawing" and ans.finished == "answered"
    query = next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query")
    assert query.data["answer_type"] == "unsupported"
    assert len(backend.requests) == 1  # ReAct's answer: the grammar left the program nothing to choose
    assert "$defs" not in backend.requests[0]["json_schema"]  # ReAct's decision, not a program's grammar


class PrimingBackend(ScriptedBackend):
    """A scripted backend that, like the embedded llama.cpp one, can keep a prompt prefix's KV state."""

    def __init__(self, replies):
        super().__init__(replies)
        self.primed = []

    def prime(self, prefix):
        import threading

        self.primed.append((threading.current_thread().name, [m.content for m in prefix]))


def test_the_prefix_is_primed_and_auto_picks_query_for_the_embedded_kind(settings, image):
    s = settings.model_copy(update={"num_examples": 0})
    backend = PrimingBackend([COUNT_RED])
    agent = make_agent("auto", backend, settings=s, tools=tools(s), cache=False)
    assert agent.mode == "query"
    assert agent.ask(image, "How many red objects are there?").answer == "2"
    # primed twice: in the background while the experts run (a new process overlaps model load and detection),
    # and by the program call itself (which then finds it ready, or waits for it)
    assert [p for _, p in backend.primed] == [[QueryPrompt().prefix_text]] * 2
    assert sorted(name == "lavr-llm-warm-up" for name, _ in backend.primed) == [False, True]
    assert make_agent("auto", ScriptedBackend([]), settings=s, tools=tools(s), cache=False).mode == "react"


def test_query_mode_without_the_query_tool_is_react(settings, image):
    s = settings.model_copy(update={"num_examples": 0})
    planner = QueryPlanner()
    agent = Agent(ScriptedBackend([REACT_ANSWER]), planner=planner, settings=s, tools=tools(s)[:2], cache=False)
    assert agent.ask(image, "What is this?").answer == "a drawing"


def test_a_program_leaving_out_what_the_question_names_is_fed_back_once_then_run(settings, image):
    dropped = ["count", "object"]  # "red" left out
    agent, backend = agent_for(settings, [dropped, COUNT_RED])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == "2" and isinstance(ans.steps[1], RetryStep) and "'red'" in ans.steps[1].error
    assert "use every label and value" in backend.requests[1]["messages"][-1].content
    # a rewrite that still leaves it out is run as written: a soft check, never a dead end
    agent, backend = agent_for(settings, [dropped, dropped])
    assert agent.ask(image, "How many red objects are there?").answer == "3"
    assert len(backend.requests) == 2



# Three squares of three colours; only the circle's material is known (as a CLEVR-like expert might give it).
MIXED = [
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.05, y1=0.1, x2=0.2, y2=0.25),
                 attributes={"color": "red", "material": "metal"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.3, y1=0.4, x2=0.45, y2=0.6), attributes={"color": "red"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.5, y1=0.4, x2=0.65, y2=0.6),
                 attributes={"color": "green"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.7, y1=0.4, x2=0.85, y2=0.6),
                 attributes={"color": "yellow"}),
]


@pytest.mark.parametrize("question,program,expected", [
    ("What color is the square?", ["query", "square", "color"], "there are 3 squares (obj_1, obj_2, obj_3); which one?"),
    ("What material is the green square?", ["query", ["filter", "square", "green"], "material"],
     "cannot tell: the experts give no material for obj_2"),
])
def test_an_answer_computed_by_the_query_tool_is_never_reworded(settings, image, question, program, expected):
    s = settings.model_copy(update={"num_examples": 0})
    detector = FixedDetector(s, MIXED, labels=["circle", "square"])
    scene = SceneGraphTool(s, detector=detector)
    agent = Agent(ScriptedBackend([program]), planner="query", settings=s, cache=False,
                  tools=[detector, scene, QueryTool(s, scene_graph=scene)])
    ans = agent.ask(image, question)
    query = next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query")
    assert query.data["answer"] == expected  # what the tool computed ...
    assert ans.answer == expected  # ... is the answer, whole (short_answer is for free LLM text only)
