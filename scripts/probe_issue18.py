"""Replay issue 18's hostile and careless cases end to end against this checkout, as a user would meet them.

    python scripts/probe_issue18.py            # prints one line per case, PASS or FAIL, and exits 1 on a FAIL

Everything runs in a fresh temporary folder with the scripted LLM (no model, no network): ``lavr`` commands as
subprocesses, and one ``lavr serve`` called over HTTP and raw sockets. A case passes when nothing ends in a
traceback, no file is lost or changed that should not be, and no file outside LAVR_ALLOWED_ROOTS is answered
about, copied or served.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TOKEN = "s3cret"
RESULTS: list[tuple[str, bool, str]] = []


def lavr(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=600)


def case(name: str) -> Callable[[Callable[[], str | None]], None]:
    """Run a check now; it returns None when the case holds, else what went wrong."""
    def run(check: Callable[[], str | None]) -> None:
        try:
            problem = check()
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not stop
            problem = f"{type(exc).__name__}: {exc}"
        RESULTS.append((name, problem is None, problem or ""))
        print(f"{'PASS' if problem is None else 'FAIL'}  {name}" + (f"  ({problem})" if problem else ""), flush=True)
    return run


def one_line(result: subprocess.CompletedProcess, code: int = 2) -> str | None:
    err = result.stderr.strip()
    if "Traceback" in err or result.returncode != code or not err.startswith("lavr: error: ") or "\n" in err:
        return f"exit {result.returncode}: {err[-300:]}"
    return None


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="lavr-probe-"))
    data_env = {"LAVR_DATA_DIR": str(tmp / "data"), "LAVR_NUM_EXAMPLES": "0"}
    for name in ("LAVR_ALLOWED_ROOTS", "LAVR_SERVER_TOKEN"):
        os.environ.pop(name, None)
    replies = tmp / "replies.json"
    replies.write_text(json.dumps({"replies": [{"thought": "t", "answer": "4", "rationale": "r"}],
                                   "repeat_last": True}))
    llm = ["--llm", f"scripted:{replies}", "--no-cache"]
    image = tmp / "a.png"
    Image.new("RGB", (64, 48), (10, 200, 10)).save(image)
    dataset = tmp / "d.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"q{i}", "image": "a.png", "question": "How many?",
                                           "answers": ["4"]}) + "\n" for i in range(3)))
    frozen = dataset.read_bytes()

    # Data losses ------------------------------------------------------------------------------------------------
    @case("eval --report DATASET refuses; the dataset is intact")
    def _() -> str | None:
        r = lavr("eval", str(dataset), "--out", str(tmp / "r.jsonl"), "--report", str(dataset), *llm,
                 "--no-progress", env=data_env)
        return one_line(r) or (None if dataset.read_bytes() == frozen else "the dataset changed")

    @case("eval --report R --out R refuses; the results are intact")
    def _() -> str | None:
        out = tmp / "r.jsonl"
        lavr("eval", str(dataset), "--out", str(out), *llm, "--no-progress", env=data_env)
        before = out.read_bytes()
        r = lavr("eval", str(dataset), "--out", str(out), "--report", str(out), *llm, "--no-progress", env=data_env)
        return one_line(r) or (None if out.read_bytes() == before else "the results changed")

    @case("eval --out notes.txt refuses; the notes are intact")
    def _() -> str | None:
        notes = tmp / "notes.txt"
        notes.write_text('notes\n{"id": "q0"}\n')
        r = lavr("eval", str(dataset), "--out", str(notes), *llm, "--no-progress", env=data_env)
        return one_line(r) or (None if notes.read_text() == 'notes\n{"id": "q0"}\n' else "the notes changed")

    @case("eval --out HARDLINK-TO-DATASET refuses")
    def _() -> str | None:
        link = tmp / "link.jsonl"
        os.link(dataset, link)
        r = lavr("eval", str(dataset), "--out", str(link), *llm, "--no-progress", env=data_env)
        return one_line(r) or (None if dataset.read_bytes() == frozen else "the dataset changed")

    @case("ask a.png --trace-html a.png refuses; the image is intact")
    def _() -> str | None:
        before = image.read_bytes()
        r = lavr("ask", str(image), "How many?", "--trace-html", str(image), *llm, env=data_env)
        return one_line(r) or (None if image.read_bytes() == before else "the image changed")

    @case("cache page damage keeps the readable entries")
    def _() -> str | None:
        seed = tmp / "seed.jsonl"
        seed.write_text("".join(json.dumps({"image_sha256": f"{i:064x}", "tool": "caption", "identity": "x",
                                            "value": {"caption": f"<entry {i:04d}> " + "x" * 60}}) + "\n"
                                for i in range(3000)))
        env = {**data_env, "LAVR_DATA_DIR": str(tmp / "cachedata")}
        if lavr("cache", "seed", str(seed), env=env).returncode != 0:
            return "seeding failed"
        path = tmp / "cachedata" / "cache" / "experts.sqlite"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        raw = bytearray(path.read_bytes())
        size = int.from_bytes(raw[16:18], "big")
        page = raw.index(b"<entry 1500>") // size
        raw[page * size:(page + 1) * size] = bytes((i * 37 + 11) % 256 for i in range(size))
        path.write_bytes(bytes(raw))
        r = lavr("cache", "stats", "--json", env=env)
        kept = json.loads(r.stdout.strip().splitlines()[-1])["entries"] if r.returncode == 0 else 0
        return None if 2900 <= kept < 3000 and "Traceback" not in r.stderr else f"kept {kept}: {r.stderr[-200:]}"

    # Tracebacks -------------------------------------------------------------------------------------------------
    (tmp / "latin1.jsonl").write_bytes(b'{"image_sha256": "caf\xe9"}\n')
    for label, target in (("a missing file", tmp / "missing.jsonl"), ("a folder", tmp),
                          ("/dev/zero", Path("/dev/zero"))):
        case(f"cache seed on {label} is one line")(lambda target=target: one_line(
            lavr("cache", "seed", str(target), env=data_env)))

    @case("cache seed on a non-UTF-8 file reports the line")
    def _() -> str | None:
        r = lavr("cache", "seed", str(tmp / "latin1.jsonl"), env=data_env)
        return None if "line 1: not UTF-8 text" in r.stderr and "Traceback" not in r.stderr else r.stderr[-300:]

    @case("eval with a Latin-1 byte and a deep line: error rows, the run goes on")
    def _() -> str | None:
        bad = tmp / "bad.jsonl"
        bad.write_bytes(frozen + b'{"id": "caf\xe9"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n")
        r = lavr("eval", str(bad), "--out", str(tmp / "bad-r.jsonl"), *llm, "--no-progress", env=data_env)
        ok = r.returncode == 0 and "Traceback" not in r.stderr and "errors: 2" in r.stdout
        return None if ok else f"exit {r.returncode}: {r.stderr[-300:]}"

    case("eval --seed -1 is one line")(lambda: one_line(
        lavr("eval", str(dataset), "--out", str(tmp / "s.jsonl"), "--seed", "-1", *llm, env=data_env)))
    for name, value in (("LAVR_SERVER_TOKEN", ""), ("LAVR_SERVER_TOKEN", " s3cret "), ("LAVR_DATA_DIR", ""),
                        ("LAVR_CHAT_HISTORY_TOKENS", "-5")):
        case(f"{name}={value!r} is one line")(lambda name=name, value=value: one_line(
            lavr("cache", "stats", env={**data_env, name: value}, cwd=tmp)))

    @case("ask prints escape sequences visibly")
    def _() -> str | None:
        evil = tmp / "evil.json"
        evil.write_text(json.dumps([{"thought": "t", "answer": "\x1b]0;PWNED\x07\x1b[2J", "rationale": "r"}]))
        r = lavr("ask", str(image), "What does it say?", "--llm", f"scripted:{evil}", "--no-cache", env=data_env)
        return None if "\x1b" not in r.stdout and "\\x1b]0;PWNED" in r.stdout else repr(r.stdout[-200:])

    # The server -------------------------------------------------------------------------------------------------
    roots, outside = tmp / "allowed", tmp / "outside"
    roots.mkdir()
    outside.mkdir()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(outside / "photo.png")
    (outside / "secret.txt").write_text("TOP-SECRET\n")
    (outside / "secret.txt").chmod(0o600)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), **data_env, "LAVR_SERVER_TOKEN": TOKEN,
           "LAVR_ALLOWED_ROOTS": json.dumps([str(roots)])}
    log = (tmp / "server.log").open("w+")
    server = subprocess.Popen([sys.executable, str(REPO / "run.py"), "serve", "--port", str(port), "--llm",
                               f"scripted:{replies}"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        http = httpx.Client(base_url=url, timeout=60)
        http.post("/login", data={"username": "x", "password": TOKEN})
        auth = {"Authorization": f"Bearer {TOKEN}"}

        for name in ("photo.png", "secret.txt"):
            @case(f"web page: {name} outside the roots is neither read, copied nor served")
            def _(name: str = name) -> str | None:
                body = {"data": [{"text": "How many people?", "files": [
                    {"path": str(outside / name), "meta": {"_type": "gradio.FileData"}}]}]}
                r = http.post("/gradio_api/call/submit", json=body)
                text = r.text
                if r.status_code == 200:
                    text += http.get(f"/gradio_api/call/submit/{r.json()['event_id']}").text
                copies = [p for d in (tmp / "data", Path(tempfile.gettempdir()) / "gradio") for p in d.rglob(name)]
                served = http.get(f"/gradio_api/file={outside / name}")
                if r.status_code != 403 or "data:image" in text or "TOP-SECRET" in text or copies:
                    return f"status {r.status_code}, copies {copies}"
                return None if served.status_code == 403 else f"served: {served.status_code}"

        @case("server: a 100 MB chunked POST is refused with 413 before it is read")
        def _() -> str | None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
            piece = b"x" * 65536
            sent = 0
            try:
                while sent < 100_000_000:
                    sock.sendall(b"10000\r\n" + piece + b"\r\n")
                    sent += len(piece)
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
            head = sock.recv(200)
            sock.close()
            return None if b" 413 " in head and sent < 100_000_000 else f"{head[:40]!r} after {sent:,} bytes"

        @case("server: a client closing at once logs no traceback")
        def _() -> str | None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n{")
            sock.close()
            time.sleep(1)
            log.flush()
            return "a traceback was logged" if "Traceback" in Path(log.name).read_text() else None

        for path in ("/v1/chat/completions", "/v1/threads"):
            case(f"server: JSON nested 100,000 deep to {path} is a JSON 400")(lambda path=path: (
                lambda r: None if r.status_code == 400 and r.json()["error"]["code"] == "invalid_body"
                else f"{r.status_code} {r.text[:100]}")(
                http.post(path, content=b"[" * 100_000 + b"]" * 100_000, headers=auth)))

        @case("server: 18 MB of earlier messages is refused; no thread is made by failed requests")
        def _() -> str | None:
            big = [{"role": "user", "content": "q" * 18_000_000}, {"role": "assistant", "content": "a"},
                   {"role": "user", "content": "How many?"}]
            r = http.post("/v1/chat/completions", json={"messages": big}, headers=auth)
            for _ in range(5):  # a question about an image with no image is refused ("hi" is small talk: answered)
                http.post("/v1/chat/completions",
                          json={"messages": [{"role": "user", "content": "How many people are there?"}]}, headers=auth)
            threads = http.get("/v1/threads", headers=auth).json()["data"]
            locks = list((tmp / "data" / "chat" / "locks").glob("*.lock"))
            return None if r.status_code in (400, 413) and not threads and not locks else f"{r.status_code} " \
                f"{len(threads)} threads, {len(locks)} lock files"

        case("server: a thread id ending in a newline is refused")(lambda: (
            lambda r: None if r.status_code == 400 else f"{r.status_code}")(
            http.post("/v1/threads", json={"id": "kitchen\n"}, headers=auth)))
    finally:
        server.terminate()
        server.wait(30)
    if "Traceback" in Path(log.name).read_text():
        RESULTS.append(("server log", False, "a traceback was logged"))
    failed = [r for r in RESULTS if not r[1]]
    print(f"{len(RESULTS) - len(failed)} of {len(RESULTS)} cases hold; files under {tmp}")
    return 1 if failed else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("lavr serve did not start")


if __name__ == "__main__":
    sys.exit(main())
