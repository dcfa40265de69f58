"""The agent graph driven by a scripted LLM: happy path, retries, tool errors, budgets, parallel calls."""

import json

import pytest
from PIL import Image
from tools_for_programs import FakeDetectTool
from tools_for_tests import BarrierTool, CountTool, CrashTool, SlowTool

from lavr import Agent
from lavr.backends import ScriptedBackend, tool_call_reply
from lavr.errors import InputError


def call(tool, **args):
    return {"thought": f"use {tool}", "tool_calls": [{"tool": tool, "args": args}]}


def answer(text, rationale="from the counts"):
    return {"thought": "done", "answer": text, "rationale": rationale}


def make(settings, replies, tools=None, **kw):
    backend = ScriptedBackend(replies, **kw)
    agent = Agent(backend, settings=settings.model_copy(update={"num_examples": 0, "tool_timeout_s": 1.0}),
                  tools=tools if tools is not None else [CountTool(settings), CrashTool(settings), SlowTool(settings)],
                  cache=False)
    return agent, backend


@pytest.fixture
def image():
    return Image.new("RGB", (64, 48), (10, 200, 10))


def test_happy_path_trace_and_answer(settings, image):
    agent, backend = make(settings, [call("count", label="person"), answer("4", "count says person=4")])
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and ans.finished == "answered" and ans.retries == 0
    assert [s.kind for s in ans.steps] == ["plan", "tool", "answer"]
    tool_step = ans.steps[1]
    assert tool_step.tool == "count" and tool_step.result == "counts: person=4" and tool_step.error is None
    assert tool_step.data == {"label": "person", "count": 4}
    assert ans.evidence == []  # evidence is object ids: a count names none
    assert ans.usage.llm_calls == 2 and ans.usage.prompt_tokens > 0
    # the observation went back to the LLM, and the schema offered the tools
    second = backend.requests[1]["messages"]
    assert "Observation (count): counts: person=4" in second[-1].content
    # the first turn can only call tools (no tool output yet: an answer would be a guess); later ones may answer
    first, second_schema = backend.requests[0]["json_schema"], backend.requests[1]["json_schema"]
    assert "answer" not in first["properties"] and "anyOf" in second_schema
    variants = first["properties"]["tool_calls"]["items"]["anyOf"]
    assert [v["properties"]["tool"]["const"] for v in variants] == ["count", "crash", "slow"]
    assert "Image img_0: 64x48 pixels." in backend.requests[0]["messages"][1].content
    assert "[x1, y1, x2, y2] normalised" in backend.requests[0]["messages"][0].content


def test_malformed_reply_is_fed_back_and_retried(settings, image):
    agent, backend = make(settings, ["There are 4 people.", call("count", label="person"), answer("4")])
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and ans.retries == 1
    retry = ans.steps[0]
    assert retry.kind == "retry" and "not valid JSON" in retry.error and retry.raw_reply == "There are 4 people."
    fed_back = backend.requests[1]["messages"][-1].content
    assert json.loads(fed_back.splitlines()[0])["error"] == "invalid_reply"


@pytest.mark.parametrize("bad_call,needle", [
    (call("teleport"), "unknown tool 'teleport'. Valid tools: count, crash, slow"),
    (call("count", colour="red"), "invalid arguments for count"),
    (call("count", label="zebra"), "cannot count 'zebra'"),
    (call("crash"), "crash crashed: RuntimeError: boom"),
    (call("slow"), "timed out after 1 s"),
])
def test_tool_errors_are_fed_back(settings, image, bad_call, needle):
    agent, backend = make(settings, [bad_call, answer("cannot tell")])
    ans = agent.ask(image, "How many zebras?")
    err = ans.steps[1].error
    assert err is not None and needle in err
    assert needle in backend.requests[1]["messages"][-1].content
    assert ans.answer == "cannot tell"


def test_step_budget_forces_an_answer(settings, image):
    agent, backend = make(settings, [call("count", label="person"), call("count", label="car"), answer("4")])
    agent = Agent(backend, settings=settings.model_copy(update={"num_examples": 0, "max_steps": 2}),
                  tools=[CountTool(settings)], cache=False)
    ans = agent.ask(image, "How many people?")
    assert ans.finished == "budget_exhausted" and ans.answer == "4"
    last = backend.requests[-1]
    assert last["json_schema"]["required"] == ["thought", "answer", "rationale"]
    assert "No more tools can be called" in last["messages"][-1].content


def test_retries_exhausted_gives_honest_cannot_tell(settings, image):
    backend = ScriptedBackend(["nonsense"], repeat_last=True)
    agent = Agent(backend, settings=settings.model_copy(update={"num_examples": 0, "max_retries": 2}),
                  tools=[CountTool(settings)], cache=False)
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "cannot tell" and ans.finished == "budget_exhausted"
    assert ans.retries == 4  # 3 in the loop (more than max_retries=2) plus the failed forced answer
    assert len(backend.requests) == 4


def test_independent_calls_run_in_parallel(settings, image):
    reply = {"thought": "both", "tool_calls": [{"tool": "meet", "args": {"who": "a"}},
                                               {"tool": "meet", "args": {"who": "b"}}]}
    agent, _ = make(settings, [reply, answer("ok")], tools=[BarrierTool(settings)])
    ans = agent.ask(image, "Do they meet?")
    results = [s.result for s in ans.steps if s.kind == "tool"]
    assert results == ["a met", "b met"]  # order kept; a sequential run would break the barrier


