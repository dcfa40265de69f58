"""Query mode with a scripted LLM: scene -> one program under the scene's grammar -> exact answer; a program
that does not answer the whole question is fed back once, then "cannot tell"; picture questions go to ReAct."""

import pytest
from PIL import Image
from tools_for_tests import FixedDetector

from lavr.agents import Agent, make_agent
from lavr.backends import BackendProfile, ScriptedBackend
from lavr.planners.query import QueryPlanner, QueryPrompt
from lavr.schema import Box
from lavr.tools import QueryTool, SceneGraphTool
from lavr.tools.detect import RawDetection
from lavr.trace import AnswerStep, PlanStep, RetryStep, ToolStep

SHAPES = [
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.05, y1=0.4, x2=0.2, y2=0.6),
                 attributes={"color": "red"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.4, y1=0.4, x2=0.55, y2=0.6),
                 attributes={"color": "blue"}),
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.7, y1=0.4, x2=0.85, y2=0.6),
                 attributes={"color": "red"}),
]
COUNT_RED = "count(all(red, objects))"
REACT_ANSWER = {"thought": "from the scene", "answer": "a drawing", "rationale": "the caption says so"}


@pytest.fixture
def image():
    return Image.new("RGB", (160, 120), (255, 255, 255))


def tools(settings, detections=SHAPES):
    detector = FixedDetector(settings, detections, labels=["circle", "square", "triangle"])
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
    assert scene.tool == "scene_graph" and query.tool == "query" and query.args["program"] == COUNT_RED
    assert final.evidence == ["obj_0", "obj_2"] and ans.rationale == "the number of red objects: 2 (obj_0, obj_2)"
    assert ans.usage.llm_calls == 1 and len(backend.requests) == 1  # no second call to compose the answer
    request = backend.requests[0]
    assert request["prefill"] == "P:" and request["grammar"].startswith('root ::= " " answer')
    grammar = request["grammar"]
    assert '"red"' in grammar and '"objects"' in grammar  # the scene's words the question says
    # what the check would reject in any program is left out: a label, a value and an op it does not say, and an
    # answer of another form ("how many" is answered with count(...))
    assert '"circle"' not in grammar and '"blue"' not in grammar and '"left_of("' not in grammar
    assert grammar.splitlines()[1] == 'answer ::= number | "unsupported()"'
    assert request["messages"][0].content == QueryPrompt().prefix_text  # the static prefix, byte for byte
    assert request["messages"][1].content == "Q: How many red objects are there?"


def test_the_prefix_is_identical_across_questions_and_images(settings, image):
    agent, backend = agent_for(settings, [COUNT_RED, "count(all(red, things))"])
    agent.ask(image, "How many red objects are there?")
    agent.ask(Image.new("RGB", (50, 50)), "Count the red things.")
    first, second = (r["messages"][0].content for r in backend.requests)
    assert first == second


def test_a_program_for_another_question_is_fed_back_once_then_cannot_tell_never_a_wrong_answer(settings, image):
    dropped = "count(all(objects))"  # "red" left out: the answer would be 3, to another question
    agent, backend = agent_for(settings, [dropped, COUNT_RED])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == "2" and [type(s) for s in ans.steps][:3] == [ToolStep, RetryStep, PlanStep]
    assert 'leaves out "red"' in ans.steps[1].error
    feedback = backend.requests[1]["messages"]
    assert feedback[-2].content == f"P: {dropped}" and 'leaves out "red"' in feedback[-1].content
    assert feedback[-1].content.endswith("Q: How many red objects are there?")
    # twice the same mistake: "cannot tell", saying what was not understood; the tools never ran the program
    agent, backend = agent_for(settings, [dropped, dropped])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == 'cannot tell: I could not write a program for the whole question (could not use "red")'
    assert not any(isinstance(s, ToolStep) and s.tool == "query" for s in ans.steps)
    assert len(backend.requests) == 2


