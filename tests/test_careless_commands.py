"""Careless command lines lose nothing and end in one line, never a traceback (issue 18): outputs that name an
input or a file lavr did not write, datasets and seed files with bad bytes or absurd nesting, bad seeds."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest
from conftest import REPO
from eval_helpers import answer, ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image

from lavr.cli import main
from lavr.eval.results import read_results


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_NUM_EXAMPLES", "0")
    monkeypatch.delenv("LAVR_ALLOWED_ROOTS", raising=False)
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [answer("4")], "repeat_last": True}))
    return ["--llm", f"scripted:{replies}", "--no-progress", "--no-cache"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("lavr: error: ") and err.count("\n") == 0 and "Traceback" not in err, err
    return err


# Data losses ----------------------------------------------------------------------------------------------------

def test_the_report_never_replaces_the_dataset_or_the_results(ds_dir, tmp_path, capsys, cli_env):
    data = write_jsonl(ds_dir / "d.jsonl", [row("q1"), row("q2")])
    out = tmp_path / "r.jsonl"
    assert main(["eval", str(data), "--out", str(out), *cli_env]) == 0
    capsys.readouterr()
    dataset, results = data.read_bytes(), out.read_bytes()
    assert main(["eval", str(data), "--out", str(out), "--report", str(data), *cli_env]) == 2
    assert "--report" in one_error_line(capsys) and data.read_bytes() == dataset
    assert main(["eval", str(data), "--out", str(out), "--report", str(out), *cli_env]) == 2
    assert "is the results file (--out) itself" in one_error_line(capsys) and out.read_bytes() == results
    os.link(data, tmp_path / "d-link.jsonl")  # a hard link is the dataset too
    assert main(["eval", str(data), "--out", str(out), "--report", str(tmp_path / "d-link.jsonl"), *cli_env]) == 2
    assert "is the dataset file itself" in one_error_line(capsys) and data.read_bytes() == dataset
    report = tmp_path / "report.json"
    assert main(["eval", str(data), "--out", str(out), "--report", str(report), *cli_env]) == 0
    assert json.loads(report.read_text())["rows"] == 2
    assert main(["eval", str(data), "--out", str(out), "--report", str(report), *cli_env]) == 0  # a report: replaced


def test_an_out_that_is_not_a_results_file_is_refused_unless_empty(ds_dir, tmp_path, capsys, cli_env):
    data = write_jsonl(ds_dir / "d.jsonl", [row("q0"), row("q1")])
    notes = tmp_path / "notes.txt"
    notes.write_text('my notes about the run\n{"id": "q0"}\nmore notes\n')
    before = notes.read_bytes()
    assert main(["eval", str(data), "--out", str(notes), *cli_env]) == 2
    assert "is not a lavr results file" in one_error_line(capsys) and notes.read_bytes() == before
    assert main(["eval", str(data), "--out", str(notes), "--no-resume", *cli_env]) == 2
    assert notes.read_bytes() == before
    only_id = tmp_path / "ids.jsonl"
    only_id.write_text('{"id": "q0"}\n')  # an unrelated line with an id is no finished result
    assert main(["eval", str(data), "--out", str(only_id), *cli_env]) == 2
    capsys.readouterr()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", str(data), "--out", str(empty), *cli_env]) == 0
    assert sorted(r["id"] for r in read_results(empty)) == ["q0", "q1"]  # q0 ran: nothing counted it as done
    capsys.readouterr()
    assert main(["eval", str(data), "--out", str(empty), *cli_env]) == 0  # a results file resumes as before
    assert "0 row(s) run, 2 already in" in capsys.readouterr().out


def test_a_hard_link_to_the_dataset_is_not_a_finished_run(ds_dir, tmp_path, capsys, cli_env):
    data = write_jsonl(ds_dir / "d.jsonl", [row(f"q{i}") for i in range(40)])
    link = tmp_path / "r.jsonl"
    os.link(data, link)
    before = data.read_bytes()
    assert main(["eval", str(data), "--out", str(link), *cli_env]) == 2
    assert "is the dataset file itself" in one_error_line(capsys)
    assert data.read_bytes() == before


def test_the_trace_page_never_replaces_the_image(tmp_path, capsys, cli_env):
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48), (10, 200, 10)).save(image)
    before = image.read_bytes()
    llm = cli_env[:2]
    assert main(["ask", str(image), "How many?", "--trace-html", str(image), *llm]) == 2
    assert "--trace-html" in one_error_line(capsys) and image.read_bytes() == before
    link = tmp_path / "same.png"
    os.link(image, link)
    assert main(["ask", str(image), "How many?", "--trace-html", str(link), *llm]) == 2
    assert "is the image itself" in one_error_line(capsys) and image.read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("not a trace\n")
    assert main(["ask", str(image), "How many?", "--trace-html", str(notes), *llm]) == 2
    assert "is not a lavr trace page" in one_error_line(capsys) and notes.read_text() == "not a trace\n"
    page = tmp_path / "trace.html"
    for _ in range(2):  # a new page, then a trace page lavr wrote: replaced
        assert main(["ask", str(image), "How many?", "--trace-html", str(page), "--no-cache", *llm]) == 0
        assert page.read_text().startswith("<!doctype html>") and image.read_bytes() == before


# Tracebacks that become one line or an error row --------------------------------------------------------------

@pytest.mark.parametrize("name,needle", [("missing.jsonl", "no such JSONL file"), ("", "is a folder")])
def test_cache_seed_on_a_missing_file_or_a_folder_is_one_line(tmp_path, capsys, cli_env, name, needle):
    assert main(["cache", "seed", str(tmp_path / name)]) == 2
    assert needle in one_error_line(capsys)


def test_cache_seed_reports_a_line_that_is_not_utf8_and_loads_the_rest(tmp_path, capsys, cli_env):
    good = {"image_sha256": "a" * 64, "tool": "caption", "identity": "x", "value": {"caption": "a cat"}}
    seed = tmp_path / "seed.jsonl"
    seed.write_bytes(b'{"image_sha256": "caf\xe9"}\n' + json.dumps(good).encode() + b"\n" + b"[" * 100_000 + b"\n")
    assert main(["cache", "seed", str(seed)]) == 0
    captured = capsys.readouterr()
    assert "line 1: not UTF-8 text" in captured.err and "line 3: invalid JSON (nested too deeply)" in captured.err
    assert "loaded 1 entries, 2 lines skipped" in captured.out and "Traceback" not in captured.err


def test_cache_seed_on_dev_zero_is_one_line_not_memory_error(tmp_path):
    def limit_memory() -> None:  # were /dev/zero read as one line, the process would fail here, not the machine
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    env = {**os.environ, "PYTHONPATH": str(REPO), "LAVR_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, str(REPO / "run.py"), "cache", "seed", "/dev/zero"], env=env,
                            capture_output=True, text=True, timeout=300, preexec_fn=limit_memory)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().startswith("lavr: error: /dev/zero: is not a regular file")


def test_a_bad_dataset_line_is_an_error_row_and_the_run_goes_on(ds_dir, tmp_path, capsys, cli_env):
    data = ds_dir / "d.jsonl"
    lines = [json.dumps(row("q1")).encode(), json.dumps(row("caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9"),
             b'{"id": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", json.dumps(row("q4")).encode()]
    data.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "r.jsonl"
    assert main(["eval", str(data), "--out", str(out), *cli_env]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    records = {r["id"]: r for r in read_results(out)}
    assert records["q1"]["score"] == 1.0 and records["q4"]["score"] == 1.0
    assert records["@line2"]["error"] == "malformed line: not UTF-8 text (byte 0xe9 at column 12)"
    assert records["@line3"]["error"] == "malformed line: invalid JSON (nested too deeply)"


def test_a_bad_csv_cell_is_an_error_row(ds_dir, tmp_path, cli_env):
    data = ds_dir / "d.csv"
    data.write_bytes(b"id,image,question,answers\nq1,a.png,How many?,4\nq2,a.png,How many caf\xe9s?,4\n")
    out = tmp_path / "r.jsonl"
    assert main(["eval", str(data), "--out", str(out), *cli_env]) == 0
    records = {r["id"]: r for r in read_results(out)}
    assert records["q1"]["score"] == 1.0 and records["@line3"]["error"] == "malformed line: not UTF-8 text"


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_out_of_range_is_one_line(ds_dir, tmp_path, capsys, cli_env, seed):
    data = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    assert main(["eval", str(data), "--out", str(tmp_path / "r.jsonl"), "--seed", seed, *cli_env]) == 2
    assert "--seed" in one_error_line(capsys) and not (tmp_path / "r.jsonl").exists()
