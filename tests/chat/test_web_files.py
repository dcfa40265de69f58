"""The web page's Gradio API reads only uploads and files inside LAVR_ALLOWED_ROOTS (issue 18's serious hole).

A real ``lavr serve`` process (scripted LLM), called the way the issue shows with a real HTTP client: a login,
then ``/gradio_api/call/submit`` naming files outside the roots (an image, a mode-0600 secret, a 50 MB file),
then ``GET /gradio_api/file=...``. Nothing outside the roots may be answered about, copied or served; uploads and
files inside the roots keep working, and Gradio's temporary files live inside the data folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_helpers import free_port, photo, png_bytes
from conftest import REPO

TOKEN = "s3cret"
ANSWER = {"thought": "the tools are not needed for this test", "answer": "2", "rationale": "scripted"}


class Serve:
    """``lavr serve`` in its own process, as a user starts it."""

    def __init__(self, tmp: Path, *, token: str | None, roots: list[Path]):
        self.data = tmp / "data"
        replies = tmp / "replies.json"
        replies.write_text(json.dumps({"replies": [ANSWER], "repeat_last": True}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "LAVR_DATA_DIR": str(self.data),
               "LAVR_ALLOWED_ROOTS": json.dumps([str(r) for r in roots])}
        env.pop("LAVR_SERVER_TOKEN", None)
        env.pop("GRADIO_TEMP_DIR", None)
        if token is not None:
            env["LAVR_SERVER_TOKEN"] = token
        self.log = (tmp / "server.log").open("w+")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "run.py"), "serve", "--port", str(self.port),
                                      "--llm", f"scripted:{replies}"], env=env, cwd=tmp,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("lavr serve did not start")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Files outside the roots (an image, a secret, a 50 MB file) and inside them (an image, a 50 MB file)."""
    tmp = tmp_path_factory.mktemp("web-files")
    roots = tmp / "allowed"
    roots.mkdir()
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "photo.png").write_bytes(png_bytes(photo((10, 200, 10))))
    secret = outside / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n")
    secret.chmod(0o600)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * 50_000_000
    (outside / "big.png").write_bytes(big)
    (roots / "big.png").write_bytes(big)
    (roots / "inside.png").write_bytes(png_bytes(photo((10, 10, 200))))
    return tmp, roots, outside


@pytest.fixture(scope="module")
def server(place):
    tmp, roots, _ = place
    (tmp / "with-token").mkdir()
    serve = Serve(tmp / "with-token", token=TOKEN, roots=[roots])
    yield serve
    serve.stop()


@contextlib.contextmanager
def login(url: str) -> Iterator[httpx.Client]:
    """The issue's ``curl -c cj -d 'username=x&password=s3cret' /login``: a client holding the session cookie."""
    with httpx.Client(base_url=url, timeout=60) as http:
        r = http.post("/login", data={"username": "x", "password": TOKEN})
        assert r.status_code == 303 and "lavr_session" in http.cookies, r.text
        yield http


def submit(http: httpx.Client, path: str) -> tuple[httpx.Response, str]:
    """The issue's ``/gradio_api/call/submit`` naming ``path``, then the event's result (when there is one)."""
    message = {"text": "How many people?", "files": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}
    body = {"data": [message, None, [], False]}  # the page's inputs: message, thread, this browser's threads, all?
    r = http.post("/gradio_api/call/submit", json=body)
    events = ""
    if r.status_code == 200:
        events = http.get(f"/gradio_api/call/submit/{r.json()['event_id']}").text
    return r, events


def threads_of(http: httpx.Client) -> list[dict]:
    return http.get("/v1/threads", headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]


def copies_of(name: str, *folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob(name)]


def gradio_folders(serve: Serve) -> list[Path]:
    """Where Gradio could have copied a file: lavr's folder for it, the shared default, the working folder's."""
    return [serve.data / "chat" / "gradio", Path(tempfile.gettempdir()) / "gradio", serve.data.parent / ".gradio"]


@pytest.mark.parametrize("name", ["photo.png", "secret.txt", "big.png"])
def test_files_outside_the_roots_are_neither_read_nor_copied_nor_served(server, place, name):
    _, _, outside = place
    target = outside / name
    with login(server.url) as http:
        threads = len(threads_of(http))
        r, events = submit(http, str(target))
        assert r.status_code == 403 and r.json()["error"]["code"] == "file_not_allowed", r.text
        assert "outside the allowed folders" in r.json()["error"]["message"]
        assert "data:image" not in r.text + events and "TOP-SECRET" not in r.text + events
        assert copies_of(name, *gradio_folders(server)) == []  # nothing was copied anywhere to be served later
        served = http.get(f"/gradio_api/file={target}")
        assert served.status_code == 403 and "TOP-SECRET" not in served.text and len(served.content) < 1000
        assert len(threads_of(http)) == threads  # refused before any thread was made


