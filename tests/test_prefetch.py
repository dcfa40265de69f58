"""A new ``lavr ask`` builds the scene graph in a forked child (``lavr.prefetch``): the child's work reaches the
parent only through the expert cache, and a child that fails, hangs or prints changes nothing the user sees."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, have

from lavr.prefetch import ForkedPrefetch, can_fork

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")


@pytest.fixture
def forkable(monkeypatch):
    """Other tests leave threads behind in this process (thread pools, daemon warm-ups): a fork is sound for these
    children, which only run the test's small function."""
    monkeypatch.setattr("lavr.prefetch.can_fork", lambda: True)


def test_the_child_runs_the_work_and_its_output_goes_nowhere(tmp_path, capfd, forkable):
    done = tmp_path / "done"

    def work():
        print("child stdout")
        print("child stderr", file=sys.stderr)
        done.write_text(str(os.getpid()))

    child = ForkedPrefetch.start(work, what="a test")
    assert child is not None and child.wait(30) is True and child.code == 0
    assert int(done.read_text()) == child.pid != os.getpid()
    out, err = capfd.readouterr()
    assert "child" not in out and "child" not in err


def test_a_failing_child_is_reported_as_failed_and_nothing_else(capfd, forkable):
    def work():
        raise RuntimeError("the experts crashed")

    child = ForkedPrefetch.start(work, what="a test")
    assert child is not None and child.wait(30) is False and child.code == 1
    out, err = capfd.readouterr()
    assert "crashed" not in out + err and "Traceback" not in err


def test_a_child_that_overruns_is_ended_and_reaped(forkable):
    child = ForkedPrefetch.start(lambda: time.sleep(60), what="a test")
    assert child is not None
    start = time.monotonic()
    assert child.wait(0.3) is False
    assert time.monotonic() - start < 10 and child.code is not None and child.code < 0
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped: no zombie left behind


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert can_fork() is False
        assert ForkedPrefetch.start(lambda: None, what="a test") is None
    finally:
        stop.set()
        other.join()


@pytest.mark.skipif(not have("ultralytics"), reason="needs the packaged photos")
@pytest.mark.models
def test_a_new_ask_finds_its_scene_graph_computed_by_the_child(tmp_path, bus_jpg):
    """The parent's scene_graph step comes from the cache the child filled, on an image never seen before, and the
    answer is the one the same program gives with the cache off (every expert run in the parent)."""
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": ["count(all(bus))"], "repeat_last": True}))
    env = {**os.environ, "LAVR_DATA_DIR": str(tmp_path / "data")}

    def ask(*extra):
        result = subprocess.run([sys.executable, "run.py", "ask", str(bus_jpg), "How many buses are there?",
                                 "--mode", "query", "--llm", f"scripted:{replies}", "--json", *extra],
                                capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    fresh = ask()
    scene = next(s for s in fresh["steps"] if s.get("tool") == "scene_graph")
    assert scene["cached"] is True and scene.get("error") is None
    alone = ask("--no-cache")
    scene_alone = next(s for s in alone["steps"] if s.get("tool") == "scene_graph")
    assert scene_alone["cached"] is False
    assert fresh["answer"] == alone["answer"] == "1"
    assert scene["data"]["counts"] == scene_alone["data"]["counts"]
