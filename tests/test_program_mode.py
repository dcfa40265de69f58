"""Program mode driven by a scripted LLM: the whole plan at once, validated before it runs, then one answer call."""

import json

import pytest
from PIL import Image

from lavr.agents import make_agent
from lavr.backends import ScriptedBackend
from lavr.errors import InputError
from lavr.planners.base import ImageInfo, PlanRequest
from lavr.planners.program.model import Program, ProgramStep, validate_program
from lavr.planners.program.planner import ProgramPlanner, example_program, parse_program, render_program
from lavr.prompts import load_examples, templates
from lavr.refs import RefError, parse_ref, substitute
from lavr.settings import Settings
from lavr.tools import SceneGraphTool, default_tools
from tools_for_programs import FakeDetectTool, ProbeTool
from tools_for_tests import CountTool, CrashTool


def program(*steps, thought="plan it"):
    return {"thought": thought, "program": [{"id": i, "tool": t, "args": a} for i, t, a in steps]}


def answer(text, rationale="from the observations"):
    return {"thought": "done", "answer": text, "rationale": rationale}


def make(settings, replies, tools=None, **updates):
    s = settings.model_copy(update={"num_examples": 0, "tool_timeout_s": 2.0, **updates})
    backend = ScriptedBackend(replies)
    tools = tools if tools is not None else [(fake := FakeDetectTool(s)), SceneGraphTool(s, detector=fake), CountTool(s), CrashTool(s)]
    return make_agent("program", backend, settings=s, tools=tools, cache=False), backend


@pytest.fixture
def image():
    return Image.new("RGB", (64, 48), (10, 200, 10))


LEFT_OF_LAST = program(("s1", "fake_detect", {"image": "img_0", "classes": ["person"]}),
                       ("s2", "scene_graph", {"label": "person", "relation": "left_of",
                                              "target": "$s1.detections[-1].id"}))


def test_happy_path_resolves_references_and_composes(settings, image):
    agent, backend = make(settings, [LEFT_OF_LAST, answer("2", "scene_graph count=2")])
    ans = agent.ask(image, "How many people are left of the rightmost person?")
    assert ans.answer == "2" and ans.finished == "answered" and ans.retries == 0
    assert [s.kind for s in ans.steps] == ["plan", "tool", "tool", "answer"]
    plan, detect, graph, final = ans.steps
    assert plan.program[1]["args"]["target"] == "$s1.detections[-1].id" and plan.thought == "plan it"
    assert [detect.call_id, graph.call_id] == ["s1", "s2"]
    assert graph.args["target"] == "obj_2" and "count=2; matches: obj_0, obj_1" in graph.result
    assert final.answer == "2" and final.rationale == "scene_graph count=2"
    assert ans.usage.llm_calls == 2 and len(backend.requests) == 2
    # the write call is constrained by the program schema, the compose call by the answer schema
    variants = backend.requests[0]["json_schema"]["properties"]["program"]["items"]["anyOf"]
    assert [v["properties"]["tool"]["const"] for v in variants] == ["fake_detect", "scene_graph", "count", "crash"]
    assert backend.requests[1]["json_schema"]["required"] == ["thought", "answer", "rationale"]
    compose = backend.requests[1]["messages"]
    assert json.loads(compose[-2].content)["program"][1]["id"] == "s2"
    assert "Observation s1 (fake_detect): img_0: 3 objects" in compose[-1].content
    assert "Observation s2 (scene_graph): scene graph of img_0" in compose[-1].content
    assert 'Answer "cannot tell" if the observations do not establish the answer.' in compose[-1].content
    system = backend.requests[0]["messages"][0].content
    assert '"$s1.detections[0].id"' in system and "output fields: image: string; detections: [{id: string" in system
    assert ans.evidence == []  # evidence is object ids: the rationale names none


def test_invalid_program_is_fed_back_then_fixed(settings, image):
    bad = program(("s1", "teleport", {}), ("s1", "count", {"label": "person", "colour": "red"}))
    agent, backend = make(settings, [bad, program(("s1", "count", {"label": "person"})), answer("4")])
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and ans.retries == 1
    assert [s.kind for s in ans.steps] == ["retry", "plan", "tool", "answer"]
    problems = ans.steps[0].problems
    assert any("unknown tool 'teleport'. Valid tools: fake_detect, scene_graph, count, crash" in p for p in problems)
    assert any("used twice" in p for p in problems)
    assert any("unknown argument 'colour'. Accepted arguments: label" in p for p in problems)
    feedback = backend.requests[1]["messages"]
    assert feedback[-2].role == "assistant" and json.loads(feedback[-2].content) == bad
    error = json.loads(feedback[-1].content.splitlines()[0])
    assert error["error"] == "invalid_program" and error["problems"] == problems and error["retries_left"] == 2
    assert "Nothing was run" in feedback[-1].content


