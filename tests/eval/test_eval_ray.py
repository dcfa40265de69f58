"""The Ray executor on a local Ray instance (2 CPUs): same results file, resume and errors as the local one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from lavr.errors import LavrError
from lavr.eval.ray_executor import gpus_per_actor
from lavr.eval.results import read_results
from lavr.eval.runner import run_eval
from lavr.eval.spec import AgentSpec
from lavr.settings import Settings

TESTS = Path(__file__).resolve().parents[1]  # tests/: the workers import tools_for_tests from there


def test_gpus_per_actor():
    assert gpus_per_actor(Settings(device="cuda"), 2) == 1
    assert gpus_per_actor(Settings(device="auto"), 1) == 1
    assert gpus_per_actor(Settings(device="cpu"), 4) == 0
    assert gpus_per_actor(Settings(device="cuda"), 0) == 0


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}})
    yield ray
    ray.shutdown()


def _dataset(folder: Path) -> Path:
    folder.mkdir()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(folder / "a.png")
    Image.new("RGB", (40, 40), (200, 10, 10)).save(folder / "b.png")
    rows = [{"id": "a1", "image": "a.png", "question": "How many people?", "answers": ["4"] * 10},
            {"id": "a2", "image": "a.png", "question": "How many people here?", "answers": ["3"] * 10},
            {"id": "b1", "image": "b.png", "question": "How many people?", "answers": ["4"] * 10},
            {"id": "gone", "image": "nope.png", "question": "How many people?", "answers": ["4"]}]
    path = folder / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.ray
@pytest.mark.timeout(180)
def test_ray_executor_matches_the_local_format_and_resumes(local_ray, tmp_path):
    path = _dataset(tmp_path / "ds")
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [
        {"thought": "count", "tool_calls": [{"tool": "count", "args": {"label": "person"}}]},
        {"thought": "done", "answer": "4", "rationale": "count says 4"}], "repeat_last": True}))
    spec = AgentSpec(llm=f"scripted:{replies}", settings={"data_dir": str(tmp_path / "data"), "num_examples": 0},
                     tools=("tools_for_tests:CountTool",), cache=False)
    out = tmp_path / "ray.jsonl"
    summary = run_eval(path, agent_factory=spec, out=out, executor="ray", concurrency=2, seed=7, progress=False)
    assert summary.line() == "accuracy: 0.667 (3 questions)" and summary.errors == 1 and summary.ran == 4
    records = {r["id"]: r for r in read_results(out)}
    assert set(records) == {"a1", "a2", "b1", "@line4:gone"}
    assert records["a1"]["tools"] == ["count"] and records["a1"]["mode"] == "react" and records["a1"]["seed"] == 7
    assert records["@line4:gone"]["error_kind"] == "dataset:missing_image"
    # resume: nothing left to do, so no actor starts
    again = run_eval(path, agent_factory=spec, out=out, executor="ray", concurrency=2, progress=False)
    assert again.ran == 0 and again.skipped == 4 and again.line() == summary.line()


@pytest.mark.ray
@pytest.mark.timeout(120)
def test_ray_executor_reports_an_agent_that_cannot_be_built(local_ray, tmp_path):
    path = _dataset(tmp_path / "ds")
    spec = AgentSpec(llm=f"scripted:{tmp_path / 'missing.json'}", settings={"data_dir": str(tmp_path / "data")})
    with pytest.raises(LavrError, match="could not build the agent on a Ray worker"):
        run_eval(path, agent_factory=spec, out=tmp_path / "r.jsonl", executor="ray", progress=False)