def test_a_program_that_cannot_run_is_fed_back_with_what_is_allowed(settings, image):
    agent, backend = agent_for(settings, ["count(the(circle))", COUNT_RED])
    ans = agent.ask(image, "How many red objects are there?")
    assert ans.answer == "2" and "a set of objects" in ans.steps[1].error
    agent, backend = agent_for(settings, ["count(the(circle))", "count(all(red, red, red"])
    ans = agent.ask(image, "How many red objects are there?")  # twice: the user reads why, in plain words
    assert ans.answer.startswith("cannot tell: I could not write a program for the whole question that runs (")


def test_a_word_no_expert_knows_is_cannot_tell_without_calling_the_llm(settings, image):
    agent, backend = agent_for(settings, [])
    ans = agent.ask(image, "Is there a red hexagon?")
    assert ans.answer == 'cannot tell: I do not know the word "hexagon"' and backend.requests == []
    ans = agent.ask(image, "How many dogs are there?")
    assert ans.answer == "cannot tell: the experts here cannot find dogs" and backend.requests == []


@pytest.mark.parametrize("question", ["Is the triangle left of the square?", "What color is the triangle?",
                                      "Is the red triangle on the left?", "Are the triangles blue?"])
def test_a_thing_the_question_takes_to_be_there_but_not_found_is_cannot_tell_not_no(settings, image, question):
    agent, backend = agent_for(settings, [])
    ans = agent.ask(image, question)
    noun = "triangles" if "triangles" in question else "triangle"
    assert ans.answer == f"cannot tell: the question speaks of the {noun}, but the experts found no {noun}"
    assert backend.requests == []


@pytest.mark.parametrize(("question", "program", "expected"), [
    ("Is there a triangle left of the square?", "exists(all(triangle, left_of(all(square))))", "no"),
    ("Do the triangles outnumber the squares?", "more(count(all(triangles)), count(all(squares)))", "no"),
    ("How many triangles are left of the square?", "count(all(triangles, left_of(all(square))))", "0"),
    ("Is the square left of the circle?", "is(the(square), left_of(the(circle)))", "cannot tell"),
])
def test_an_indefinite_or_counted_absent_thing_is_asked_as_usual(settings, image, question, program, expected):
    agent, backend = agent_for(settings, [program])
    assert agent.ask(image, question).answer.startswith(expected) and len(backend.requests) == 1


def test_a_relation_put_on_the_wrong_thing_is_repaired_from_the_question_without_a_second_call(settings, image):
    s = settings.model_copy(update={"num_examples": 0})
    pair = [RawDetection(label="circle", confidence=1.0, box=Box(x1=0.05, y1=0.4, x2=0.2, y2=0.6),
                         attributes={"color": "red"}),
            RawDetection(label="square", confidence=1.0, box=Box(x1=0.6, y1=0.4, x2=0.8, y2=0.6),
                         attributes={"color": "blue"})]
    backend = ScriptedBackend(["exists(all(square, left_of(the(red, circle))))"])
    agent = Agent(backend, planner="query", settings=s, tools=tools(s, pair), cache=False)
    ans = agent.ask(image, "Is the red circle left of the blue square?")
    assert ans.answer == "yes" and len(backend.requests) == 1
    query = next(st for st in ans.steps if isinstance(st, ToolStep) and st.tool == "query")
    assert query.args["program"] == "is(the(red, circle), left_of(the(blue, square)))"


def test_an_unsupported_question_falls_back_to_react(settings, image):
    agent, backend = agent_for(settings, ["unsupported()", REACT_ANSWER])
    ans = agent.ask(image, "How many more circles than squares are there?")
    assert ans.answer == "a drawing"
    query = next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query")
    assert query.data["answer_type"] == "unsupported"
    assert len(backend.requests) == 2 and backend.requests[1]["grammar"] is None
    # ReAct sees its own turns, not the program attempt
    assert not any("unsupported()" in m.content for m in backend.requests[1]["messages"])


def test_a_question_about_the_picture_goes_to_react_without_writing_a_program(settings, image):
    agent, backend = agent_for(settings, [REACT_ANSWER])
    ans = agent.ask(image, "Is this a photograph or a drawing?")
    assert ans.answer == "a drawing" and ans.finished == "answered"
    query = next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query")
    assert query.data["answer_type"] == "unsupported"
    assert len(backend.requests) == 1 and backend.requests[0]["grammar"] is None  # ReAct's decision


