"""The server's bounds hold whatever a client sends (issue 18): a chunked body is counted as it streams, a client
that hangs up at once leaves no traceback, absurdly nested JSON is a JSON error, every message of a conversation
obeys the length bound, a failed request leaves no thread behind, and a thread id is exactly what it looks like.

A real server process (``tests/chat_server_proc.py``: scripted LLM, test tools), called over raw sockets where
the point is what the headers claim.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from chat_helpers import data_url, free_port, photo

HERE = Path(__file__).resolve().parents[1]  # tests/, where the helper processes are
MAX_IMAGE = 1_000_000  # LAVR_CHAT_MAX_IMAGE_BYTES: the body bound is 2 x this + 1 MB = 3 MB


class Server:
    def __init__(self, tmp: Path):
        self.data = tmp / "data"
        self.data.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp / "server.log").open("w+")
        env = {**os.environ, "LAVR_CHAT_MAX_IMAGE_BYTES": str(MAX_IMAGE)}
        self.proc = subprocess.Popen([sys.executable, str(HERE / "chat_server_proc.py"), str(self.data),
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024

    def threads(self) -> list[dict]:
        return httpx.get(self.url + "/v1/threads").json()["data"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("limits"))
    yield srv
    srv.stop()


def raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_bound(server):
    before = server.peak_rss_mb()
    sock = raw_request(server.port, "POST /v1/chat/completions HTTP/1.1\r\nHost: lavr\r\n"
                                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent, total = 0, 100_000_000
    while sent < total:
        if select.select([sock], [], [], 0)[0]:
            break  # the server answered before the body ended
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    status, body = read_response(sock)
    sock.close()
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large", (status, body[:200])
    assert sent < 20_000_000  # refused once past the 3 MB bound, not after reading 100 MB
    assert server.peak_rss_mb() - before < 60  # (the issue measured 498 MB for this request)


def test_a_lying_content_length_is_refused_at_once(server):
    sock = raw_request(server.port, "POST /v1/chat/completions HTTP/1.1\r\nHost: lavr\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
    status, body = read_response(sock)
    sock.close()
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"


def test_a_client_hanging_up_at_once_leaves_no_traceback(server):
    for path in ("/v1/chat/completions", "/v1/threads"):
        sock = raw_request(server.port, f"POST {path} HTTP/1.1\r\nHost: lavr\r\nContent-Type: application/json\r\n"
                                        "Content-Length: 5000\r\n\r\n{\"messages\": [")
        sock.close()
    time.sleep(1.0)
    assert httpx.get(server.url + "/health").status_code == 200
    log = server.output()
    assert "Traceback" not in log and "ClientDisconnect" not in log, log[-3000:]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/threads"])
def test_json_nested_100000_deep_is_a_json_error(server, path):
    r = httpx.post(server.url + path, content=b"[" * 100_000 + b"]" * 100_000,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_body", r.text[:300]
    assert "nested too deeply" in r.json()["error"]["message"]
    deep = {"messages": [{"role": "user", "content": "hi"}], "metadata": None}
    text = json.dumps(deep).replace('"metadata": null', '"metadata": ' + "[" * 50_000 + "]" * 50_000)
    r = httpx.post(server.url + path, content=text.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_body"
    assert "Traceback" not in server.output()


def test_every_message_obeys_the_length_bound(server):
    db = server.data / "chat" / "threads.sqlite"
    size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("threads.sqlite-wal"))
    long_turns = [{"role": "user", "content": "q" * 200_000}, {"role": "assistant", "content": "a"}]
    last = {"role": "user", "content": [{"type": "text", "text": "How many people?"},
                                        {"type": "image_url", "image_url": {"url": data_url(photo())}}]}
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": long_turns * 3 + [last]}, timeout=60)
    assert r.status_code == 400 and "earlier turn 1: the question is longer than 2000 characters" in r.text
    many = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 101
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": many + [last]}, timeout=60)
    assert r.status_code == 400 and "at most 100 are accepted" in r.text
    grown = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("threads.sqlite-wal")) - size
    assert grown < 100_000 and server.threads() == []


def test_failed_requests_leave_no_thread_and_no_lock_file(server):
    threads, locks = len(server.threads()), set((server.data / "chat" / "locks").glob("*.lock"))
    for _ in range(5):
        r = httpx.post(server.url + "/v1/chat/completions",
                       json={"messages": [{"role": "user", "content": "How many people?"}]})
        assert r.status_code == 400 and "attach an image first" in r.text
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": [
        {"type": "text", "text": "hang on"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]})
    assert r.status_code == 400
    assert len(server.threads()) == threads
    assert set((server.data / "chat" / "locks").glob("*.lock")) == locks


def test_a_thread_id_is_exactly_letters_digits_and_punctuation(server):
    for bad in ("kitchen\n", "kitchen\r\n", "\nkitchen"):
        r = httpx.post(server.url + "/v1/threads", json={"id": bad})
        assert r.status_code == 400 and "invalid thread id" in r.text, (bad, r.text)
        r = httpx.post(server.url + "/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "hi"}], "metadata": {"lavr_thread": bad}})
        assert r.status_code == 400 and "invalid thread id" in r.text
    assert all("\n" not in t["id"] for t in server.threads())
    assert httpx.post(server.url + "/v1/threads", json={"id": "kitchen"}).status_code == 200
