import json

import pytest
from PIL import Image

from lavr.agents.executor import ToolExecutor
from lavr.cache import ExpertCache
from lavr.eval.precomputed import seed_file
from lavr.images import content_hash, load_image
from lavr.schema import Box, ToolCall
from lavr.tools import CropTool, RunContext, ToolRegistry, default_tools
from lavr.tools.detect import DetectInput


def test_crop_by_object_and_box(settings):
    ctx = RunContext(settings)
    ctx.images.add(Image.new("RGB", (200, 100)))
    ctx.register_object(image="img_0", label="person", confidence=0.9, box=Box(x1=0.1, y1=0.2, x2=0.3, y2=0.6))
    executor = ToolExecutor(ToolRegistry([CropTool(settings)]))
    step = executor.run_one(ToolCall(tool="crop", args={"object": "obj_0", "margin": 0.0}), ctx)
    assert step.result == "crop_0: 40x40 crop of img_0 at [0.100, 0.200, 0.300, 0.600]; use it as an image id"
    again = executor.run_one(ToolCall(tool="crop", args={"object": "obj_0", "margin": 0.0}), ctx)
    assert again.data["crop"] == "crop_0"  # the same region keeps its id
    step = executor.run_one(ToolCall(tool="crop", args={"box": [0.5, 0.0, 1.0, 1.0]}), ctx)
    assert step.data["crop"] == "crop_1" and ctx.images.get("crop_1").size == (105, 100)  # 5% margin, clipped
    for args, needle in [({}, "exactly one"), ({"object": "obj_9"}, "unknown object id 'obj_9'"),
                         ({"box": [0.5, 0.5, 0.2, 0.9]}, "x1 <= x2"), ({"box": [0, 0, 1, 1.5]}, "less than or equal"),
                         ({"image": "crop_7", "box": [0, 0, 1, 1]}, "unknown image id 'crop_7'")]:
        assert needle in executor.run_one(ToolCall(tool="crop", args=args), ctx).error


def test_seed_file_mixed_forms(tmp_path, settings, bus_jpg):
    (tmp_path / "bus.jpg").write_bytes(bus_jpg.read_bytes())
    raw = {"detections": [{"label": "person", "confidence": 0.9, "box": [0.1, 0.1, 0.4, 0.9]}], "labels": ["person"]}
    raw["detections"][0]["box"] = Box.from_list(raw["detections"][0]["box"]).model_dump()
    pil, _ = load_image(tmp_path / "bus.jpg")
    lines = [json.dumps({"image": "bus.jpg", "precomputed": {"detect": raw}}),
             json.dumps({"image_sha256": content_hash(pil), "tool": "scene_graph", "value": {"x": 1}}),
             "not json", json.dumps({"image": "missing.jpg", "precomputed": {"detect": raw}})]
    (tmp_path / "seed.jsonl").write_text("\n".join(lines) + "\n")
    cache = ExpertCache(tmp_path / "c.sqlite")
    registry = ToolRegistry(default_tools(settings))
    report = seed_file(tmp_path / "seed.jsonl", cache, registry, settings)
    assert report.loaded == 2 and [e.split(":")[0] for e in report.errors] == ["line 3", "line 4"]
    # the detector never runs: its output comes from the seeded cache
    ctx = RunContext(settings, cache=cache)
    ctx.images.add(tmp_path / "bus.jpg")
    out = registry.get("detect").run(DetectInput(), ctx)
    assert out.counts == {"person": 1} and out.detections[0].confidence == 0.9


@pytest.mark.parametrize("action", ["stats", "clear"])
def test_cache_command(tmp_path, action, monkeypatch, capsys):
    from lavr.cli import main

    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path))
    assert main(["cache", action]) == 0
    out = capsys.readouterr().out
    assert ("0 entries" in out) if action == "stats" else ("removed 0 entries" in out)


def test_cache_seed_obeys_allowed_roots_without_revealing_files(tmp_path, monkeypatch, capsys, bus_jpg):
    from lavr.cli import main

    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "bus.jpg").write_bytes(bus_jpg.read_bytes())
    raw = {"detections": [], "labels": ["person"]}
    lines = [json.dumps({"image": str(outside / name), "precomputed": {"detect": raw}})
             for name in ("bus.jpg", "missing.jpg")]
    (tmp_path / "seed.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_ALLOWED_ROOTS", json.dumps([str(inside)]))
    assert main(["cache", "seed", str(tmp_path / "seed.jsonl")]) == 1
    captured = capsys.readouterr()
    errors = [line.split(": ", 2)[-1] for line in captured.err.strip().splitlines()]
    # the same refusal for a file that exists and one that does not: nothing is revealed about outside files
    assert len(errors) == 2 and all("outside the allowed folders" in e for e in errors)
    assert "no such file" not in captured.err and "loaded 0 entries" in captured.out


def test_cache_seed_reports_entries_the_bound_evicted(tmp_path, monkeypatch, capsys):
    from lavr.cli import main

    lines = [json.dumps({"image_sha256": "c" * 64, "tool": "scene_graph", "params": {"i": i}, "identity": "m",
                         "value": {"blob": "w" * 400}}) for i in range(300)]
    (tmp_path / "seed.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_CACHE_MAX_BYTES", "5000")
    assert main(["cache", "seed", str(tmp_path / "seed.jsonl")]) == 0
    out = capsys.readouterr().out
    kept = 5000 // len(json.dumps({"blob": "w" * 400}, separators=(",", ":")))  # 411 bytes each: 12 fit
    assert f"loaded 300 entries; {300 - kept} of them evicted again by the size bound (LAVR_CACHE_MAX_BYTES=5000)" \
        in out
    assert main(["cache", "stats"]) == 0 and f"{kept} entries" in capsys.readouterr().out
