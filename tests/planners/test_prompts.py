"""Prompt templates render, and every in-context example is valid and consistent with the real tools."""

import json
import re
import subprocess
import sys

import pytest
from conftest import REPO
from pydantic import ValidationError

from lavr.backends import ScriptedBackend
from lavr.backends.llama_cpp import grammar_safe_schema
from lavr.planners.base import ImageInfo, PlanRequest
from lavr.planners.prompting import ANSWER_SCHEMA, describe_args
from lavr.planners.react import FINAL_ANSWER_TOOL, ReactPlanner, decision_schema
from lavr.prompts import load_examples, render, select_examples, templates
from lavr.schema import BOX_CONVENTION
from lavr.settings import Settings
from lavr.tools import default_tools
from lavr.tools.detect import fall_detector_weights

TOOLS = {t.name: t for t in default_tools(Settings())}
EXAMPLES = load_examples()


def test_every_template_renders_with_strict_variables():
    planner = ReactPlanner()
    system = planner.system_prompt(list(TOOLS.values()))
    assert BOX_CONVENTION in system
    for name in TOOLS:
        assert f"- {name}: " in system
    assert "image (string, default \"img_0\"" in system
    # the JSON-mode prompt shows the replies the decision grammar accepts: every branch's required keys
    for branch in decision_schema(list(TOOLS.values()))["anyOf"]:
        assert all(f'"{key}"' in system for key in branch["required"]), branch["required"]
    # with native tool calls, the prompt names the tool that is offered to end the run
    assert f"call {FINAL_ANSWER_TOOL['name']}" in ReactPlanner().system_prompt([], native=True)
    obs = render("observation", observations=[{"tool": "detect", "error": True, "text": "boom"}], steps_left=0)
    assert obs == "Observation (detect, error): boom\nAnswer now."
    retry = render("invalid_reply", detail='bad "quote"', retries_left=2)
    assert json.loads(retry.splitlines()[0]) == {"error": "invalid_reply", "detail": 'bad "quote"', "retries_left": 2}
    force = render("force_answer")  # shows the answer object the answer-only grammar accepts
    assert all(f'"{key}"' in force for key in ANSWER_SCHEMA["required"])
    with pytest.raises(Exception, match="undefined"):
        render("observation", observations=[])
    assert set(templates()) == {"system", "examples_header", "example", "question", "observation",
                                "invalid_reply", "force_answer"}


def test_describe_args_lists_types_defaults_and_enums():
    text = describe_args(TOOLS["scene_graph"].parameters_schema())
    assert 'image (string, default "img_0")' in text
    assert "relation (one of left_of|right_of|above|below" in text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_is_valid(example):
    assert example.turns, "an example has at least one tool turn"
    for turn in example.turns:
        assert len(turn.observations) == len(turn.tool_calls)
        for call in turn.tool_calls:
            assert call.tool in TOOLS, f"{call.tool} is not a registered tool"
            try:
                TOOLS[call.tool].input_model.model_validate(call.args)
            except ValidationError as err:
                pytest.fail(f"{example.id}: {call.tool} args invalid: {err}")
    observations = [o for t in example.turns for o in t.observations]
    assert any(example.evidence in o for o in observations), "evidence must be quoted from an observation"
    assert example.answer in example.evidence or example.answer in ("yes", "no", "cannot tell")
    if example.answer == "no":
        assert any(zero in example.evidence for zero in ("0 objects", "count=0", "people=0"))
    if example.answer == "cannot tell":
        assert any(o.startswith("error:") for o in observations)
    path = example.image.resolve()
    assert path is not None, f"{example.image} is not installed"
    from lavr.images import load_image

    assert load_image(path)[0].size == tuple(example.image_size)
    # object ids used in a turn were reported by an earlier turn (no invented objects)
    seen = ""
    for turn in example.turns:
        for token in re.findall(r"obj_\d+", json.dumps([c.args for c in turn.tool_calls])):
            assert token in seen, f"{example.id}: {token} used before any tool reported it"
        seen += " ".join(turn.observations)
    for token in re.findall(r"obj_\d+", example.rationale + example.final_thought):
        assert token in seen