def test_an_image_inside_the_roots_and_an_upload_are_answered(server, place):
    _, roots, _ = place
    with login(server.url) as http:
        r, events = submit(http, str(roots / "inside.png"))
        assert r.status_code == 200 and "event: complete" in events and '"alt_text": "img_0"' in events, events
        up = http.post("/gradio_api/upload", files={"files": ("bus.png", png_bytes(photo()), "image/png")})
        assert up.status_code == 200, up.text
        uploaded = Path(up.json()[0])
        folder = server.data / "chat" / "gradio"
        assert uploaded.is_relative_to(folder) and (folder.stat().st_mode & 0o777) == 0o700
        r, events = submit(http, str(uploaded))
        assert r.status_code == 200 and "event: complete" in events, events
        assert http.get(f"/gradio_api/file={uploaded}").content == png_bytes(photo())  # uploads are served


def test_a_large_file_inside_the_roots_is_refused_by_size(server, place):
    _, roots, _ = place
    with login(server.url) as http:
        r, _ = submit(http, str(roots / "big.png"))
        assert r.status_code == 403 and "larger than 20,000,000 bytes" in r.json()["error"]["message"], r.text
    assert copies_of("big.png", *gradio_folders(server)) == []


def test_the_page_serves_no_url_and_nothing_outside_its_uploads(server, place):
    _, roots, outside = place
    with login(server.url) as http:
        folder = server.data / "chat" / "gradio"
        for named in ("http://127.0.0.1:9/x.png", "https://example.com/x.png", str(roots / "inside.png"), "/etc/passwd",
                      str(server.data / "chat" / "threads.sqlite"), f"{folder}/../threads.sqlite", "relative.png"):
            assert http.get(f"/gradio_api/file={named}").status_code == 403, named
            assert http.head(f"/gradio_api/file={named}").status_code == 403, named
            assert http.get(f"/gradio_api/file/{named}").status_code == 403, named  # the older spelling
        r = http.post("/gradio_api/call/submit", json={"data": [{"text": "hi", "files": [
            {"path": "https://example.com/cat.png", "meta": {"_type": "gradio.FileData"}}]}]})
        assert r.status_code == 403


@pytest.mark.parametrize("route,extra", [("/gradio_api/queue/join", {"fn_index": 0, "session_hash": "s1"}),
                                         ("/gradio_api/run/submit", {}), ("/gradio_api/call/submit", {})])
def test_every_api_route_applies_the_rule(server, place, route, extra):
    _, _, outside = place
    with login(server.url) as http:
        for files in ([{"path": str(outside / "photo.png"), "meta": {"_type": "gradio.FileData"}}],
                      [{"path": str(outside / "photo.png")}]):  # with or without Gradio's marker
            r = http.post(route, json={"data": [{"text": "How many?", "files": files}, None], **extra})
            assert r.status_code == 403 and r.json()["error"]["code"] == "file_not_allowed", (route, r.text)
            utf16 = json.dumps({"data": [{"text": "How many?", "files": files}, None], **extra}).encode("utf-16")
            r = http.post(route, content=utf16, headers={"content-type": "application/json"})  # JSON all the same
            assert r.status_code == 403, (route, r.text)


def test_without_a_token_or_roots_only_uploads_are_read(place, tmp_path):
    """The defaults: no token, no LAVR_ALLOWED_ROOTS. Nothing but an upload can reach an image loader."""
    _, roots, outside = place
    serve = Serve(tmp_path, token=None, roots=[])
    try:
        with httpx.Client(base_url=serve.url, timeout=60) as http:
            assert http.get("/config").status_code == 200  # no login without a token (the README says so)
            for named in (outside / "photo.png", roots / "inside.png"):
                r, events = submit(http, str(named))
                assert r.status_code == 403 and "data:image" not in r.text + events
                assert "not an uploaded image" in r.json()["error"]["message"]
            assert http.get(f"/gradio_api/file={outside / 'secret.txt'}").status_code == 403
            up = http.post("/gradio_api/upload", files={"files": ("p.png", png_bytes(photo()), "image/png")})
            r, events = submit(http, up.json()[0])
            assert r.status_code == 200 and "event: complete" in events, events
        assert copies_of("photo.png", *gradio_folders(serve)) == []
    finally:
        serve.stop()
    assert "Traceback" not in serve.output()


def test_with_a_token_a_body_without_credentials_is_refused_before_it_is_read(server):
    import socket

    for path in ("/v1/chat/completions", "/gradio_api/upload", "/gradio_api/call/submit"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: lavr\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        try:
            while sent < 50_000_000:
                sock.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n")
                sent += 65536
                sock.settimeout(0.0)
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.settimeout(30)
        except (BrokenPipeError, ConnectionResetError):
            pass
        head = sock.recv(100)
        sock.close()
        assert head.startswith(b"HTTP/1.1 401") and sent < 5_000_000, (path, head, sent)
