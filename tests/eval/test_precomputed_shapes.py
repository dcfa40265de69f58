"""Precomputed detections serve every call: class filters over their own labels, the scene graph, attributes.

Reproduces issue 8's first cause through both documented routes (``precomputed`` rows in ``lavr eval`` and
``lavr cache seed``): seeded shapes must never be replaced by the local detector's idea of the image.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_helpers import answer, call
from PIL import Image, ImageDraw

from lavr.agents import Agent
from lavr.backends import ScriptedBackend
from lavr.errors import InputError
from lavr.eval import run_eval
from lavr.eval.precomputed import normalise_value, seed_jsonl
from lavr.eval.results import read_results
from lavr.settings import Settings
from lavr.tools import RunContext, default_tools
from lavr.tools.detect import DetectInput, DetectTool, RawDetections

# Three flat shapes as an oracle would describe them: boxes as [x1, y1, x2, y2] lists (the box convention), no
# confidence, attributes the experts cannot see, and (in some tests) no declared labels at all.
SHAPES = [
    {"label": "circle", "box": [0.05, 0.30, 0.25, 0.60], "attributes": {"color": "red", "size": "large",
                                                                         "material": "metal"}},
    {"label": "square", "box": [0.40, 0.35, 0.55, 0.55], "attributes": {"color": "blue", "size": "small",
                                                                         "material": "rubber"}},
    {"label": "triangle", "box": [0.70, 0.10, 0.95, 0.45], "attributes": {"color": "green", "size": "large",
                                                                           "material": "rubber"}},
]


def draw_shapes(path: Path) -> Path:
    img = Image.new("RGB", (160, 120), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 36, 40, 72), fill=(220, 40, 40))
    draw.rectangle((64, 42, 88, 66), fill=(40, 80, 220))
    draw.polygon([(112, 54), (152, 54), (132, 12)], fill=(40, 170, 60))
    img.save(path)
    return path


@pytest.fixture
def offline_detector(monkeypatch):
    """A detect tool that is available (an untrained architecture) but must never load or run."""

    def refuse(*_a, **_k):
        raise AssertionError("the local detector ran although the detections were precomputed")

    monkeypatch.setattr(DetectTool, "setup", lambda self: None)
    monkeypatch.setattr(DetectTool, "predict", refuse)
    monkeypatch.setenv("LAVR_DETECTOR_WEIGHTS", "yolo11n.yaml")


def shapes_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", llm="scripted", detector_weights="yolo11n.yaml", num_examples=0)


def observations(backend: ScriptedBackend) -> list[str]:
    return [r["messages"][-1].content for r in backend.requests[1:]]


def check_observations(obs: list[str]) -> None:
    graph, circles, triangles = obs
    assert "scene graph of img_0: 3 objects; counts: circle=1, square=1, triangle=1" in graph
    # the seeded attributes reach the nodes unchanged; the scene graph adds only what is missing (position)
    assert "circle [0.050, 0.300, 0.250, 0.600] color=red material=metal position=middle-left size=large" in graph
    assert "square [0.400, 0.350, 0.550, 0.550] color=blue material=rubber position=middle-center size=small" in graph
    assert "cannot find" not in circles and "counts: circle=1" in circles and "color=red" in circles
    assert "1 objects (only triangle)" in triangles and "counts: triangle=1" in triangles


def scripted() -> ScriptedBackend:
    return ScriptedBackend([call("scene_graph"), call("detect", classes=["circles"]),
                            call("detect", classes=["triangle"]), answer("1")])


@pytest.mark.parametrize("labels", [None, ["person"], ["circle", "square", "triangle", "star"]])
def test_eval_rows_precomputed_detect_serves_filters_and_scene_graph(tmp_path, offline_detector, labels):
    (tmp_path / "ds").mkdir()
    draw_shapes(tmp_path / "ds" / "shapes.png")
    detect = {"detections": SHAPES} | ({"labels": labels} if labels is not None else {})
    rows = [{"id": "q1", "image": "shapes.png", "question": "How many circles are there?", "answers": ["1"],
             "precomputed": {"detect": detect}}]
    (tmp_path / "ds" / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = shapes_settings(tmp_path)
    backend = scripted()
    agent = Agent(backend, settings=settings, tools=default_tools(settings), cache=False)
    summary = run_eval(tmp_path / "ds" / "d.jsonl", agent_factory=lambda: agent, out=tmp_path / "r.jsonl",
                       progress=False)
    assert summary.line() == "accuracy: 1.000 (1 questions)"
    check_observations(observations(backend))


def test_cache_seed_cli_then_ask(tmp_path, offline_detector, monkeypatch, capsys):
    from lavr.cli import main

    image = draw_shapes(tmp_path / "shapes.png")
    seed = tmp_path / "seed.jsonl"
    seed.write_text(json.dumps({"image": "shapes.png", "precomputed": {"detect": {"detections": SHAPES}}}) + "\n")
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    assert main(["cache", "seed", str(seed)]) == 0
    assert "loaded 1 entries, 0 lines skipped" in capsys.readouterr().out
    settings = shapes_settings(tmp_path)
    backend = scripted()
    agent = Agent(backend, settings=settings, tools=default_tools(settings), cache=True)
    result = agent.ask(image, "How many circles are there?")
    assert result.answer == "1"
    check_observations(observations(backend))
    # the detect step reports where its detections came from, not the local detector
    detect_steps = [s for s in result.steps if s.kind == "tool" and s.tool == "detect"]
    assert detect_steps[0].data["model"] == "precomputed" and detect_steps[0].cached


def test_declared_labels_count_zero_and_unknown_labels_are_refused(tmp_path, offline_detector):
    from lavr.errors import ToolError
    from lavr.eval.precomputed import seed_row

    settings = shapes_settings(tmp_path)
    tools = {t.name: t for t in default_tools(settings)}
    from lavr.cache import ExpertCache
    from lavr.tools import ToolRegistry

    cache = ExpertCache(tmp_path / "c.sqlite")
    ctx = RunContext(settings, cache=cache)
    stored = ctx.images.add(draw_shapes(tmp_path / "shapes.png"))
    seed_row(cache, ToolRegistry(tools.values()), stored,
             {"detect": {"detections": SHAPES, "labels": ["star"]}}, settings)
    out = tools["detect"].run(DetectInput(classes=["star", "square"]), ctx)
    assert out.counts == {"square": 1, "star": 0}
    assert out.known_labels == ["star", "circle", "square", "triangle"]
    with pytest.raises(ToolError, match="cannot find hexagon; it only knows: star, circle, square, triangle"):
        tools["detect"].run(DetectInput(classes=["hexagons"]), ctx)


def test_raw_detections_accept_the_precomputed_forms():
    raw = RawDetections.model_validate({"detections": [
        {"label": "circle", "box": [0.1, 0.1, 0.2, 0.2], "attributes": {"size": 3, "shiny": True, "x": None}},
        {"label": "circles", "box": {"x1": 0.3, "y1": 0.1, "x2": 0.4, "y2": 0.2}, "confidence": 0.5},
    ]})
    assert raw.labels == ["circle"]  # plural folded: one label
    assert raw.detections[0].confidence == 1.0 and raw.detections[0].attributes == {"size": "3", "shiny": "true"}
    assert raw.detections[1].box.x1 == 0.3


@pytest.mark.parametrize("bad, needle", [
    ({"detections": [{"label": "circle", "box": [0.5, 0.5, 0.2, 0.9]}]}, "x1 <= x2"),
    ({"detections": [{"label": "circle", "box": [0.5, 0.5, 0.9]}]}, "4 numbers"),
    ({"detections": [{"box": [0.1, 0.1, 0.2, 0.2]}]}, "detections.0.label"),
    ({"labels": ["circle"]}, "detections: Field required"),
])
def test_malformed_precomputed_detect_is_refused_with_its_reason(bad, needle, tmp_path, offline_detector):
    with pytest.raises(InputError, match="precomputed detect") as err:
        normalise_value("detect", bad)
    assert needle in str(err.value)
    # through an eval row: an error row with the reason, not a silent re-detection
    (tmp_path / "ds").mkdir()
    draw_shapes(tmp_path / "ds" / "shapes.png")
    row = {"id": "bad", "image": "shapes.png", "question": "How many?", "answers": ["1"],
           "precomputed": {"detect": bad}}
    (tmp_path / "ds" / "d.jsonl").write_text(json.dumps(row) + "\n")
    settings = shapes_settings(tmp_path)
    agent = Agent(ScriptedBackend([answer("1")]), settings=settings, tools=default_tools(settings), cache=False)
    run_eval(tmp_path / "ds" / "d.jsonl", agent_factory=lambda: agent, out=tmp_path / "r.jsonl", progress=False)
    [record] = read_results(tmp_path / "r.jsonl")
    assert record["error_kind"] == "run:InputError" and needle in record["error"]


def test_low_level_seed_lines_are_validated_too(tmp_path, offline_detector):
    from lavr.cache import ExpertCache
    from lavr.eval.precomputed import seed_file
    from lavr.images import content_hash, load_image
    from lavr.tools import ToolRegistry

    image = draw_shapes(tmp_path / "shapes.png")
    sha = content_hash(load_image(image)[0])
    good = {"image_sha256": sha, "tool": "detect", "params": {"conf": 0.1}, "value": {"detections": SHAPES}}
    bad = {**good, "value": {"detections": [{"label": "circle", "box": [0.9, 0.1, 0.2, 0.2]}]}}
    seed = tmp_path / "low.jsonl"
    seed.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    settings = shapes_settings(tmp_path)
    registry = ToolRegistry(default_tools(settings))
    for load in (lambda c: seed_file(seed, c, registry, settings),
                 lambda c: seed_jsonl(c, seed, identity_for=lambda t: registry.get(t).identity(),
                                        normalise=normalise_value)):
        cache = ExpertCache(tmp_path / f"c{id(load)}.sqlite")
        report = load(cache)
        assert report.loaded == 1 and len(report.errors) == 1 and "line 2: precomputed detect" in report.errors[0]
        ctx = RunContext(settings, cache=cache)
        ctx.images.add(image)
        out = registry.get("detect").run(DetectInput(classes=["squares"]), ctx)
        assert out.counts == {"square": 1} and out.model == "precomputed"