def test_forward_reference_is_rejected_before_any_tool_runs(settings, image):
    counter = CountTool(settings)
    calls = []
    original = counter.run
    counter.run = lambda args, ctx: calls.append(args) or original(args, ctx)
    forward = program(("s1", "count", {"label": "$s2.label"}), ("s2", "count", {"label": "person"}))
    agent, backend = make(settings, [forward], tools=[counter], max_retries=1)
    backend.repeat_last = True
    ans = agent.ask(image, "How many people?")
    assert calls == [] and not [s for s in ans.steps if s.kind == "tool"]
    assert [s.kind for s in ans.steps] == ["retry", "retry", "answer"]
    assert "no valid program" in ans.steps[-1].rationale and ans.steps[-1].usage is None  # no LLM call
    assert 'reference "$s2.label" names step s2, which runs later' in ans.steps[0].error
    assert ans.answer == "cannot tell" and ans.finished == "budget_exhausted" and ans.retries == 2
    assert len(backend.requests) == 2  # no compose call: nothing ran


def test_tool_error_and_unresolvable_reference_reach_the_compose_step(settings, image):
    prog = program(("s1", "crash", {}), ("s2", "count", {"label": "$s1.text"}), ("s3", "count", {"label": "bus"}))
    agent, backend = make(settings, [prog, answer("1")])
    ans = agent.ask(image, "How many buses?")
    tools = [s for s in ans.steps if s.kind == "tool"]
    assert tools[0].error == "crash crashed: RuntimeError: boom"
    assert tools[1].error == "not run: $s1.text: step s1 failed, so it has no output" and tools[1].result is None
    assert tools[2].result == "counts: bus=1"
    last = backend.requests[1]["messages"][-1].content
    assert "Observation s1 (crash, error): crash crashed: RuntimeError: boom" in last
    assert "Observation s2 (count, error): not run:" in last
    assert ans.answer == "1" and ans.evidence == []


def test_retries_exhausted_gives_cannot_tell(settings, image):
    agent, backend = make(settings, ["I think 4."], max_retries=2)
    backend.repeat_last = True
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "cannot tell" and ans.finished == "budget_exhausted" and ans.retries == 3
    assert [s.kind for s in ans.steps] == ["retry"] * 3 + ["answer"] and len(backend.requests) == 3
    assert "not valid JSON" in ans.steps[0].error
    assert json.loads(backend.requests[2]["messages"][-1].content.splitlines()[0])["retries_left"] == 0


def test_malformed_answer_uses_the_rest_of_the_retry_budget(settings, image):
    agent, backend = make(settings, [program(("s1", "count", {"label": "person"})), "four", answer("4")])
    ans = agent.ask(image, "How many people?")
    assert [s.kind for s in ans.steps] == ["plan", "tool", "retry", "answer"] and ans.answer == "4"
    assert json.loads(backend.requests[2]["messages"][-1].content.splitlines()[0])["error"] == "invalid_reply"


def test_too_many_steps_is_invalid(settings, image):
    long = program(*[(f"s{i}", "count", {"label": "person"}) for i in range(4)])
    agent, _ = make(settings, [long, program(("s1", "count", {"label": "person"})), answer("4")], max_steps=3)
    ans = agent.ask(image, "How many people?")
    assert "the program has 4 steps; at most 3 are allowed" in ans.steps[0].error and ans.answer == "4"


def test_expensive_parts_run_in_parallel_and_calls_in_program_order(settings, image):
    meet = ProbeTool(settings, meet=True)
    agent, _ = make(settings, [program(("a", "probe", {"image": "img_0"}), ("b", "probe", {"image": "img_0"})),
                               answer("ok")], tools=[meet])
    ans = agent.ask(image, "Do they meet?")
    assert [s.result for s in ans.steps if s.kind == "tool"] == ["x on img_0", "x on img_0"]  # a barrier of 2
    assert meet.max_active == 1  # the calls themselves (ids, outputs) run one by one, in order
    probe = ProbeTool(settings)
    agent, _ = make(settings, [program(("a", "probe", {}), ("b", "probe", {"image": "img_0"})), answer("ok")],
                    tools=[probe])
    agent.ask(image, "In order?")
    assert probe.max_active == 1


