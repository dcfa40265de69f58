"""Scripted pipelines: loading and validation, running with a scripted LLM, the trace, the cache, the examples."""

import json
from pathlib import Path

import pytest
from conftest import REPO
from PIL import Image
from tools_for_programs import FakeDetectTool, MemoTool
from tools_for_tests import CountTool, CrashTool

from lavr.agents import Agent, make_agent
from lavr.backends import ScriptedBackend
from lavr.cache import ExpertCache
from lavr.errors import InputError, PipelineError
from lavr.planners import make_planner
from lavr.planners.pipeline import LlmStepSpec, Pipeline, ToolStepSpec
from lavr.settings import Settings
from lavr.tools import SceneGraphTool, default_tools

COUNT_PEOPLE = """
name: count_people
steps:
  - {id: dets, tool: count, args: {label: person}}
  - {id: graph, tool: scene_graph, args: {image: img_0}}
  - id: answer
    llm: |
      Using these observations:
      {{ dets.text }}
      {{ graph.text }}
      Question: {{ question }}
      Give a short answer.
"""


def reply(text, rationale="from the observations"):
    return {"answer": text, "rationale": rationale}


def run_pipeline(pipeline, agent, image, question):
    """Run a scripted pipeline with ``agent``'s LLM, tools, settings and cache."""
    return agent.with_planner(make_planner("pipeline", agent.settings, pipeline=pipeline)).ask(image, question)


def make(settings, replies=(), tools=None, cache=False, **updates):
    s = settings.model_copy(update={"num_examples": 0, **updates})
    backend = ScriptedBackend(list(replies))
    if tools is None:
        fake = FakeDetectTool(s)
        tools = [CountTool(s), fake, SceneGraphTool(s, detector=fake), CrashTool(s)]
    return Agent(backend, settings=s, tools=tools, cache=cache), backend


@pytest.fixture
def image():
    return Image.new("RGB", (64, 48), (10, 200, 10))


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_pipeline_loads_runs_and_traces(settings, image, tmp_path):
    pipeline = Pipeline.from_file(write(tmp_path, COUNT_PEOPLE))
    assert pipeline.name == "count_people" and pipeline.ids == ["dets", "graph", "answer"]
    agent, backend = make(settings, [reply("4", "count says person=4")])
    ans = run_pipeline(pipeline, agent, image, "How many people?")
    assert ans.answer == "4" and ans.rationale == "count says person=4" and ans.finished == "answered"
    assert [(s.kind, s.call_id) for s in ans.steps] == [("tool", "dets"), ("tool", "graph"), ("answer", "answer")]
    assert ans.steps[0].result == "counts: person=4" and ans.steps[1].result.startswith("scene graph of img_0")
    prompt = backend.requests[0]["messages"][1].content
    assert prompt.startswith("Using these observations:\ncounts: person=4\nscene graph of img_0: 3 objects")
    assert prompt.endswith("Question: How many people?\nGive a short answer.")
    assert ans.steps[2].prompt == prompt
    assert backend.requests[0]["json_schema"]["required"] == ["answer", "rationale"]
    assert "cannot tell" in backend.requests[0]["messages"][0].content
    assert ans.usage.llm_calls == 1 and ans.evidence == [] and ans.llm == "scripted"  # names no object
    assert type(ans).model_validate(json.loads(ans.to_json())) == ans


def test_references_between_steps_and_data_in_templates(settings, image):
    pipeline = Pipeline.model_validate({"steps": [
        {"id": "people", "tool": "fake_detect", "args": {"classes": ["person"]}},
        {"id": "left", "tool": "scene_graph",
         "args": {"label": "person", "relation": "left_of", "target": "$people.detections[-1].id"}},
        {"id": "first", "llm": "{{ left.data.match_count }} left of {{ left.data.query.target }}"},
        {"id": "again", "tool": "count", "args": {"label": "$first.answer"}},
        {"id": "final", "llm": "{{ first }} / {{ again.text }} / {{ people.data.counts.person }} / {{ images }}"},
    ]})
    agent, backend = make(settings, [reply("person"), reply("2")])
    ans = run_pipeline(pipeline, agent, image, "How many are left of the rightmost?")
    assert ans.steps[1].args["target"] == "obj_2" and "count=2" in ans.steps[1].result
    assert backend.requests[0]["messages"][1].content == "2 left of obj_2"
    assert ans.steps[3].args == {"label": "person"} and ans.steps[3].result == "counts: person=4"
    assert backend.requests[1]["messages"][1].content == "person / counts: person=4 / 3 / ['img_0']"
    assert ans.answer == "2" and [s.kind for s in ans.steps].count("answer") == 2