@pytest.mark.skipif(fall_detector_weights() is None, reason="needs the offline person detector")
@pytest.mark.models
def test_example_observations_are_what_the_real_tools_say():
    """The stored expert outputs are real: re-running the tools reproduces them exactly."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "refresh_examples.py"), "--check"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


def test_example_selection_is_similar_available_and_never_the_same_image():
    chosen = select_examples("How many people are there?", set(TOOLS), 2)
    assert chosen[0].id == "zidane_count_people"
    assert all(e.tools_used() <= set(TOOLS) for e in chosen)
    only_detect = select_examples("Is anyone lying on the ground?", {"detect"}, 10)
    assert all(e.tools_used() == {"detect"} for e in only_detect)
    shas = {e.id: f"sha-{e.image.path}" for e in EXAMPLES}
    chosen = select_examples("How many people are there?", set(TOOLS), 10, exclude_images={"sha-assets/zidane.jpg"},
                             image_sha=shas)
    assert chosen and all("zidane" not in e.image.path for e in chosen)


def test_examples_are_rendered_into_the_prompt():
    backend = ScriptedBackend([{"thought": "t", "answer": "2", "rationale": "r"}])
    planner = ReactPlanner(num_examples=2)
    req = PlanRequest(question="How many people are in the picture?", images=[ImageInfo("img_0", 10, 10, "x")],
                      tools=list(TOOLS.values()), steps=[], steps_left=3, retries_left=2)
    outcome = planner.decide(req, backend)
    assert outcome.move.answer == "2" and len(outcome.example_ids) == 2
    user = backend.requests[0]["messages"][1].content
    assert "Example 1." in user and "Now the real question." in user
    assert user.rstrip().endswith("Question: How many people are in the picture?")


def test_decision_schema_is_grammar_safe():
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    schema = decision_schema(list(TOOLS.values()))
    assert [v["properties"]["tool"]["const"] for v in
            schema["anyOf"][0]["properties"]["tool_calls"]["items"]["anyOf"]] == list(TOOLS)
    grammar = json_schema_to_gbnf(json.dumps(grammar_safe_schema(schema)))
    # llama.cpp rejects (and crashes on) regex class escapes inside grammar literals
    for bad in ("\\d", "\\w", "\\s"):
        assert bad not in grammar
    # a long maxLength becomes as many nested groups, which llama.cpp's sampler crashed on (the caption tool's
    # question: 300); short bounds stay in the grammar
    assert "(char (char (char" not in grammar and grammar.count("(") < 3000
    assert grammar_safe_schema({"type": "string", "maxLength": 300}) == {"type": "string"}
    assert grammar_safe_schema({"type": "string", "maxLength": 8}) == {"type": "string", "maxLength": 8}
    assert decision_schema([], force_answer=False)["required"] == ["thought", "answer", "rationale"]


@pytest.mark.parametrize("question,yes_no", [
    ("Are there any people in this picture?", True), ("Is anyone lying on the ground?", True),
    ("Can you see a face?", True), ("Does the man wear a tie?", True), ("Has anyone fallen?", True),
    ("How many people are in this photo?", False), ("What color is the background?", False),
    ("Is this image a photograph or a drawing?", False), ("Is the cube metal or rubber?", False),
    ("Which person is on the left?", False), ("", False),
])
def test_yes_no_questions_are_told_apart(question, yes_no):
    from lavr.answers import expects_yes_no

    assert expects_yes_no(question) is yes_no


def _answer_branch(schema):
    return next(b for b in schema.get("anyOf", [schema]) if "answer" in b["properties"])


def test_a_yes_no_question_can_only_be_answered_yes_no_or_cannot_tell():
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    tools = list(TOOLS.values())
    yes_no = decision_schema(tools, question="Are there any people in this picture?")
    assert _answer_branch(yes_no)["properties"]["answer"] == {"enum": ["yes", "no", "cannot tell"]}
    grammar = json_schema_to_gbnf(json.dumps(grammar_safe_schema(yes_no)))
    assert 'yes\\"' in grammar and 'cannot tell\\"' in grammar
    assert _answer_branch(decision_schema(tools, question="How many people?"))["properties"]["answer"] == {
        "type": "string"}
    forced = decision_schema(tools, force_answer=True, question="Is anyone lying on the ground?")
    assert forced["properties"]["answer"]["enum"] == ["yes", "no", "cannot tell"]
    only_calls = decision_schema(tools, question="Are there any people?", must_call=True)
    assert "answer" not in only_calls["properties"] and "anyOf" not in only_calls
