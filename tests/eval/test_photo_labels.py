"""The labelled photo set (examples/eval/photos_labels.yaml), its count scoring, and the photos question set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from PIL import Image
from pydantic import ValidationError

from lavr.eval import load_dataset
from lavr.eval.photo_labels import LabelledPhotos, PhotoLabels, load_photo_labels, match_counts, score_counts
from lavr.samples import SAMPLES, sample_path

REPO = Path(__file__).resolve().parents[2]


def test_every_labelled_photo_is_a_named_sample_and_every_sample_is_labelled():
    labels = load_photo_labels()
    assert set(labels.photos) == set(SAMPLES)
    assert labels.classes_present() == ["person", "bicycle", "motorcycle", "bus", "bench", "cat", "tie", "bottle",
                                        "cup", "spoon"]


def test_the_people_counts_agree_with_the_people_set_truth():
    labels = load_photo_labels()
    # the people set (examples/eval/make_people_set.py) and scripts/choose_thresholds.py counted these before
    people = {"bus": 4, "zidane": 2, "astronaut": 1, "grace_hopper": 1, "camera": 1, "chelsea": 0, "coffee": 0,
              "flower": 0, "rocket": 0, "motorcycle": 0, "china": 0}
    assert {name: labels.photos[name].objects.get("person", 0) for name in people} == people


def test_labels_refuse_a_non_coco_label_a_negative_count_and_a_people_list_of_the_wrong_length():
    with pytest.raises(ValidationError, match="not COCO labels: lion"):
        PhotoLabels(kind="photo", objects={"lion": 1})
    with pytest.raises(ValidationError, match=">= 0"):
        PhotoLabels(kind="photo", objects={"cat": -1})
    with pytest.raises(ValidationError, match="2 people described, 1 counted"):
        PhotoLabels(kind="photo", objects={"person": 1}, people=[{"posture": "standing"}, {}])
    with pytest.raises(ValidationError):
        PhotoLabels(kind="photo", people=[{"posture": "crouching"}], objects={"person": 1})
    with pytest.raises(ValidationError):
        LabelledPhotos.model_validate({"photos": {"x": {"kind": "painting"}}})


def test_count_matching_right_false_and_missed_with_difficult_objects():
    photo = PhotoLabels(kind="photo", objects={"person": 4, "bus": 1}, difficult={"bicycle": 1, "person": 1})
    scores = match_counts(photo, {"person": 6, "bicycle": 1, "train": 1})
    # 6 persons: 4 right, 1 may be the difficult one, 1 false; the difficult bicycle is no false positive; the
    # missed bus is a miss; the train is false
    assert {k: (s.tp, s.fp, s.fn) for k, s in scores.items()} == {
        "person": (4, 1, 0), "bus": (0, 0, 1), "train": (0, 1, 0)}
    assert match_counts(photo, {"person": 4, "bus": 1}) == match_counts(photo, {"person": 5, "bus": 1})
    assert photo.count_ok("person", 5) and photo.count_ok("person", 4) and not photo.count_ok("person", 3)
    assert photo.count_ok("bicycle", 0) and not photo.count_ok("train", 1)


def test_scores_sum_over_photos():
    labels = LabelledPhotos.model_validate({"photos": {
        "a": {"kind": "photo", "objects": {"cat": 1}},
        "b": {"kind": "texture"},
        "c": {"kind": "photo", "objects": {"cat": 2}}}})
    scores = score_counts(labels, {"a": {"cat": 1, "dog": 1}, "b": {"cat": 1}, "c": {"cat": 1}})
    assert (scores["cat"].tp, scores["cat"].fp, scores["cat"].fn) == (2, 1, 1)
    assert scores["cat"].precision == pytest.approx(2 / 3) and scores["cat"].recall == pytest.approx(2 / 3)
    assert scores["dog"].precision == 0.0 and scores["dog"].recall is None


def test_every_labelled_photo_opens(tmp_path):
    labels = yaml.safe_load((REPO / "examples/eval/photos_labels.yaml").read_text())
    for name in labels["photos"]:
        package = SAMPLES[name][0]
        if importlib.util.find_spec(package) is None:
            continue
        Image.open(sample_path(name)).verify()


def test_photos_question_set_builds_and_matches_the_committed_file(tmp_path):
    for package in ("ultralytics", "skimage", "sklearn", "matplotlib", "gradio"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed")
    spec = importlib.util.spec_from_file_location("make_photos_set", REPO / "examples/eval/make_photos_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dataset = module.build(tmp_path)
    ds = load_dataset(dataset)
    assert len(ds) >= 60 and not ds.invalid
    assert len({r.id for r in ds.rows}) == len(ds)
    assert all(len(r.answers) == 10 for r in ds.rows)
    kinds = {r.question_type for r in ds.rows}
    assert {"count", "exists", "color", "position", "relation", "posture", "expression"} <= kinds
    assert dataset.read_text() == (REPO / "examples/eval/photos.jsonl").read_text()
    # the photos asked about are photos of the labelled set
    labelled = {sample_path(name).name for name in load_photo_labels().photos}
    assert {Path(r.image).name for r in ds.rows} <= labelled


def test_the_detector_recall_lavr_ships_is_measured_on_these_labels():
    # lavr/tools/coco_recall.json (scripts/detection_report.py --write-recall): a class's "there" is its hand count
    from lavr.tools.coco_fusion import MIN_RECALL, RECALL_FILE, often_missed

    labels = load_photo_labels()
    import json

    shipped = json.loads(RECALL_FILE.read_text())["classes"]
    assert list(shipped) == labels.classes_present()
    for label, c in shipped.items():
        assert c["there"] == sum(p.objects.get(label, 0) for p in labels.photos.values())
        assert 0 <= c["found"] <= c["there"]
    assert set(often_missed()) == {label for label, c in shipped.items() if c["found"] / c["there"] < MIN_RECALL}