def test_tool_error_reaches_the_template_and_no_llm_pipeline_answers_with_tool_text(settings, image):
    pipeline = Pipeline(steps=[ToolStepSpec(id="boom", tool="crash"),
                               LlmStepSpec(id="say", llm="{{ boom.text }} | {{ boom.error }}")])
    agent, backend = make(settings, [reply("cannot tell")])
    ans = run_pipeline(pipeline, agent, image, "What broke?")
    assert backend.requests[0]["messages"][1].content == \
        "error: crash crashed: RuntimeError: boom | crash crashed: RuntimeError: boom"
    assert ans.answer == "cannot tell"
    bare = Pipeline(steps=[ToolStepSpec(id="n", tool="count", args={"label": "bus"})])
    agent, backend = make(settings)
    ans = run_pipeline(bare, agent, image, "How many buses?")
    assert ans.answer == "counts: bus=1" and ans.evidence == [] and backend.requests == []
    ans = run_pipeline({"steps": [{"id": "c", "tool": "crash"}]}, agent, image, "Crash?")
    assert ans.answer == "cannot tell" and ans.finished == "failed" and "step c failed" in ans.rationale


def test_malformed_reply_retried_then_template_error_recorded(settings, image):
    pipeline = Pipeline(steps=[ToolStepSpec(id="n", tool="count", args={"label": "bus"}),
                               LlmStepSpec(id="a", llm="{{ n.text }}"), LlmStepSpec(id="b", llm="{{ n.data.zebra }}")])
    agent, _ = make(settings, ["one bus", reply("1")])
    ans = run_pipeline(pipeline, agent, image, "How many buses?")
    assert [(s.kind, getattr(s, "call_id", None)) for s in ans.steps] == [("tool", "n"), ("retry", None),
                                                                          ("answer", "a"), ("answer", "b")]
    assert "not valid JSON" in ans.steps[1].error and ans.retries == 1
    assert ans.steps[3].error.startswith("template error:") and "zebra" in ans.steps[3].error
    assert ans.answer == "cannot tell" and ans.finished == "failed"


def test_cache_is_shared_between_runs_and_modes(settings, image, tmp_path):
    cache = ExpertCache(tmp_path / "experts.sqlite")
    tool = MemoTool(settings)
    agent, _ = make(settings, tools=[tool], cache=cache)
    pipeline = Pipeline(steps=[ToolStepSpec(id="b", tool="brightness")])
    first = run_pipeline(pipeline, agent, image, "How bright?")
    second = run_pipeline(pipeline, agent, image.copy(), "How bright?")
    assert first.answer == second.answer and first.answer.startswith("img_0: mean brightness")
    assert [first.steps[0].cached, second.steps[0].cached] == [False, True] and tool.computed == 1
    react = {"thought": "t", "tool_calls": [{"tool": "brightness", "args": {}}]}
    other = make_agent("react", ScriptedBackend([react, {"thought": "t", "answer": "bright", "rationale": "r"}]),
                       settings=agent.settings, tools=[tool], cache=cache)
    ans = other.ask(image, "How bright?")
    assert ans.steps[1].cached is True and tool.computed == 1
    assert cache.stats().hits >= 2


