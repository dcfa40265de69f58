"""The embedded backend's fast greedy grammar path gives llama-cpp-python's own reply, byte for byte (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grammar_cases import all_cases

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def _gguf() -> Path | None:
    for folder in (Path(os.environ.get("LAVR_DATA_DIR", "")) / "models", Path.home() / ".local/share/lavr/models"):
        if (folder / GGUF_NAME).is_file():
            return folder / GGUF_NAME
    return None


pytestmark = [pytest.mark.llm, pytest.mark.skipif(_gguf() is None, reason="the embedded GGUF is not assembled here")]


def test_the_fast_path_replies_exactly_as_llama_cpp_python(tmp_path, monkeypatch):
    import lavr.backends.llama_cpp as module
    from lavr.planners.query.prompt import QueryPrompt
    from lavr.settings import Settings

    fast_runs = []
    original = module.greedy_constrained

    def counted(*args, **kwargs):
        fast_runs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "greedy_constrained", counted)
    settings = Settings(data_dir=tmp_path, gguf_path=_gguf())
    fast, slow = module.LlamaCppBackend(settings), module.LlamaCppBackend(settings, fast_grammar=False)
    primed = fast.prime(QueryPrompt().prefix_messages())
    differences, finishes = [], set()
    for i, case in enumerate(all_cases()):
        # Each path runs first (reading the question after the primed prefix or the last prompt) and second
        # (the whole prompt cached) in turn, so the KV reuse and its accounting are compared in both positions.
        order = [("fast", fast), ("slow", slow)] if i % 2 == 0 else [("slow", slow), ("fast", fast)]
        replies = {}
        for position, (name, backend) in enumerate(order):
            runs = len(fast_runs)
            reply = backend.generate(case.messages, json_schema=case.schema, max_tokens=case.max_tokens,
                                     repeat_penalty=case.repeat_penalty)
            assert len(fast_runs) == runs + (name == "fast")  # the fast backend did not fall back
            usage = reply.usage
            if position == 1:
                assert usage.cached_prompt_tokens == usage.prompt_tokens - 1, (case.name, name)
            elif case.name.startswith("query"):  # the primed prefix (or more) is reused, whichever path runs
                assert primed.tokens <= usage.cached_prompt_tokens < usage.prompt_tokens, (case.name, name)
            replies[name] = reply
        a, b = replies["fast"], replies["slow"]
        finishes.add(a.finish_reason)
        same = (a.text, a.finish_reason, a.usage.prompt_tokens, a.usage.completion_tokens) == \
               (b.text, b.finish_reason, b.usage.prompt_tokens, b.usage.completion_tokens)
        if not same:
            differences.append(f"{case.name}:\n  fast {a.finish_reason} {a.usage} {a.text!r}\n"
                               f"  slow {b.finish_reason} {b.usage} {b.text!r}")
    assert not differences, "\n".join(differences)
    assert finishes == {"stop", "length"}
