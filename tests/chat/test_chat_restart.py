"""A server process killed with SIGKILL during a turn: after a restart the thread holds every earlier turn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from chat_helpers import data_url, free_port, photo

HERE = Path(__file__).resolve().parents[1]  # tests/, where the helper processes are


def start(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "chat_server_proc.py"), str(data), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def ask(url: str, text: str, thread: str | None = None, image=None, timeout: float = 30) -> httpx.Response:
    content = [{"type": "text", "text": text}]
    if image is not None:
        content.append({"type": "image_url", "image_url": {"url": data_url(image)}})
    headers = {"X-Lavr-Thread": thread} if thread else {}
    return httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": content}]},
                      headers=headers, timeout=timeout)


def test_sigkill_during_a_turn_keeps_every_earlier_turn(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc, url = start(data)
    try:
        first = ask(url, "How many people?", image=photo()).json()
        thread = first["lavr"]["thread_id"]
        assert ask(url, "where is obj_1?", thread).json()["choices"][0]["message"]["content"] == "right"
        hung = threading.Thread(target=lambda: _ignore(lambda: ask(url, "hang on", thread, timeout=60)), daemon=True)
        hung.start()
        deadline = time.monotonic() + 30
        while not (data / "in_turn").exists():
            assert time.monotonic() < deadline, "the turn never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    proc, url = start(data)
    try:
        got = httpx.get(f"{url}/v1/threads/{thread}", timeout=10).json()
        assert [t["text"] for t in got["history"]] == ["How many people?", "where is obj_1?"]
        assert [t["answer"]["answer"] for t in got["history"]] == ["2", "right"]
        # the thread goes on: objects and images came back with it
        again = ask(url, "where is obj_1?", thread).json()
        assert again["lavr"]["turn"] == 2 and again["choices"][0]["message"]["content"] == "right"
    finally:
        proc.kill()
        proc.wait(10)


def _ignore(fn) -> None:
    try:
        fn()
    except httpx.HTTPError:
        pass
