"""Posture, arms and facing from body keypoints; expression and age bracket from the face models' outputs."""

from __future__ import annotations

import pytest

from lavr.tools.body_attributes import KEYPOINTS, body_attributes, match_bodies
from lavr.tools.face_attributes import EXPRESSIONS, age_bracket, expression, face_attributes

SIZE = (1000, 1000)
SEEN, UNSEEN = 0.9, 0.05


def skeleton(**points: tuple[float, float] | tuple[float, float, float]) -> list[tuple[float, float, float]]:
    """17 keypoints: the named ones seen (or with the score given), the rest unseen at the image's middle."""
    out = []
    for name in KEYPOINTS:
        p = points.get(name)
        out.append((0.5, 0.5, UNSEEN) if p is None else (p[0], p[1], p[2] if len(p) == 3 else SEEN))
    return out


HEAD_FRONT = dict(nose=(0.5, 0.10), left_eye=(0.52, 0.09), right_eye=(0.48, 0.09))
# facing the camera: the person's left shoulder is on the image's right
TORSO_FRONT = dict(left_shoulder=(0.58, 0.20), right_shoulder=(0.42, 0.20), left_hip=(0.55, 0.50),
                   right_hip=(0.45, 0.50))
ARMS_DOWN = dict(left_elbow=(0.60, 0.32), right_elbow=(0.40, 0.32), left_wrist=(0.60, 0.44),
                 right_wrist=(0.40, 0.44))
LEGS_STANDING = dict(left_knee=(0.55, 0.72), right_knee=(0.45, 0.72), left_ankle=(0.55, 0.92),
                     right_ankle=(0.45, 0.92))


def test_a_person_standing_facing_the_camera_arms_down():
    kps = skeleton(**HEAD_FRONT, **TORSO_FRONT, **ARMS_DOWN, **LEGS_STANDING)
    assert body_attributes(kps, SIZE) == {"posture": "standing", "arms": "down", "facing": "camera"}


def test_raised_arms_and_one_raised_wrist():
    both = dict(ARMS_DOWN, left_wrist=(0.62, 0.04), right_wrist=(0.38, 0.05))
    assert body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **both), SIZE)["arms"] == "raised"
    one = dict(ARMS_DOWN, left_wrist=(0.62, 0.04))
    assert body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **one), SIZE)["arms"] == "raised"


def test_one_wrist_unseen_and_down_says_nothing_about_arms():
    arms = dict(ARMS_DOWN, right_wrist=(0.40, 0.44, 0.1))
    assert "arms" not in body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **arms), SIZE)


def test_sitting_seen_from_the_side_and_from_the_front():
    side = dict(nose=(0.40, 0.10), left_shoulder=(0.50, 0.20), right_shoulder=(0.51, 0.20), left_hip=(0.50, 0.50),
                right_hip=(0.51, 0.50), left_knee=(0.30, 0.52), right_knee=(0.31, 0.53),
                left_ankle=(0.30, 0.75), right_ankle=(0.31, 0.76))
    assert body_attributes(skeleton(**side), SIZE) == {"posture": "sitting", "facing": "side"}
    # from the front the thighs point at the camera: short, with the shins below
    front = dict(left_knee=(0.56, 0.58), right_knee=(0.44, 0.58), left_ankle=(0.56, 0.80),
                 right_ankle=(0.44, 0.80))
    assert body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **front), SIZE)["posture"] == "sitting"


def test_lying_on_the_ground():
    kps = skeleton(nose=(0.15, 0.80), left_shoulder=(0.25, 0.78), right_shoulder=(0.25, 0.84),
                   left_hip=(0.55, 0.79), right_hip=(0.55, 0.85), left_knee=(0.75, 0.80), right_knee=(0.75, 0.86))
    assert body_attributes(kps, SIZE)["posture"] == "lying"


def test_a_portrait_without_legs_has_no_posture_and_a_bent_torso_without_legs_neither():
    assert "posture" not in body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT), SIZE)
    bent = dict(left_shoulder=(0.30, 0.40), right_shoulder=(0.32, 0.42), left_hip=(0.55, 0.55),
                right_hip=(0.56, 0.56))
    assert "posture" not in body_attributes(skeleton(nose=(0.2, 0.35), **bent), SIZE)


def test_low_confidence_legs_give_no_posture_never_a_guess():
    legs = {k: (*v, 0.2) for k, v in LEGS_STANDING.items()}
    assert "posture" not in body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **legs), SIZE)
    # the same legs count once the threshold admits them
    assert body_attributes(skeleton(**HEAD_FRONT, **TORSO_FRONT, **legs), SIZE, min_score=0.1)["posture"] == \
        "standing"


def test_facing_away_from_behind():
    back = dict(left_shoulder=(0.42, 0.20), right_shoulder=(0.58, 0.20), left_hip=(0.45, 0.50),
                right_hip=(0.55, 0.50))
    assert body_attributes(skeleton(**back, **LEGS_STANDING), SIZE)["facing"] == "away"
    # the nose seen, the eyes not, shoulders in the mirror order: nothing decided
    assert "facing" not in body_attributes(skeleton(nose=(0.5, 0.1), **TORSO_FRONT), SIZE)


def test_a_wrong_number_of_keypoints_is_refused():
    with pytest.raises(ValueError, match="expected 17 keypoints, got 3"):
        body_attributes([(0.5, 0.5, 1.0)] * 3, SIZE)


def test_bodies_match_person_boxes_by_keypoint_containment_and_overlap():
    left = skeleton(**{k: (x - 0.3, y) for k, (x, y) in {**HEAD_FRONT, **TORSO_FRONT, **LEGS_STANDING}.items()})
    right = skeleton(**{k: (x + 0.3, y) for k, (x, y) in {**HEAD_FRONT, **TORSO_FRONT, **LEGS_STANDING}.items()})
    persons = [(0.70, 0.05, 0.92, 0.95), (0.10, 0.05, 0.32, 0.95), (0.40, 0.40, 0.50, 0.50)]
    bodies = [((0.12, 0.08, 0.30, 0.93), left), ((0.72, 0.08, 0.90, 0.93), right)]
    assert match_bodies(persons, bodies) == {0: 1, 1: 0}
    assert match_bodies([(0.0, 0.0, 0.2, 0.2)], bodies) == {}


def test_expression_only_when_clear():
    assert expression([0.0, 0.0, 0.0, 0.9, 0.05, 0.0, 0.05]) == "happy"
    assert expression([0.1, 0.0, 0.0, 0.0, 0.1, 0.2, 0.6]) == "neutral"
    assert expression([0.3, 0.0, 0.0, 0.35, 0.1, 0.05, 0.2]) is None
    assert set(EXPRESSIONS) == {"angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"}
    with pytest.raises(ValueError):
        expression([1.0])


@pytest.mark.parametrize("years, bracket", [(5, "child"), (9.9, "child"), (10.5, None), (16, "teen"),
                                            (18, None), (35, "adult"), (58, None), (75, "elderly"),
                                            (0, None), (-3, None), (150, None)])
def test_age_brackets_with_a_margin_at_their_edges(years, bracket):
    assert age_bracket(years) == bracket


def test_small_faces_get_no_attributes():
    probs = [0.0, 0.0, 0.0, 0.9, 0.05, 0.0, 0.05]
    assert face_attributes(probabilities=probs, age_years=35, face_side_px=80) == {"expression": "happy",
                                                                                   "age": "adult"}
    assert face_attributes(probabilities=probs, age_years=35, face_side_px=20) == {}
