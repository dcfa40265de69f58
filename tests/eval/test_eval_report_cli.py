"""The evaluation report, compare, the eval CLI end to end, and the example set."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest
from eval_helpers import answer, ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image

from lavr.cli import main
from lavr.eval.cli import add_eval_commands
from lavr.eval.compare import compare_files, compare_results, format_comparison
from lavr.eval.dataset import load_dataset
from lavr.eval.report import build_report, format_report, summary_line, write_report_json
from lavr.eval.results import read_results
from lavr.eval.runner import run_eval
from lavr.eval.spec import AgentSpec

REPO = Path(__file__).resolve().parents[2]


# Report and compare ------------------------------------------------------------------------------------------

def rec(rid, score, *, seconds=1.0, qtype=None, tools=(), error=None, kind=None, prediction="x", question=None):
    return {"id": rid, "question": question or f"question {rid}?", "question_type": qtype, "prediction": prediction,
            "score": None if error else score, "metric": "vqa", "error": error, "error_kind": kind,
            "seconds": seconds, "usage": {"prompt_tokens": 100, "completion_tokens": 10, "llm_calls": 2,
                                          "cached_prompt_tokens": 60},
            "tools": list(tools), "steps": 3, "retries": 1 if rid in ("r1", "r2") else 0,
            "finished": None if error else "answered"}


def test_report_numbers_and_text(tmp_path):
    records = [rec(f"r{i}", i % 2, seconds=float(i + 1), qtype="count" if i < 6 else "exists",
                   tools=["detect"] + (["scene_graph"] if i < 3 else []), prediction=str(i % 2 + 2),
                   question=f"how many? {i}") for i in range(10)]
    records[2]["prediction"] = "Cannot tell."  # wrong, but not confidently: the abstention, normalised
    for r in records:
        r["answers"] = ["3"]
    records += [rec("e1", None, error="no such file", kind="run:ImageError"),
                rec("e2", None, error="gone", kind="run:ImageError"),
                rec("e3", None, error="malformed line", kind="dataset:malformed_line")]
    report = build_report(records)
    assert report.rows == 13 and report.scored == 10 and report.errors == 3 and report.accuracy == 0.5
    assert report.latency == {"p50": 5.5, "p90": 9.1, "p99": 9.91}
    assert report.tool_usage == {"detect": 10, "scene_graph": 3}
    assert report.by_type["count"].n == 6 and report.by_type["count"].accuracy == 0.5
    assert report.by_type["exists"].accuracy == 0.5
    assert report.tokens == {"mean_prompt": 100.0, "mean_completion": 10.0, "mean_llm_calls": 2.0,
                             "mean_new_prompt": 40.0}
    assert report.wrong == 5 and report.confidently_wrong == 4
    assert (report.by_type["count"].wrong, report.by_type["count"].confidently_wrong) == (3, 2)
    assert report.by_type["count"].confidently_wrong_share == pytest.approx(2 / 6)
    assert [(c.expected, c.given, c.count, c.ids) for c in report.confusions["count"]] == [
        ("3", "2", 2, ["r0", "r4"]), ("3", "cannot tell", 1, ["r2"])]
    assert report.retries == {"total": 2.0, "questions_with_retry": 2.0, "share_with_retry": 0.2}
    assert [(e.kind, e.count, e.ids) for e in report.error_reasons] == [
        ("run:ImageError", 2, ["e1", "e2"]), ("dataset:malformed_line", 1, ["e3"])]
    text = format_report(report)
    assert text.splitlines()[-2:] == ["errors: 3", "accuracy: 0.500 (10 questions)"]
    assert "latency (s): p50 5.50  p90 9.10  p99 9.91" in text and "tool calls: detect=10, scene_graph=3" in text
    assert "run:ImageError: 2 (e1, e2), e.g. no such file" in text
    assert "retries (malformed LLM replies): 2 in 2 questions (20%)" in text
    assert "  count   0.500 (6)  0.333" in text and "wrong: 5, confidently wrong (not \"cannot tell\"): 4" in text
    assert "  count: '3' -> '2' x2; '3' -> 'cannot tell' x1" in text
    assert "tokens per question: prompt 100.00 (new 40.00), completion 10.00, LLM calls 2.00" in text
    assert summary_line(build_report([])) == "accuracy: 0.000 (0 questions)"
    write_report_json(report, tmp_path / "rep" / "report.json")
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["latency"]["p90"] == 9.1


def write_results(path: Path, records: list, torn: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + torn, encoding="utf-8")
    return path


def test_compare_two_results_files(tmp_path, capsys):
    a = write_results(tmp_path / "a.jsonl", [
        rec("same", 1.0), rec("up", 0.0, prediction="3"), rec("down", 1.0, prediction="4"),
        rec("bit", 0.3, prediction="2"), rec("fails", 1.0), rec("only-a", 1.0)], torn='{"id": "tor')
    b = write_results(tmp_path / "b.jsonl", [
        rec("same", 1.0), rec("up", 1.0, prediction="4"), rec("down", 0.0, prediction="5"),
        rec("bit", 0.6, prediction="3"), rec("fails", None, error="boom", kind="run:RuntimeError", prediction=None),
        rec("only-b", 0.0), rec("only-b2", 1.0)])
    cmp = compare_files(a, b)
    assert cmp.scored_a == 6 and cmp.scored_b == 6
    assert cmp.accuracy_a == pytest.approx(4.3 / 6) and cmp.accuracy_b == pytest.approx(3.6 / 6)
    assert cmp.common_scored == 4 and cmp.delta == pytest.approx((2.6 - 2.3) / 4)
    assert [(c.id, c.delta) for c in cmp.changed] == [("down", -1.0), ("fails", -1.0), ("bit", pytest.approx(0.3)),
                                                      ("up", 1.0)]
    down = cmp.changed[0]
    assert (down.prediction_a, down.prediction_b, down.score_a, down.score_b) == ("4", "5", 1.0, 0.0)
    assert cmp.only_in_a == ["only-a"] and cmp.only_in_b == ["only-b", "only-b2"]
    text = format_comparison(cmp)
    assert "delta +0.075" in text and "-1.000  down: question down?" in text and "B error (n/a)" in text
    assert "only in B (2): only-b, only-b2" in text
    # flips: right (full credit) in one run and not in the other; an error is not right, partial credit is not
    assert cmp.to_wrong == ["down", "fails"] and cmp.to_right == ["up"]
    assert "flipped: right -> wrong 2, wrong -> right 1" in text and "  right -> wrong: down, fails" in text
    assert [(c.name, c.a, c.b, c.delta) for c in cmp.costs][:2] == [("latency p50 (s)", 1.0, 1.0, 0.0),
                                                                    ("latency p90 (s)", 1.0, 1.0, 0.0)]
    assert compare_results([], []).delta is None
    assert main(["compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["changed"][0]["id"] == "down" and data["only_in_a"] == ["only-a"]
    assert main(["compare", str(a), str(tmp_path / "missing.jsonl")]) == 2


# CLI ---------------------------------------------------------------------------------------------------------

def test_eval_cli_end_to_end(ds_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_NUM_EXAMPLES", "0")
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [answer("4")], "repeat_last": True}))
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1"), row("q2", answers=["2"] * 10), row("q3", image="nope.png")])
    out, report = tmp_path / "res.jsonl", tmp_path / "report.json"
    args = ["eval", str(path), "--out", str(out), "--llm", f"scripted:{replies}", "--no-progress",
            "--report", str(report), "--seed", "3"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "accuracy: 0.500 (2 questions)" and lines[-2] == "errors: 1"
    assert json.loads(report.read_text())["scored"] == 2
    records = {r["id"]: r for r in read_results(out)}
    assert records["q1"]["prediction"] == "4" and records["q1"]["seed"] == 3 and records["q1"]["tools"] == []
    assert main(args + ["--limit", "1"]) == 0
    out_text = capsys.readouterr().out
    assert "0 row(s) run, 1 already in" in out_text and out_text.strip().endswith("accuracy: 1.000 (1 questions)")
    # the handler also plugs into another parser, as lavr/cli.py will do
    parser = argparse.ArgumentParser()
    add_eval_commands(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["eval", str(path), "--out", str(tmp_path / "b.jsonl"), "--llm",
                                f"scripted:{replies}", "--no-progress", "--no-cache", "--metric", "exact_match"])
    assert parsed.func(parsed) == 0
    assert capsys.readouterr().out.strip().endswith("accuracy: 0.500 (2 questions)")
    assert main(["eval", str(path), "--out", str(out), "--llm", "nonsense-llm", "--no-resume"]) == 2


def test_the_mode_goes_through_the_spec(ds_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    replies = tmp_path / "replies.json"
    react = {"thought": "count", "tool_calls": [{"tool": "count", "args": {"label": "person"}}]}
    replies.write_text(json.dumps([react, answer("4")]))
    spec = AgentSpec(llm=f"scripted:{replies}", settings={"num_examples": 0}, mode="react",
                     tools=("tools_for_tests:CountTool",), cache=False)
    summary = run_eval(path, agent_factory=spec, out=tmp_path / "r.jsonl", progress=False)
    [record] = read_results(tmp_path / "r.jsonl")
    assert record["mode"] == "react" and record["tools"] == ["count"] and summary.line() == \
        "accuracy: 1.000 (1 questions)"


# The example set ---------------------------------------------------------------------------------------------

def test_people_example_set_builds_and_matches_the_committed_file(tmp_path):
    for package in ("ultralytics", "skimage", "sklearn", "matplotlib"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed")
    spec = importlib.util.spec_from_file_location("make_people_set", REPO / "examples/eval/make_people_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dataset = module.build(tmp_path)
    ds = load_dataset(dataset)
    assert len(ds) == 30 and not ds.invalid
    assert sum(r.question_type == "face" for r in ds.rows) == 7
    nobody = {"coffee.png", "chelsea.png", "china.jpg", "flower.jpg", "rocket.jpg", "motorcycle_left.png"}
    assert {Path(r.image).name for r in ds.rows} >= nobody
    assert all(len(r.answers) == 10 for r in ds.rows)
    assert dataset.read_text() == (REPO / "examples/eval/people.jsonl").read_text()
    for r in ds.rows:
        Image.open(r.image).verify()
