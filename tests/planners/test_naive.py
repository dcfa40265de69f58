"""The naive baseline (every expert output in one prompt, one LLM call) and the shapes benchmark's plumbing."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import REPO

from lavr.agents import Agent
from lavr.backends import ScriptedBackend
from lavr.cache import ExpertCache
from lavr.eval import run_eval
from lavr.eval.results import read_results
from lavr.eval.synthetic import write_dataset
from lavr.settings import Settings
from lavr.tools import default_tools
from lavr.tools.detect import DetectTool


@pytest.fixture
def offline_detector(monkeypatch, tmp_path):
    """Detections come from the rows' precomputed outputs; the local detector must never load or run."""

    def refuse(*_a, **_k):
        raise AssertionError("the local detector ran although the detections were precomputed")

    monkeypatch.setattr(DetectTool, "setup", lambda self: None)
    monkeypatch.setattr(DetectTool, "predict", refuse)
    monkeypatch.setenv("LAVR_DETECTOR_WEIGHTS", "yolo11n.yaml")
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))


def test_naive_agent_pastes_every_expert_output_into_one_call(tmp_path, offline_detector):
    rows = write_dataset(tmp_path / "shapes.jsonl", seed=0, scenes=2, per_scene=3)
    settings = Settings(llm="scripted")
    backend = ScriptedBackend(["3\nbecause the detector says so"], repeat_last=True)
    cache = ExpertCache(tmp_path / "experts.sqlite")  # the rows' precomputed detections are seeded here
    agent = Agent(backend, planner="naive", settings=settings, tools=default_tools(settings), cache=cache)
    summary = run_eval(tmp_path / "shapes.jsonl", agent_factory=lambda: agent, out=tmp_path / "r.jsonl",
                       metric="exact_match", progress=False)
    records = read_results(tmp_path / "r.jsonl")
    assert len(backend.requests) == len(rows) == summary.report.scored == 6  # one call per question
    assert all(r["raw_answer"] == "3" and r["mode"] == "naive" and r["tools"] == ["detect", "scene_graph", "picture"]
               for r in records)  # the reply's first line only
    assert summary.report.accuracy == sum(r["prediction"] in r["answers"] for r in records) / 6
    first = rows[0]
    system, user = backend.requests[0]["messages"]
    assert system.role == "system" and "short answer" in system.content and "[x1, y1, x2, y2]" in system.content
    shapes = first.precomputed["detect"]["detections"]
    counts = {s["label"]: sum(d["label"] == s["label"] for d in shapes) for s in shapes}
    # the seeded detections, their attributes and the scene graph's relations all reach the one prompt
    assert "[detect]" in user.content and "[scene_graph]" in user.content and "[picture]" in user.content
    assert "style: drawing" in user.content and "shows: shapes (" in user.content
    assert "counts: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) in user.content
    assert f"color={shapes[0]['attributes']['color']}" in user.content and "left of" in user.content
    assert user.content.endswith(f"Q: {first.question}\nA:")
    assert backend.requests[0]["max_tokens"] == 16 and backend.requests[0]["json_schema"] is None
    answer = agent.ask(tmp_path / first.image, "How many circles are there?")
    assert answer.answer == "3" and answer.usage.llm_calls == 1
    assert [s.kind for s in answer.steps][-1] == "answer" and "detect, scene_graph, picture" in answer.rationale


def test_shapes_bench_runs_modes_side_by_side(tmp_path, offline_detector, capsys):
    data = tmp_path / "set" / "shapes.jsonl"
    write_dataset(data, seed=1, scenes=4, per_scene=4)
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": ["yes"], "repeat_last": True}))
    spec = importlib.util.spec_from_file_location("shapes_bench", REPO / "bench" / "shapes_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    code = bench.main(["--modes", "naive", "--llm", f"scripted:{replies}", "--data", str(data), "--limit", "5",
                       "--out-dir", str(tmp_path / "out"), "--json", str(tmp_path / "s.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"5 questions from {data}") and "seconds/q median" in out and "naive" in out
    summary = json.loads((tmp_path / "s.json").read_text())["naive"]
    records = read_results(tmp_path / "out" / "shapes-naive.jsonl")
    assert summary["n"] == len(records) == 5 and summary["errors"] == 0
    assert summary["accuracy"] == sum(r["score"] for r in records) / 5
    assert bench.main(["--modes", "nope", "--llm", f"scripted:{replies}", "--data", str(data), "--limit", "1",
                       "--out-dir", str(tmp_path / "out")]) == 2  # an unknown mode: one error line


@pytest.mark.models
def test_naive_prompt_carries_the_coco_objects_and_the_people_attributes(tmp_path, bus_jpg):
    from lavr.tools.coco_fusion import human_models_usable
    from lavr.tools.yolo import fall_detector_weights

    settings = Settings(llm="scripted", data_dir=tmp_path / "data")
    if not human_models_usable(settings)[0] or fall_detector_weights() is None:
        pytest.skip("needs the human-models weights (lavr models install) and the person detector")
    backend = ScriptedBackend(["1"], repeat_last=True)
    agent = Agent(backend, planner="naive", settings=settings, tools=default_tools(settings), cache=None)
    answer = agent.ask(bus_jpg, "How many buses are there?")
    [_, user] = backend.requests[0]["messages"]
    assert answer.answer == "1"
    assert "counts: bus=1, person=3" in user.content  # detect's own counts (the edge person is the people tool's)
    assert "counts: bus=1, face=2, person=4" in user.content  # the scene graph: people cross-checked with faces
    assert "posture=standing" in user.content and "shows: people (4 people); vehicles (1 bus)" in user.content