def test_trace_is_serialisable_and_uses_the_answer_type(settings, image):
    agent, _ = make(settings, [program(("s1", "count", {"label": "bus"})), answer("1")])
    ans = agent.ask(image, "How many buses?")
    assert type(ans).model_validate(json.loads(ans.to_json())) == ans


# Validation --------------------------------------------------------------------------------------------------

_FAKE = FakeDetectTool()
TOOLS = {t.name: t for t in [_FAKE, SceneGraphTool(detector=_FAKE), CountTool()]}


@pytest.mark.parametrize("steps,needle", [
    ([("s 1", "count", {"label": "bus"})], "id 's 1' is not valid"),
    ([("s1", "count", {})], "args.label: Field required"),
    ([("s1", "scene_graph", {"relation": "beside"})], "args.relation: Input should be"),
    ([("s1", "count", {"label": "$s9.label"})], 'names no earlier step; earlier steps: none'),
    ([("s1", "fake_detect", {}), ("s2", "scene_graph", {"target": "$s1.detectons[0].id"})],
     "s1 has no field 'detectons'; fields: image, detections, counts"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1.counts"})], "gives object but count expects string"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1..x"})], "is not a valid reference"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1.detections[0].box.x9"})], "has no field 'x9'"),
    ([("s1", "count", {"label": "$s1.label"})], "names this step itself"),
    # A reference inside a list argument is checked like any other (not skipped because it is nested).
    ([("s1", "fake_detect", {"classes": ["person", "$s0.label"]})], "names no earlier step; earlier steps: none"),
    ([("s1", "fake_detect", {}), ("s2", "fake_detect", {"classes": ["$s1.detections[0].colour"]})],
     "has no field 'colour'"),
])
def test_validation_problems(steps, needle):
    prog = Program(steps=[ProgramStep(id=i, tool=t, args=a) for i, t, a in steps])
    problems = validate_program(prog, TOOLS, max_steps=6)
    assert any(needle in p for p in problems), problems


def test_valid_references_and_escapes_pass():
    prog = Program(steps=[
        ProgramStep(id="s1", tool="fake_detect", args={"classes": ["person"]}),
        ProgramStep(id="s2", tool="scene_graph", args={"target": "$s1.detections[-1].id", "label": "$$x"}),
        ProgramStep(id="s3", tool="fake_detect", args={"classes": ["$s1.detections[0].label"]}),
        ProgramStep(id="s4", tool="count", args={"label": "$s2.nodes[0].label"}),
    ])
    assert validate_program(prog, TOOLS, max_steps=6) == []
    assert substitute({"a": "$$x", "b": ["$s1.n[1]"]}, {"s1": {"n": [5, 6]}}) == {"a": "$x", "b": [6]}
    assert parse_ref("$s1.detections[-1].id").path == ("detections", -1, "id")
    with pytest.raises(RefError, match=r"s1.n has 2 items, so \[2\] does not exist"):
        substitute("$s1.n[2]", {"s1": {"n": [5, 6]}})


def test_parse_program_is_tolerant_and_clear():
    prog = parse_program('Here: ```json\n{"thought": "t", "steps": [{"name": "count", "arguments": {"label": "bus"}}]}'
                         "\n```")
    assert prog.steps == [ProgramStep(id="s1", tool="count", args={"label": "bus"})]
    from lavr.planners.parsing import InvalidReply

    with pytest.raises(InvalidReply, match="write the program first"):
        parse_program('{"answer": "2"}')
    with pytest.raises(InvalidReply, match="args must be an object"):
        parse_program('{"program": [{"tool": "count", "args": [1]}]}')


# Prompts, examples and schema ---------------------------------------------------------------------------------

REAL = {t.name: t for t in default_tools(Settings())}


