"""``lavr serve`` as a process (the real command, a scripted LLM): its start-up line, uvicorn's access log, a user's
mistake as one warning line and never a traceback; several server processes on one PostgreSQL, as separate
``lavr serve`` processes and as ``--workers``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from chat_helpers import data_url, free_port, photo
from postgres_server import postgres_url  # noqa: F401  (the fixture)

REPO = Path(__file__).resolve().parents[2]


class Served:
    """``python -m lavr serve ...`` on a free port; its stdout (the access log) and stderr kept in files."""

    def __init__(self, tmp: Path, *options: str, env: dict[str, str] | None = None, name: str = "serve"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        replies = tmp / "replies.json"
        replies.write_text(json.dumps({"replies": [{"thought": "t", "answer": "2", "rationale": "two"}],
                                       "repeat_last": True}))
        self.out, self.err = tmp / f"{name}.out", tmp / f"{name}.err"
        full_env = dict(os.environ, PYTHONPATH=str(REPO), LAVR_DATA_DIR=str(tmp / "data"), **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lavr", "serve", "--port", str(self.port), "--llm", f"scripted:{replies}",
             "--mode", "react", *options],
            stdout=self.out.open("w"), stderr=self.err.open("w"), env=full_env, cwd=tmp)

    def wait_ready(self, timeout: float = 120) -> Served:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"lavr serve exited {self.proc.returncode}: {self.err.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"lavr serve did not start: {self.err.read_text()[-3000:]}")

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.out.read_text(), self.err.read_text()


def ask(url: str, text: str, *, image: bool = False, thread: str | None = None) -> httpx.Response:
    content: list[dict] = [{"type": "text", "text": text}]
    if image:
        content.append({"type": "image_url", "image_url": {"url": data_url(photo())}})
    headers = {"X-Lavr-Thread": thread} if thread else {}
    return httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": content}]},
                      headers=headers, timeout=60)


def test_serve_says_where_it_listens_logs_requests_and_warns_in_one_line(tmp_path):
    served = Served(tmp_path).wait_ready()
    try:
        assert ask(served.url, "How many people?", image=True).status_code == 200
        refused = ask(served.url, "How many people?")  # no image: the user's mistake
        assert refused.status_code == 400 and "attach an image first" in refused.json()["error"]["message"]
        bad = httpx.post(served.url + "/v1/chat/completions", content=b"{nope", timeout=10)
        assert bad.status_code == 400
        assert httpx.get(served.url + "/", timeout=30).status_code == 200  # the page
    finally:
        out, err = served.stop()
    assert served.proc.returncode == 0, err[-3000:]
    lines = err.splitlines()
    assert lines[0] == "lavr serve: starting (react mode, LLM scripted:" + str(tmp_path / "replies.json") + ")…"
    startup = [line for line in lines if "lavr serve: listening on" in line]
    assert startup == [f"INFO:     lavr serve: listening on http://127.0.0.1:{served.port}/v1 (model 'lavr': react "
                       "mode, LLM scripted); auth off (no LAVR_SERVER_TOKEN); web page at "
                       f"http://127.0.0.1:{served.port}/; "
                       f"threads in SQLite {tmp_path / 'data' / 'chat' / 'threads.sqlite'}"]
    assert any(line.startswith("INFO:     Uvicorn running on http://127.0.0.1:") for line in lines)
    # the user's mistakes: one warning line each, no traceback anywhere
    assert "WARNING:  POST /v1/chat/completions refused (400 invalid_request): attach an image first: this " \
           "thread has none" in lines
    assert any(line.startswith("WARNING:  POST /v1/chat/completions refused (400 invalid_body): request body is "
                               "not valid JSON") for line in lines)
    assert "Traceback" not in err and "Traceback" not in out
    # uvicorn's access log, in its usual format
    access = [line for line in out.splitlines() if "/v1/chat/completions" in line]
    assert len(access) == 3 and all(line.startswith("INFO:     127.0.0.1:") for line in access), out
    assert [line.split('" ')[-1] for line in access] == ["200 OK", "400 Bad Request", "400 Bad Request"]
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in access[0]


def test_with_a_token_the_startup_line_says_auth_on(tmp_path):
    served = Served(tmp_path, "--no-web", env={"LAVR_SERVER_TOKEN": "tok-123"}).wait_ready()
    try:
        assert httpx.get(served.url + "/v1/models", timeout=10).status_code == 401
    finally:
        _, err = served.stop()
    (line,) = [line for line in err.splitlines() if "listening on" in line]
    assert "auth on (Bearer LAVR_SERVER_TOKEN); no web page" in line and "tok-123" not in err


def test_workers_need_postgres_and_no_page(tmp_path):
    for options, message in ((("--workers", "2"), "--workers serves the API only"),
                             (("--workers", "2", "--no-web"), "--workers needs LAVR_CHAT_POSTGRES_URL")):
        served = Served(tmp_path, *options)
        assert served.proc.wait(120) == 2
        err = served.err.read_text()
        assert f"lavr: error: {message}" in err and "Traceback" not in err


def test_several_processes_share_threads_through_postgres(tmp_path, postgres_url):  # noqa: F811
    """Two ``lavr serve`` processes on one database: a thread started on one goes on on the other; and
    ``--workers 2`` starts two worker processes behind one port that do the same."""
    env = {"LAVR_CHAT_POSTGRES_URL": postgres_url}
    a = Served(tmp_path, "--no-web", env=env, name="a")
    b = Served(tmp_path, "--no-web", env=env, name="b")
    try:
        a.wait_ready(), b.wait_ready()
        first = ask(a.url, "How many people?", image=True).json()
        thread = first["lavr"]["thread_id"]
        assert ask(b.url, "And now?", thread=thread).json()["lavr"]["turn"] == 1
        assert ask(a.url, "And again?", thread=thread).json()["lavr"]["turn"] == 2
        history = httpx.get(f"{b.url}/v1/threads/{thread}", timeout=10).json()["history"]
        assert [t["text"] for t in history] == ["How many people?", "And now?", "And again?"]
    finally:
        a.stop(), b.stop()

    workers = Served(tmp_path, "--no-web", "--workers", "2", env=env, name="workers")
    try:
        workers.wait_ready()
        deadline = time.monotonic() + 60
        while workers.err.read_text().count("lavr serve: listening on") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        turns = [ask(workers.url, f"Turn {n}?", thread=thread).json()["lavr"]["turn"] for n in range(6)]
        assert turns == [3, 4, 5, 6, 7, 8]
    finally:
        out, err = workers.stop()
    assert err.count("Started server process") == 2 and err.count("lavr serve: listening on") == 2, err[-3000:]
    assert "; 2 worker processes" in err and "Traceback" not in err
    assert out.count('"POST /v1/chat/completions HTTP/1.1" 200') == 6
