"""Evaluation runs never lose or mix up results (issue 9): one writer per results file, --out checks, error row
ids that cannot clash, and one allowed-roots rule with a clear reason when every row fails."""

from __future__ import annotations

import json

import pytest
from eval_helpers import answer, ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image
from tools_for_tests import CountTool

from lavr import Agent
from lavr.backends import ScriptedBackend
from lavr.cli import main
from lavr.errors import InputError
from lavr.eval.dataset import load_dataset
from lavr.eval.results import ResultsLock, read_results
from lavr.eval.runner import run_eval


def _factory(settings):
    s = settings.model_copy(update={"num_examples": 0})
    backend = ScriptedBackend([answer("4")], repeat_last=True)
    return lambda: Agent(backend, settings=s, tools=[CountTool(s)], cache=False)


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_NUM_EXAMPLES", "0")
    monkeypatch.delenv("LAVR_ALLOWED_ROOTS", raising=False)
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [answer("4")], "repeat_last": True}))
    return ["--llm", f"scripted:{replies}", "--no-progress", "--no-cache"]


def test_a_second_run_on_the_same_results_file_refuses_and_loses_nothing(settings, ds_dir, tmp_path, capsys,
                                                                         cli_env):
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1"), row("q2")])
    out = tmp_path / "r.jsonl"
    run_eval(path, agent_factory=_factory(settings), out=out, progress=False)
    before = out.read_bytes()
    with ResultsLock(out):  # a first run still writing (flock: another open file description conflicts)
        with pytest.raises(InputError, match="is being written by another lavr eval"):
            run_eval(path, agent_factory=_factory(settings), out=out, progress=False, resume=False)
        assert main(["eval", str(path), "--out", str(out), "--limit", "1", "--no-resume", *cli_env]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("lavr: error: ") and "another lavr eval" in err and err.count("\n") == 0
        assert out.read_bytes() == before  # not replaced, not truncated
    run_eval(path, agent_factory=_factory(settings), out=out, progress=False)  # the lock is released afterwards


def test_out_must_not_be_the_dataset_or_a_folder(settings, ds_dir, tmp_path, capsys, cli_env):
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    original = path.read_bytes()
    with pytest.raises(InputError, match="is the dataset file itself"):
        run_eval(path, agent_factory=_factory(settings), out=ds_dir / "." / "d.jsonl", progress=False)
    assert main(["eval", str(path), "--out", str(path), *cli_env]) == 2
    assert "is the dataset file itself" in capsys.readouterr().err
    assert path.read_bytes() == original
    assert main(["eval", str(path), "--out", str(tmp_path), *cli_env]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err


def test_error_row_ids_never_clash_with_real_ids(settings, ds_dir, tmp_path):
    # Line 2 is bad (no question) and names id "a": its error row must not take the id of the real row "a@line2".
    path = write_jsonl(ds_dir / "d.jsonl", [row("a@line2"), row("a", question=" "), row("@sneaky")])
    ds = load_dataset(path)
    ids = [r.id for r in ds.rows]
    assert len(set(ids)) == 3 and ids[0] == "a@line2" and not ds.rows[0].error
    assert ds.rows[2].error_kind == "dataset:bad_id"  # ids starting with "@" are reserved for error rows
    out = tmp_path / "r.jsonl"
    summary = run_eval(path, agent_factory=_factory(settings), out=out, progress=False)
    assert summary.report.rows == 3 and summary.scored == 1 and summary.errors == 2
    # Resume with retry_errors drops the error records only: the real record stays and is not run again.
    again = run_eval(path, agent_factory=_factory(settings), out=out, progress=False, retry_errors=True)
    assert again.skipped == 1 and again.ran == 2
    assert {r["id"] for r in read_results(out)} == set(ids)
    assert next(r for r in read_results(out) if r["id"] == "a@line2")["score"] == 1.0


def test_without_roots_a_dataset_may_name_absolute_paths(settings, ds_dir, tmp_path, capsys, cli_env):
    elsewhere = tmp_path / "coco" / "val2014"
    elsewhere.mkdir(parents=True)
    Image.new("RGB", (32, 32), (1, 2, 3)).save(elsewhere / "x.png")
    path = write_jsonl(ds_dir / "d.jsonl", [row("abs", image=str(elsewhere / "x.png"))])
    assert main(["eval", str(path), "--out", str(tmp_path / "r.jsonl"), *cli_env]) == 0
    assert capsys.readouterr().out.strip().endswith("accuracy: 1.000 (1 questions)")


def test_with_roots_every_image_read_is_confined_and_an_all_failed_run_says_why(ds_dir, tmp_path, capsys,
                                                                                   cli_env, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (32, 32)).save(other / "x.png")
    path = write_jsonl(ds_dir / "d.jsonl", [row("own-folder"), row("abs", image=str(other / "x.png"))])
    monkeypatch.setenv("LAVR_ALLOWED_ROOTS", json.dumps([str(other)]))
    assert main(["eval", str(path), "--out", str(tmp_path / "r.jsonl"), *cli_env]) == 0
    records = {r["id"]: r for r in read_results(tmp_path / "r.jsonl")}
    # The dataset's own folder is not allowed just for being the dataset's folder.
    assert records["@line1:own-folder"]["error_kind"] == "dataset:image_outside_roots"
    assert records["abs"]["score"] == 1.0
    capsys.readouterr()
    monkeypatch.setenv("LAVR_ALLOWED_ROOTS", json.dumps([str(tmp_path / "nowhere")]))
    assert main(["eval", str(path), "--out", str(tmp_path / "r2.jsonl"), *cli_env]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("accuracy: 0.000 (0 questions)")
    assert "lavr: every row failed; most common error (2 of 2 rows, dataset:image_outside_roots)" in captured.err
    assert "LAVR_ALLOWED_ROOTS" in captured.err


def test_the_runner_confines_image_reads_to_the_agents_roots(settings, ds_dir, tmp_path):
    # A dataset loaded without roots, run by an agent whose settings have roots: the image read is refused.
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    confined = settings.model_copy(update={"allowed_roots": [tmp_path / "elsewhere"]})
    summary = run_eval(load_dataset(path), agent_factory=_factory(confined), out=tmp_path / "r.jsonl",
                       progress=False)
    [record] = read_results(tmp_path / "r.jsonl")
    assert record["error_kind"] == "run:ImageError" and "outside the allowed folders" in record["error"]
    assert summary.scored == 0