BAD = [
    ("steps: []", "steps: List should have at least 1 item"),
    ("steps:\n  - {id: a, tool: count, llm: hi}", "steps[0]: a step needs exactly one of 'tool'"),
    ("steps:\n  - {id: a, tool: count, argz: {}}", "steps[0].argz: Extra inputs are not permitted"),
    ("steps:\n  - {id: a, tool: count}\n  - {id: a, llm: hi}", "id 'a' is used twice"),
    ("steps:\n  - {id: question, llm: hi}", "id 'question' is reserved"),
    ("steps:\n  - {id: 2x, llm: hi}", "id '2x' is not valid"),
    ("steps:\n  - {id: a, llm: '{{ b.text }}'}\n  - {id: b, tool: count}",
     "{{ b }} refers to step b, which runs later"),
    ("steps:\n  - {id: a, llm: '{{ detz.text }}'}", "unknown template variable {{ detz }}; available: question, image"),
    ("steps:\n  - {id: n, tool: count}\n  - {id: a, llm: '{{ n.txt }}'}", "{{ n.txt }}: a step has only .text"),
    ("steps:\n  - {id: a, llm: '{{ question '}", "template syntax error on line 1"),
    ("steps:\n  - {id: a, tool: count, args: {label: $b.label}}\n  - {id: b, tool: count}", "which has not run yet"),
    ("steps: [", "not valid YAML"),
    ("- 1", "a pipeline file is a mapping"),
]