def test_native_tool_calling_backend(settings, image):
    replies = [tool_call_reply(("count", {"label": "bus"})),
               tool_call_reply(("final_answer", {"answer": "1", "rationale": "count bus=1"}))]
    agent, backend = make(settings, replies, native_tools=True)
    ans = agent.ask(image, "How many buses?")
    assert ans.answer == "1" and ans.rationale == "count bus=1"
    names = [t["name"] for t in backend.requests[0]["tools"]]
    assert names == ["count", "crash", "slow", "final_answer"]
    msgs = backend.requests[1]["messages"]
    assert msgs[-2].role == "assistant" and msgs[-2].tool_calls[0].tool == "count"
    assert msgs[-1].role == "tool" and msgs[-1].content == "counts: bus=1" and msgs[-1].tool_call_id


def test_vision_backend_gets_the_image(settings, image):
    agent, backend = make(settings, [answer("green")], images=True)
    agent.ask(image, "What colour is it?")
    parts = backend.requests[0]["messages"][1].images
    assert [p.image_id for p in parts] == ["img_0"] and parts[0].data_url.startswith("data:image/jpeg;base64,")


def test_empty_question_and_graph_shape(settings, image):
    agent, _ = make(settings, [])
    with pytest.raises(InputError, match="empty"):
        agent.ask(image, "   ")
    mermaid = agent.graph.get_graph().draw_mermaid()
    for node in ("plan", "tools", "force"):
        assert node in mermaid


def test_trace_is_serialisable(settings, image):
    agent, _ = make(settings, [call("count", label="person"), answer("4")])
    ans = agent.ask(image, "How many people?")
    data = json.loads(ans.to_json())
    assert data["steps"][1]["result"] == "counts: person=4"
    assert type(ans).model_validate(data) == ans


def test_a_repeated_call_is_answered_not_given_another_turn(settings, image):
    agent, backend = make(settings, [call("count", label="person"), call("count", label="person"), answer("4")],
                          tools=[CountTool(settings)])
    ans = agent.ask(image, "How many people?")
    assert ans.answer == "4" and ans.finished == "answered"
    # the repeated call's output is shown again (tools are pure: the same text), then only an answer is allowed
    assert [s.kind for s in ans.steps] == ["plan", "tool", "plan", "tool", "answer"]
    assert ans.steps[1].result == ans.steps[3].result == "counts: person=4"
    last = backend.requests[-1]
    assert last["json_schema"]["required"] == ["thought", "answer", "rationale"]
    assert "Answer now" in last["messages"][-1].content
    assert "Observation (count): counts: person=4" in last["messages"][-2].content
    assert len(backend.requests) == 3


def test_a_call_with_other_arguments_is_not_a_repeat(settings, image):
    agent, backend = make(settings, [call("count", label="person"), call("count", label="car"), answer("4")])
    ans = agent.ask(image, "How many people and cars?")
    assert [s.kind for s in ans.steps] == ["plan", "tool", "plan", "tool", "answer"]
    assert ans.finished == "answered" and len(backend.requests) == 3


def test_a_yes_no_question_is_answered_yes_no_or_cannot_tell_after_looking(settings, image):
    agent, backend = make(settings, [call("count", label="person"), answer("yes")], tools=[CountTool(settings)])
    assert agent.ask(image, "Are there any people?").answer == "yes"
    first, second = (r["json_schema"] for r in backend.requests)
    assert "answer" not in first["properties"]  # a question's first turn must look first
    answer_branch = next(b for b in second["anyOf"] if "answer" in b["properties"])
    assert answer_branch["properties"]["answer"] == {"enum": ["yes", "no", "cannot tell"]}


def test_the_answers_evidence_is_the_reported_objects_its_words_name(settings, image):
    # obj_7 was never reported by a tool: naming it is not evidence
    agent, _ = make(settings, [call("fake_detect"), answer("1", "obj_2 is the rightmost person; not obj_7")],
                    tools=[FakeDetectTool(settings)])
    ans = agent.ask(image, "Who is on the right?")
    assert ans.evidence == ["obj_2"] == ans.steps[-1].evidence


def test_steps_that_outgrow_the_llms_context_end_in_cannot_tell_not_an_error(settings, image):
    from lavr.errors import ContextFull

    def full(messages):
        raise ContextFull("the prompt no longer fits the model's context window (Requested tokens (8337) exceed "
                          "context window of 8192)")

    agent, backend = make(settings, [call("count", label="person"), full])
    ans = agent.ask(image, "How many people?")
    assert ans.answer.startswith("cannot tell: the steps so far no longer fit") and ans.finished == "budget_exhausted"
    assert [s.kind for s in ans.steps] == ["plan", "tool", "answer"]
    assert "8192" in (ans.steps[-1].error or "")


def test_llama_cpps_context_error_is_context_full_and_others_stay_backend_errors():
    from lavr.backends.llama_cpp import llm_failed
    from lavr.errors import BackendError, ContextFull

    assert isinstance(llm_failed(ValueError("Requested tokens (8337) exceed context window of 8192")), ContextFull)
    other = llm_failed(ValueError("llama_decode returned -3"))
    assert type(other) is BackendError and str(other) == "local LLM failed: llama_decode returned -3"
