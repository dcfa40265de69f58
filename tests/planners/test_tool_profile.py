"""Tool profiles (issue 7): a small embedded LLM is offered fewer, sharper tools in ReAct (also as query mode's
fallback); remote models keep every tool; in-context examples call offered tools only."""

import pytest

from lavr.agents import Agent, make_agent
from lavr.backends import ScriptedBackend, make_backend
from lavr.errors import InputError
from lavr.planners import make_planner
from lavr.planners.base import ImageInfo, PlanRequest
from lavr.planners.tool_profile import COMPACT, FULL, resolve_profile
from lavr.prompts import load_examples
from lavr.settings import Settings
from lavr.tools import default_tools

TOOLS = default_tools(Settings())
ALL = [t.name for t in TOOLS]
COMPACT_TOOLS = ["people", "scene_graph", "picture", "crop", "caption", "region_features"]
EXAMPLES = {e.id: e for e in load_examples()}
QUESTIONS = ["How many people are in this photo?", "Are there any people in this picture?",
             "Is anyone lying on the ground?", "Is there a person on the left side of the image?",
             "Are there more than 3 people in the photo?", "How many dogs are in the image?"]
ANSWER = {"thought": "t", "answer": "2", "rationale": "r"}


def request(question, tools=TOOLS, **kw):
    return PlanRequest(question=question, images=[ImageInfo("img_0", 64, 48, "sha-of-the-question")], tools=list(tools),
                       steps=[], steps_left=3, retries_left=2, **kw)


def offered_in_grammar(schema):
    call = schema["anyOf"][0] if "anyOf" in schema else schema  # a question's first turn: calls only
    calls = call["properties"]["tool_calls"]["items"]["anyOf"]
    return [v["properties"]["tool"]["const"] for v in calls]


def offered_in_prompt(system_prompt):
    return [line[2:].split(":")[0] for line in system_prompt.splitlines() if line.startswith("- ")
            and line[2:].split(":")[0] in ALL]


@pytest.mark.parametrize(("spec", "expected"), [("local", COMPACT), ("openai:some-model", FULL)])
def test_the_profile_follows_the_backend_kind(spec, expected):
    assert resolve_profile("auto", make_backend(spec, Settings())) is expected


def test_any_gguf_file_is_a_small_embedded_model(tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")  # never loaded: the backend loads on the first generate
    assert resolve_profile(None, make_backend(str(gguf), Settings())) is COMPACT


def test_a_backend_may_declare_its_profile_and_settings_or_arguments_override_it():
    assert resolve_profile("auto", ScriptedBackend([])) is FULL
    small = ScriptedBackend([], tool_profile="compact")
    assert resolve_profile("auto", small) is COMPACT
    assert make_planner("react", Settings(tool_profile="full"), llm=small).tool_profile is FULL
    assert make_planner("react", Settings(), llm=ScriptedBackend([]), tool_profile="compact").tool_profile is COMPACT
    with pytest.raises(InputError, match="unknown tool profile"):
        resolve_profile("tiny")


def test_compact_hides_tools_others_cover_and_query_keeps_nothing_lost():
    assert [t.name for t in FULL.offer(TOOLS)] == ALL
    assert [t.name for t in COMPACT.offer(TOOLS)] == COMPACT_TOOLS
    # without the people tool nothing covers person counts: detect and faces stay offered
    no_people = [t for t in TOOLS if t.name != "people"]
    assert [t.name for t in COMPACT.offer(no_people)] == ["detect", "faces", "scene_graph", "picture", "crop",
                                                          "caption", "region_features"]


@pytest.mark.parametrize(("declared", "expected"), [("compact", COMPACT_TOOLS), (None, ALL)])
def test_react_offers_the_profile_in_prompt_grammar_and_examples(declared, expected):
    backend = ScriptedBackend([ANSWER] * len(QUESTIONS), tool_profile=declared)
    planner = make_planner("react", Settings(num_examples=3), llm=backend)
    for n, question in enumerate(QUESTIONS):
        outcome = planner.decide(request(question), backend)
        sent = backend.requests[n]
        assert offered_in_grammar(sent["json_schema"]) == expected
        assert offered_in_prompt(sent["messages"][0].content) == expected
        assert outcome.example_ids, question
        for example_id in outcome.example_ids:
            assert EXAMPLES[example_id].tools_used() <= set(expected), (question, example_id)
        rendered = sent["messages"][1].content
        for hidden in set(ALL) - set(expected):
            assert f'"tool": "{hidden}"' not in rendered, (question, hidden)


def test_compact_still_has_examples_for_person_questions():
    backend = ScriptedBackend([ANSWER], tool_profile="compact")
    outcome = make_planner("react", Settings(num_examples=3), llm=backend).decide(
        request("How many people are in this photo?"), backend)
    assert len(outcome.example_ids) == 3
    assert any("people" in EXAMPLES[e].tools_used() for e in outcome.example_ids)


def test_query_mode_falls_back_to_react_with_the_same_profile():
    backend = ScriptedBackend([ANSWER], tool_profile="compact")
    planner = make_planner("query", Settings(num_examples=3), llm=backend)
    without_query = [t for t in TOOLS if t.name != "query"]  # query mode cannot run: ReAct takes over
    outcome = planner.decide(request("Is anyone lying on the ground?", tools=without_query), backend)
    assert outcome.move.answer == "2"
    assert offered_in_grammar(backend.requests[0]["json_schema"]) == COMPACT_TOOLS


def test_agents_pick_the_profile_from_their_backend(settings):
    small = ScriptedBackend([], tool_profile="compact")
    for mode in ("react",):
        assert make_agent(mode, small, settings=settings, tools=TOOLS, cache=False).planner.tool_profile is COMPACT
        assert Agent(small, planner=mode, settings=settings, tools=TOOLS, cache=False).planner.tool_profile is COMPACT
        assert make_agent(mode, ScriptedBackend([]), settings=settings, cache=False).planner.tool_profile is FULL
    local = make_agent("react", "local", settings=settings, tools=TOOLS, cache=False)
    assert local.planner.tool_profile is COMPACT
    assert make_agent("query", small, settings=settings, tools=TOOLS, cache=False).planner.fallback.tool_profile \
        is COMPACT


def test_backends_declare_their_capabilities_and_auto_reads_them(settings):
    from lavr.backends import BackendProfile
    from lavr.backends.openai_compat import OpenAIBackend

    local = make_backend("local", settings).profile
    assert (local.can_prime_prefix, local.supports_grammar, local.tool_profile, local.default_planner) == \
        (True, True, "compact", "query")
    remote = OpenAIBackend("m", settings.model_copy(update={"openai_tool_mode": "json", "openai_vision": True})).profile
    assert (remote.supports_native_tools, remote.supports_images, remote.can_prime_prefix, remote.default_planner) \
        == (False, True, False, "react")
    assert make_planner("auto", settings, llm=ScriptedBackend([])).name == "react"
    declared = ScriptedBackend([], profile=BackendProfile(can_prime_prefix=True, default_planner="query"))
    assert make_planner("auto", settings, llm=declared).name == "query"