@pytest.mark.parametrize("text,needle", BAD, ids=[b[1][:30] for b in BAD])
def test_bad_pipeline_files_give_clear_errors(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(PipelineError) as err:
        Pipeline.from_file(path)
    assert needle in str(err.value) and str(path) in str(err.value)
    assert isinstance(err.value, InputError)


@pytest.mark.parametrize("step,needle", [
    ({"id": "a", "tool": "detct"}, "step a (detct): unknown tool 'detct'. Valid tools: count, fake_detect"),
    ({"id": "a", "tool": "count", "args": {"lable": "bus"}}, "unknown argument 'lable'. Accepted arguments: label"),
    ({"id": "a", "tool": "scene_graph", "args": {"target": "person"}}, "args.target: String should match"),
])
def test_tool_problems_are_caught_before_anything_runs(settings, image, tmp_path, step, needle):
    text = json.dumps({"steps": [{"id": "first", "tool": "count", "args": {"label": "bus"}}, step,
                                 {"id": "z", "llm": "x"}]})
    path = write(tmp_path, text, "p.json")
    agent, backend = make(settings, [reply("x")])
    with pytest.raises(PipelineError, match="unknown tool|unknown argument|should match") as err:
        Pipeline.from_file(path, tools=agent.registry)
    assert needle in str(err.value)
    with pytest.raises(PipelineError):
        run_pipeline(Pipeline.from_file(path), agent, image, "Q?")
    assert backend.requests == []


def test_missing_file_and_unavailable_tool(settings, tmp_path):
    with pytest.raises(PipelineError, match="no such pipeline file"):
        Pipeline.from_file(tmp_path / "nope.yaml")
    from lavr.tools import DetectTool

    detector = DetectTool(settings.model_copy(update={"detector_weights": str(tmp_path / "none.pt")}))
    agent, _ = make(settings, tools=[detector])
    with pytest.raises(PipelineError, match="tool 'detect' is not available here"):
        Pipeline(steps=[ToolStepSpec(id="d", tool="detect")]).check(agent.registry)


def test_python_pipeline_through_make_agent(settings, image):
    pipeline = Pipeline(name="py", steps=[ToolStepSpec(id="n", tool="count", args={"label": "person"}),
                                          LlmStepSpec(id="a", llm="{{ n.text }} Q: {{ question }} on {{ image }}")])
    s = settings.model_copy(update={"num_examples": 0})
    agent = make_agent("pipeline", ScriptedBackend([reply("4")]), pipeline=pipeline, settings=s,
                       tools=[CountTool(s)], cache=False)
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and agent.backend.requests[0]["messages"][1].content == \
        "counts: person=4 Q: How many people? on img_0"


EXAMPLES = sorted((REPO / "examples" / "pipelines").glob("*.y*ml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_pipelines_validate_against_the_real_tools(path: Path):
    pipeline = Pipeline.from_file(path, tools=default_tools(Settings()))
    assert pipeline.name == path.stem


def test_example_pipelines_exist_and_run_with_pipeline_mode_shorthand(settings, image):
    assert len(EXAMPLES) >= 2
    s = settings.model_copy(update={"num_examples": 0})
    tools = [(fake := FakeDetectTool(s)), SceneGraphTool(s, detector=fake)]
    tools[0].name = "detect"  # the example files call the real detector; stand in for it without weights
    agent = make_agent(f"pipeline:{REPO / 'examples/pipelines/left_of_rightmost_person.yaml'}",
                       ScriptedBackend([reply("2")]), settings=s, tools=tools, cache=False)
    ans = agent.ask(image, "How many people are to the left of the person on the right?")
    assert ans.answer == "2" and ans.steps[1].args["target"] == "obj_2"
    assert agent.backend.requests[0]["messages"][1].content.startswith("The rightmost person is obj_2.")


# Reference checks of a pipeline's tool steps, before anything runs (moved from program mode's tests) -----------

def _checked_tools():
    fake = FakeDetectTool(Settings())
    return {t.name: t for t in [fake, SceneGraphTool(Settings(), detector=fake), CountTool(Settings())]}


@pytest.mark.parametrize("steps,needle", [
    ([("s1", "count", {})], "args.label: Field required"),
    ([("s1", "scene_graph", {"relation": "beside"})], "args.relation: Input should be"),
    ([("s1", "count", {"label": "$s9.label"})], 'names no earlier step; earlier steps: none'),
    ([("s1", "fake_detect", {}), ("s2", "scene_graph", {"target": "$s1.detectons[0].id"})],
     "s1 has no field 'detectons'; fields: image, detections, counts"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1.counts"})], "gives object but count expects string"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1..x"})], "is not a valid reference"),
    ([("s1", "fake_detect", {}), ("s2", "count", {"label": "$s1.detections[0].box.x9"})], "has no field 'x9'"),
    ([("s1", "count", {"label": "$s1.label"})], "names step s1, which has not run yet"),
    # A reference inside a list argument is checked like any other (not skipped because it is nested).
    ([("s1", "fake_detect", {"classes": ["person", "$s0.label"]})], "names no earlier step; earlier steps: none"),
    ([("s1", "fake_detect", {}), ("s2", "fake_detect", {"classes": ["$s1.detections[0].colour"]})],
     "has no field 'colour'"),
])
def test_reference_problems(steps, needle):
    try:  # reference order is checked when the pipeline is built, the rest against the tools
        problems = Pipeline.model_validate({"steps": [{"id": i, "tool": t, "args": a} for i, t, a in steps]}
                                           ).problems(_checked_tools())
    except PipelineError as exc:
        problems = [str(exc)]
    assert any(needle in p for p in problems), problems


def test_valid_references_and_escapes_pass():
    from lavr.refs import RefError, parse_ref, substitute

    pipeline = Pipeline.model_validate({"steps": [
        {"id": "s1", "tool": "fake_detect", "args": {"classes": ["person"]}},
        {"id": "s2", "tool": "scene_graph", "args": {"target": "$s1.detections[-1].id", "label": "$$x"}},
        {"id": "s3", "tool": "fake_detect", "args": {"classes": ["$s1.detections[0].label"]}},
        {"id": "s4", "tool": "count", "args": {"label": "$s2.nodes[0].label"}},
    ]})
    assert pipeline.problems(_checked_tools()) == []
    assert substitute({"a": "$$x", "b": ["$s1.n[1]"]}, {"s1": {"n": [5, 6]}}) == {"a": "$x", "b": [6]}
    assert parse_ref("$s1.detections[-1].id").path == ("detections", -1, "id")
    with pytest.raises(RefError, match=r"s1.n has 2 items, so \[2\] does not exist"):
        substitute("$s1.n[2]", {"s1": {"n": [5, 6]}})
