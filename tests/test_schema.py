import pytest
from pydantic import ValidationError

from lavr.schema import Box, Detection, ToolCall, Usage
from lavr.trace import MAX_THOUGHT_CHARS, STEPS, Answer, AnswerStep, PlanStep, RefusalStep, RetryStep, ToolStep


def test_box_convention_and_geometry():
    b = Box.from_pixels([81, 108, 405, 540], 810, 1080)
    assert b.as_list() == [0.1, 0.1, 0.5, 0.5]
    assert b.to_pixels(810, 1080) == (81, 108, 405, 540)
    assert b.center == pytest.approx((0.3, 0.3))
    other = Box(x1=0.3, y1=0.3, x2=0.7, y2=0.7)
    assert b.intersection(other) == pytest.approx(0.04)
    assert b.iou(other) == pytest.approx(0.04 / (0.16 + 0.16 - 0.04))
    assert b.render() == "[0.100, 0.100, 0.500, 0.500]"


def test_box_clips_and_refuses_bad_values():
    assert Box.from_pixels([-5, -5, 900, 2000], 810, 1080).as_list() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValidationError):
        Box(x1=0.5, y1=0.1, x2=0.2, y2=0.3)
    with pytest.raises(ValidationError):
        Box(x1=0.0, y1=0.0, x2=1.5, y2=1.0)
    with pytest.raises(ValueError, match="4 numbers"):
        Box.from_list([0.1, 0.2])


def test_answer_round_trips_through_json():
    ans = Answer(question="q", image="img_0", answer="4", steps=[
        PlanStep(index=0, planner="react", thought="count", tool_calls=[ToolCall(tool="detect", id="c0")]),
        ToolStep(index=1, tool="detect", args={"image": "img_0"}, result="counts: person=4",
                 usage=Usage(prompt_tokens=3)),
        RetryStep(index=2, error="not JSON", raw_reply="oops"),
        RefusalStep(index=3, reason="over the limit", tool_calls=[ToolCall(tool="crop")]),
        AnswerStep(index=4, answer="4", rationale="detect said so")],
        usage=Usage(prompt_tokens=10, completion_tokens=2, llm_calls=1))
    again = Answer.model_validate_json(ans.to_json())
    assert again == ans
    assert [type(s) for s in again.steps] == [PlanStep, ToolStep, RetryStep, RefusalStep, AnswerStep]
    d = ans.to_dict()
    assert {"answer", "rationale", "steps", "usage", "seconds"} <= set(d)
    assert Usage(prompt_tokens=1, llm_calls=1).add(Usage(completion_tokens=2, llm_calls=1)).total_tokens == 3


def test_detection_render():
    d = Detection(id="obj_0", image="img_0", label="person", confidence=0.6789,
                  box=Box(x1=0, y1=0, x2=0.5, y2=1), attributes={"posture": "upright"})
    assert d.render() == "obj_0 person [0.000, 0.000, 0.500, 1.000] conf=0.68 posture=upright"


def test_every_step_renders_for_prompt_and_html():
    steps = STEPS.validate_python([
        {"kind": "plan", "index": 0, "thought": "<b>", "tool_calls": [{"tool": "detect", "args": {}}]},
        {"kind": "tool", "index": 1, "tool": "detect", "error": "boom"},
        {"kind": "retry", "index": 2, "error": "bad", "raw_reply": "<script>"},
        {"kind": "refusal", "index": 3, "reason": "limit", "tool_calls": [{"tool": "crop"}]},
        {"kind": "answer", "index": 4, "answer": "4"},
    ])
    texts = [s.prompt_text() for s in steps]
    assert texts[1] == "detect({}) -> error: boom" and texts[3].startswith("refused 1 tool call")
    assert texts[4] == "answer: 4"
    html = "".join(s.html_body() for s in steps)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html


def test_trace_bounds_runaway_llm_text():
    step = PlanStep(index=0, thought="x" * 1_000_000, raw_reply="y" * 1_000_000)
    assert len(step.thought) < MAX_THOUGHT_CHARS + 100 and "cut" in step.thought
    assert len(step.raw_reply) < 5000
