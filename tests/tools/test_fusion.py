"""Weighted box fusion across detectors, one vote per model, one label per object."""

from __future__ import annotations

import pytest

from lavr.schema import Box
from lavr.tools.detect import COCO_LABELS
from lavr.tools.fusion import Candidate, FusionParams, fuse

KNOWN = {"centernet": COCO_LABELS, "nanodet": COCO_LABELS, "fall": ("person",)}
PARAMS = FusionParams(weights={"centernet": 1.0, "nanodet": 1.0, "fall": 1.0}, iou=0.55, conflict_iou=0.7,
                      floor=0.05)


def cand(model: str, label: str, score: float, box: list[float], **attributes: str) -> Candidate:
    return Candidate(model=model, label=label, score=score, box=Box.from_list(box), attributes=attributes)


def test_two_detectors_agreeing_add_up_and_their_boxes_average_by_score():
    [f] = fuse([cand("centernet", "cat", 0.6, [0.1, 0.1, 0.5, 0.5]),
                cand("nanodet", "cat", 0.2, [0.1, 0.1, 0.5, 0.6])], PARAMS, KNOWN)
    assert f.label == "cat" and f.score == pytest.approx((0.6 + 0.2) / 2, abs=1e-4)  # the person detector does not vote
    assert f.box.y2 == pytest.approx((0.5 * 0.6 + 0.6 * 0.2) / 0.8)
    assert f.votes == {"centernet": 0.6, "nanodet": 0.2}


def test_one_vote_per_model_its_best():
    [f] = fuse([cand("centernet", "cup", 0.5, [0.1, 0.1, 0.5, 0.5]),
                cand("centernet", "cup", 0.3, [0.12, 0.1, 0.5, 0.5])], PARAMS, KNOWN)
    assert f.score == pytest.approx(0.5 / 2, abs=1e-4)


def test_the_label_with_more_evidence_wins_and_the_other_is_kept_as_an_alternative():
    bus = [0.02, 0.2, 0.98, 0.65]
    fused = fuse([cand("centernet", "bus", 0.48, bus), cand("centernet", "train", 0.10, bus),
                  cand("nanodet", "train", 0.61, [0.0, 0.22, 0.97, 0.66]), cand("nanodet", "bus", 0.40, bus)],
                 PARAMS, KNOWN)
    assert [(f.label, f.score) for f in fused] == [("bus", pytest.approx(0.44))]
    assert fused[0].alternatives == {"train": pytest.approx(0.355)}


def test_objects_inside_others_and_separate_objects_of_one_label_stay_apart():
    fused = fuse([cand("centernet", "person", 0.7, [0.1, 0.1, 0.4, 0.9]),
                  cand("centernet", "person", 0.6, [0.6, 0.1, 0.9, 0.9]),
                  cand("centernet", "tie", 0.4, [0.22, 0.3, 0.27, 0.55])], PARAMS, KNOWN)
    assert sorted(f.label for f in fused) == ["person", "person", "tie"]


def test_the_person_detector_votes_on_people_and_brings_its_posture():
    [f] = fuse([cand("fall", "person", 0.6, [0.1, 0.1, 0.4, 0.9], posture="lying"),
                cand("nanodet", "person", 0.5, [0.1, 0.1, 0.4, 0.88])], PARAMS, KNOWN)
    assert f.score == pytest.approx((0.6 + 0.5) / 3, abs=1e-4) and f.attributes == {"posture": "lying"}


def test_floor_and_zero_weights_drop_candidates():
    params = PARAMS.model_copy(update={"weights": {"centernet": 1.0, "nanodet": 0.0, "fall": 1.0}})
    fused = fuse([cand("centernet", "dog", 0.04, [0.1, 0.1, 0.4, 0.9]),
                  cand("nanodet", "cat", 0.9, [0.5, 0.1, 0.9, 0.9])], params, KNOWN)
    assert fused == []


def test_weights_scale_the_votes():
    params = PARAMS.model_copy(update={"weights": {"centernet": 3.0, "nanodet": 1.0, "fall": 1.0}})
    [f] = fuse([cand("centernet", "dog", 0.4, [0.1, 0.1, 0.4, 0.9]),
                cand("nanodet", "dog", 0.8, [0.1, 0.1, 0.4, 0.9])], params, KNOWN)
    assert f.score == pytest.approx((3 * 0.4 + 0.8) / 4, abs=1e-4)


def test_a_models_weaker_box_does_not_outvote_its_best_on_attributes():
    [f] = fuse([cand("fall", "person", 0.6, [0.1, 0.1, 0.4, 0.9]),
                cand("fall", "person", 0.1, [0.1, 0.1, 0.4, 0.88], posture="lying")], PARAMS, KNOWN)
    assert f.attributes == {}
    [f] = fuse([cand("fall", "person", 0.2, [0.1, 0.1, 0.4, 0.9]),
                cand("fall", "person", 0.5, [0.1, 0.1, 0.4, 0.88], posture="lying")], PARAMS, KNOWN)
    assert f.attributes == {"posture": "lying"}


def test_people_take_no_part_in_one_label_per_object():
    # the half-seen person at the bus's edge: the COCO models say dog, the person detector says person
    edge = [0.0, 0.52, 0.09, 0.81]
    fused = fuse([cand("centernet", "dog", 0.43, edge), cand("nanodet", "dog", 0.11, edge),
                  cand("fall", "person", 0.58, [0.0, 0.5, 0.09, 0.8])], PARAMS, KNOWN)
    assert sorted(f.label for f in fused) == ["dog", "person"]
    strict = PARAMS.model_copy(update={"independent": ()})
    assert [f.label for f in fuse([cand("centernet", "dog", 0.43, edge), cand("nanodet", "dog", 0.11, edge),
                                   cand("fall", "person", 0.58, [0.0, 0.5, 0.09, 0.8])], strict, KNOWN)] == ["dog"]
