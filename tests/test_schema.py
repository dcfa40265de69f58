import pytest
from pydantic import ValidationError

from lavr.schema import Answer, Box, Detection, Step, Usage


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
        Step(index=0, kind="tool", tool="detect", args={"image": "img_0"}, result="counts: person=4",
             usage=Usage(prompt_tokens=3))], usage=Usage(prompt_tokens=10, completion_tokens=2, llm_calls=1))
    again = Answer.model_validate_json(ans.to_json())
    assert again == ans
    d = ans.to_dict()
    assert {"answer", "rationale", "steps", "usage", "seconds"} <= set(d)
    assert Usage(prompt_tokens=1, llm_calls=1).add(Usage(completion_tokens=2, llm_calls=1)).total_tokens == 3


def test_detection_render():
    d = Detection(id="obj_0", image="img_0", label="person", confidence=0.6789,
                  box=Box(x1=0, y1=0, x2=0.5, y2=1), attributes={"posture": "upright"})
    assert d.render() == "obj_0 person [0.000, 0.000, 0.500, 1.000] conf=0.68 posture=upright"