@pytest.mark.parametrize("example", load_examples(), ids=lambda e: e.id)
def test_every_example_converts_to_a_valid_program(example):
    prog, observations = example_program(example, REAL)
    assert validate_program(prog, REAL, max_steps=6) == []
    assert len(observations) == len(prog.steps) == sum(len(t.tool_calls) for t in example.turns)
    assert "obj_" not in json.dumps([s.args for s in prog.steps])  # ids are references, never guesses
    outputs = {}
    for step, obs in zip(prog.steps, observations):  # every reference points at the id the stored output lists
        for value in step.args.values():
            if isinstance(value, str) and value.startswith("$"):
                ref = parse_ref(value)
                listed = [ln.split()[0] for ln in outputs[ref.step].splitlines() if ln.startswith("obj_")]
                assert listed[ref.path[1]] in example.final_thought + example.rationale + obs["text"]
        outputs[step.id] = obs["text"]


def test_left_of_example_uses_a_reference():
    example = next(e for e in load_examples() if e.id == "zidane_left_of")
    prog, _ = example_program(example, REAL)
    assert prog.steps[1].args["target"] == "$s1.detections[1].id" and "obj_1" not in prog.thought


def test_program_prompt_shows_worked_programs(image):
    planner = ProgramPlanner(num_examples=2)
    req = PlanRequest(question="How many people are in the picture?", images=[ImageInfo("img_0", 64, 48, "x")],
                      tools=list(REAL.values()), steps=[], steps_left=6, retries_left=3)
    messages, ids = planner.conversation(req, ScriptedBackend([]))
    user = messages[1].content
    assert len(ids) == 2 and user.count('"program": [') == 2 and "Observation s1 (people)" in user
    assert user.rstrip().endswith("Write the program.")


def test_every_program_template_renders():
    names = set(templates("lavr.planners.program", "prompts.yaml"))
    assert names == {"system", "examples_header", "observations", "example", "question", "invalid_program",
                     "compose", "invalid_answer"}
    assert set(templates("lavr.planners.pipeline", "prompts.yaml")) == {"pipeline_system", "invalid_answer"}
    assert render_program("observations", observations=[]) == "No tool ran."
    with pytest.raises(Exception, match="undefined"):
        render_program("compose")
    assert "examples_header" in templates() and "observations" not in templates()  # render() is unchanged


def test_program_schema_accepts_the_examples_and_is_grammar_safe():
    jsonschema = pytest.importorskip("jsonschema")
    from lavr.planners.program.model import program_schema

    schema = program_schema(list(REAL.values()), max_steps=6)
    for example in load_examples():
        prog, _ = example_program(example, REAL)
        jsonschema.validate({"thought": prog.thought, "program": [s.model_dump() for s in prog.steps]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(program(("s1", "detect", {"colour": "red"})), schema)
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    from lavr.backends.llama_cpp import grammar_safe_schema

    grammar = llama_grammar.json_schema_to_gbnf(json.dumps(grammar_safe_schema(schema)))
    for bad in ("\\d", "\\w", "\\s"):
        assert bad not in grammar


def test_make_agent_selects_the_mode(settings):
    backend = ScriptedBackend([])
    react = make_agent("react", backend, settings=settings, tools=[], cache=False)
    prog = make_agent("program", backend, settings=settings, tools=[], cache=False)
    assert (react.mode, prog.mode) == ("react", "program") and type(react) is type(prog)  # one Agent, two planners
    assert type(prog.planner) is ProgramPlanner
    with pytest.raises(InputError, match="unknown mode 'visprog'"):
        make_agent("visprog", backend, settings=settings)
    with pytest.raises(InputError, match="needs a pipeline"):
        make_agent("pipeline", backend, settings=settings, tools=[], cache=False)


def test_without_tools_it_only_composes(settings, image):
    agent, backend = make(settings, [answer("cannot tell")], tools=[])
    ans = agent.ask(image, "How many people?")
    assert [s.kind for s in ans.steps] == ["answer"] and ans.answer == "cannot tell" and len(backend.requests) == 1
    assert "No tool ran." in backend.requests[0]["messages"][-1].content


def test_the_compose_call_of_a_yes_no_question_allows_only_yes_no_or_cannot_tell(settings, image):
    agent, backend = make(settings, [LEFT_OF_LAST, answer("yes", "scene_graph count=2")])
    ans = agent.ask(image, "Is anyone left of the rightmost person?")
    assert ans.answer == "yes"
    assert backend.requests[1]["json_schema"]["properties"]["answer"] == {"enum": ["yes", "no", "cannot tell"]}
    assert "program" in backend.requests[0]["json_schema"]["properties"]  # the program call keeps its own schema
