"""The one message builder: a trace replayed as chat messages, with budgets fixed per turn (prefix-stable)."""

from lavr.planners.messages import Replay, left_after_each
from lavr.schema import ToolCall
from lavr.trace import PlanStep, RefusalStep, RetryStep, ToolStep

CALL = ToolCall(tool="count", args={"label": "person"}, id="c1")
STEPS = [PlanStep(index=0, thought="look", tool_calls=[CALL]),
         ToolStep(index=1, tool="count", args=CALL.args, call_id="c1", result="counts: person=4"),
         RetryStep(index=2, error="not JSON", raw_reply="x" * 1000),
         PlanStep(index=3, thought="again", tool_calls=[CALL, CALL.model_copy(update={"id": "c2"})]),
         ToolStep(index=4, tool="count", args=CALL.args, call_id="c1", result="counts: person=4"),
         RefusalStep(index=5, reason="at most 1 call", tool_calls=[CALL.model_copy(update={"id": "c2"})]),
         RetryStep(index=6, error="still not JSON", raw_reply="y")]
TEXT = Replay(plan_reply=lambda p: p.thought or "",
              observation=lambda t, left: f"{len(t.results)} results, {len(t.refusals)} refused, {left} turns left",
              rejected=lambda r, left: f"{r.error}; {left} retries left")


def test_budgets_are_counted_from_the_start_so_earlier_turns_never_change():
    # 2 turns and 2 retries used, 2 turns and 1 retry left now
    now = TEXT.messages(STEPS, turns_left=2, retries_left=1)
    assert [m.content for m in now if m.role == "user"] == [
        "1 results, 0 refused, 3 turns left", "not JSON; 2 retries left",
        "1 results, 1 refused, 2 turns left", "still not JSON; 1 retries left"]
    assert now[2].role == "assistant" and now[2].content == "x" * 800  # a rejected reply is clipped
    # the same trace one call earlier renders as a prefix of it (llama.cpp reuses its KV cache)
    earlier = TEXT.messages(STEPS[:3], turns_left=3, retries_left=2)
    assert now[:len(earlier)] == earlier
    assert left_after_each(3, 1) == [3, 2, 1]


def test_native_turns_are_tool_messages():
    native = Replay(native=True, rejected=lambda r, left: r.error)
    msgs = native.messages(STEPS[3:6], turns_left=0, retries_left=0)
    assert [(m.role, m.tool_call_id) for m in msgs] == [("assistant", None), ("tool", "c1"), ("tool", "c2")]
    assert msgs[0].tool_calls[1].id == "c2" and msgs[2].content == "error: at most 1 call"