def test_an_exact_answer_is_shown_whole(settings, image):
    agent, _ = agent_for(settings, ["color(the(object))"])
    ans = agent.ask(image, "What color is the object?")
    assert ans.answer == "cannot tell: 3 objects match the object (obj_0, obj_1, obj_2)"  # never shortened


def test_several_images_the_planner_builds_every_scene_and_names_the_images(settings, image):
    s = settings.model_copy(update={"num_examples": 0})
    backend = ScriptedBackend(["which_more(all(circles))"])
    agent = Agent(backend, planner="query", settings=s, tools=tools(s), cache=False)
    ans = agent.ask([image, Image.new("RGB", (160, 120), (0, 0, 0))], "Which image has more circles?")
    scenes = [st for st in ans.steps if isinstance(st, ToolStep) and st.tool == "scene_graph"]
    assert sorted(st.args["image"] for st in scenes) == ["img_0", "img_1"]
    assert backend.requests[0]["messages"][-1].content.startswith(
        "Images: img_0 (first, this one), img_1 (second, the other one)")
    assert ans.answer.startswith("cannot tell: the images tie")  # the fixed detector sees the same in both


class PrimingBackend(ScriptedBackend):
    """A scripted backend that, like the embedded llama.cpp one, can keep a prompt prefix's KV state."""

    def __init__(self, replies):
        super().__init__(replies, profile=BackendProfile(supports_grammar=True, supports_prefill=True,
                                                         can_prime_prefix=True, default_planner="query"))
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


def test_query_mode_without_the_query_tool_is_react(settings, image):
    s = settings.model_copy(update={"num_examples": 0})
    planner = QueryPlanner()
    agent = Agent(ScriptedBackend([REACT_ANSWER]), planner=planner, settings=s, tools=tools(s)[:2], cache=False)
    assert agent.ask(image, "What is this?").answer == "a drawing"


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
    ("What color is the square?", "color(the(square))",
     "cannot tell: 3 objects match the square (obj_1, obj_2, obj_3)"),
    ("What material is the green square?", "material(the(green, square))",
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


def test_no_grammar_offers_what_the_question_does_not_say_and_a_reply_outside_it_is_sent_back(settings, image):
    """A backend that ignores the grammar (as a remote one may) wrote "blue": the check sends it back, saying so;
    neither grammar offered it."""
    agent, backend = agent_for(settings, ["count(all(blue, objects))", COUNT_RED])
    assert agent.ask(image, "How many red objects are there?").answer == "2"
    first, second = backend.requests[0]["grammar"], backend.requests[1]["grammar"]
    assert '"blue"' not in first and '"blue"' not in second  # the question never says blue
    assert '"red"' in second and '"objects"' in second
    assert 'it uses "blue"' in backend.requests[1]["messages"][-1].content


def test_a_set_that_names_no_kind_gets_the_one_noun_the_question_left_out(settings, image):
    """"How many circles are red?" written count(all(red)): the one set without a noun gets "circle", the
    repaired program passes the checks and runs, with no second call; with two such sets nothing is guessed."""
    agent, backend = agent_for(settings, ["count(all(red))"])
    ans = agent.ask(image, "How many circles are red?")
    assert ans.answer == "2" and len(backend.requests) == 1
    assert next(s for s in ans.steps if isinstance(s, ToolStep) and s.tool == "query").args["program"] == \
        "count(all(circle, red))"
    agent, backend = agent_for(settings, ["exists(all(red, left_of(all(blue))))"] * 2)
    ans = agent.ask(image, "Is there a red circle left of a blue square?")
    assert ans.answer.startswith("cannot tell") and len(backend.requests) == 2  # circle or square: which set?


def test_a_rewrite_after_a_wrong_form_cannot_start_with_the_same_op(settings, image):
    agent, backend = agent_for(settings, ["exists(all(square))", "color(the(square))"])
    assert agent.ask(image, "What color is the square?").answer == "blue"
    assert '"exists("' in backend.requests[0]["grammar"] and '"exists("' not in backend.requests[1]["grammar"]
