"""The command line as a user runs it: exit codes, one-line errors, JSON output."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, have
from fake_openai import FakeOpenAI, completion
from PIL import Image

from lavr.cli import main
from lavr.schema import BOX_CONVENTION


def run(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=REPO)


@pytest.fixture
def data_env(tmp_path):
    return {"LAVR_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("make_args,needle", [
    (lambda p, bus: [str(p / "missing.jpg"), "How many?"], "no such file"),
    (lambda p, bus: [str(p / "notes.txt"), "How many?"], "not an image"),
    (lambda p, bus: [str(bus), "   "], "the question is empty"),
    (lambda p, bus: [str(bus), "How many?", "--llm", "gpt5"], "unknown LLM 'gpt5'"),
    (lambda p, bus: [str(bus), "How many?", "--llm", str(p / "nope.gguf")], "no such GGUF file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, bus_jpg, data_env, make_args, needle):
    (tmp_path / "notes.txt").write_text("not a picture")
    result = run("ask", *make_args(tmp_path, bus_jpg), env=data_env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("lavr: error: ") and needle in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unreachable_server(tmp_path, bus_jpg, data_env):
    env = {**data_env, "LAVR_OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "LAVR_OPENAI_TIMEOUT_S": "2"}
    result = run("ask", str(bus_jpg), "How many people?", "--llm", "openai:m", "--no-cache", env=env)
    assert result.returncode == 2 and "cannot reach the LLM server at http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_server_answering_200_with_a_web_page_is_one_line(tmp_path, bus_jpg, data_env):
    page = b"<html><head><title>Welcome to nginx!</title></head><body>it works</body></html>"
    with FakeOpenAI(lambda body: (200, page)) as server:
        env = {**data_env, "LAVR_OPENAI_BASE_URL": server.base_url}
        result = run("ask", str(bus_jpg), "How many people?", "--llm", "openai:m", "--no-cache", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("lavr: error: the LLM server at ")
    assert "not a chat completion: '<html><head><title>Welcome to nginx!" in result.stderr and result.stdout == ""


@pytest.mark.skipif(not have("fall_detection"), reason="needs the offline person detector")
def test_ask_json_through_a_server_with_the_real_detector(tmp_path, bus_jpg, data_env):
    script = [completion('{"thought": "count", "tool_calls": [{"tool": "detect", "args": {"classes": ["person"]}}]}'),
              completion('{"thought": "person=4", "answer": "4", "rationale": "detect: counts person=4"}')]
    with FakeOpenAI(script) as server:
        # the person detector alone (the fused COCO detectors leave the bus's half-seen person to the people tool)
        env = {**data_env, "LAVR_OPENAI_BASE_URL": server.base_url, "LAVR_OPENAI_TOOL_MODE": "json",
               "LAVR_COCO_DETECTORS": "false"}
        html = tmp_path / "trace.html"
        result = run("ask", str(bus_jpg), "How many people are in this photo?", "--llm", "openai:m", "--json",
                     "--trace-html", str(html), env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"answer", "rationale", "steps", "usage", "seconds"} <= set(data)
    assert data["answer"] == "4" and data["usage"]["llm_calls"] == 2
    detect = next(s for s in data["steps"] if s["kind"] == "tool")
    assert "counts: person=4" in detect["result"] and detect["data"]["counts"] == {"person": 4}
    page = html.read_text()
    assert page.count("<rect") == 4 and "How many people are in this photo?" in page
    # the system prompt the server saw lists the tools and the box convention, and the examples
    system = server.requests[0]["messages"][0]["content"]
    assert "- detect:" in system and BOX_CONVENTION in system
    assert "Example 1." in server.requests[0]["messages"][1]["content"]


def test_tools_command_lists_availability(data_env):
    result = run("tools", "--json", env=data_env)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {"detect", "scene_graph"} <= set(rows)
    assert rows["scene_graph"]["available"] is True
    for row in rows.values():
        assert row["available"] or (row["reason"] and row["fix"])
    text = run("tools", env=data_env).stdout
    assert "scene_graph" in text and ("why:" in text or "UNAVAILABLE" not in text)


def test_unknown_sample_is_a_clear_error(data_env):
    result = run("ask", "sample:unicorn", "Q?", env=data_env)
    assert result.returncode == 2 and "unknown sample 'unicorn'; samples: astronaut, brick, bus" in result.stderr


def test_samples_resolve_to_real_files():
    from lavr.samples import SAMPLES, sample_path

    for name, (package, _, _) in SAMPLES.items():
        if have(package):
            assert sample_path(name).is_file()


@pytest.mark.parametrize("launcher", [["run.py"], ["-m", "lavr"]])
def test_ask_leaves_without_teardown_but_with_its_output_whole(tmp_path, bus_jpg, data_env, launcher):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [{"thought": "t", "answer": "4", "rationale": "said so"}]}))
    trace = tmp_path / "trace.html"
    result = subprocess.run([sys.executable, *launcher, "-v", "ask", str(bus_jpg), "How many people?", "--mode",
                             "react", "--llm", f"scripted:{replies}", "--json", "--trace-html", str(trace)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, **data_env}, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["answer"] == "4"  # the whole JSON document, flushed before the exit
    assert trace.read_text().rstrip().endswith("</html>")
    assert "Traceback" not in result.stderr


def test_every_agent_command_has_the_same_mode_option_and_checks_it(capsys):
    from lavr.agents.options import MODE_HELP
    from lavr.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them there
    for name in ("ask", "eval"):
        mode = next(a for a in commands[name]._actions if "--mode" in a.option_strings)
        assert mode.help == MODE_HELP and mode.default == "auto"
        seed = next(a for a in commands[name]._actions if "--seed" in a.option_strings)
        assert seed.type is int
    for bad in ("program", "pipeline", "pipeline:"):
        with pytest.raises(SystemExit):
            parser.parse_args(["ask", "x.jpg", "q?", "--mode", bad])
        assert "unknown mode" in capsys.readouterr().err
    assert parser.parse_args(["ask", "x.jpg", "q?", "--mode", "pipeline:p.yaml"]).mode == "pipeline:p.yaml"


def test_verbose_logs_but_only_rationale_prints_the_rationale(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [{"thought": "t", "answer": "4", "rationale": "said so"}],
                                   "repeat_last": True}))
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(image)
    common = ["ask", str(image), "How many?", "--mode", "react", "--llm", f"scripted:{replies}", "--no-cache"]
    assert main(["-v", *common]) == 0
    assert "rationale:" not in capsys.readouterr().err
    assert main([*common, "--rationale", "--seed", "7"]) == 0
    assert "rationale: said so" in capsys.readouterr().err


def test_torch_threads_sleep_between_operations_unless_the_user_chose(tmp_path, monkeypatch, capsys):
    """libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT when torch loads: a lavr command sets PASSIVE with a short
    spin first (long spinning took the 2 cores from the thread feeding them; none slowed the LLM's tokens), and
    keeps a policy the user chose."""
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert main(["cache", "stats"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["GOMP_SPINCOUNT"] == "3000"  # a short spin: the LLM's tokens need it
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("GOMP_SPINCOUNT")
    assert main(["cache", "stats"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert "GOMP_SPINCOUNT" not in os.environ  # it would cut the user's ACTIVE spinning short
