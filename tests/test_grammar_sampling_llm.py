"""The embedded backend's fast greedy grammar path gives llama-cpp-python's own reply, byte for byte (slow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from embedded_model import embedded_gguf
from grammar_cases import Case, all_cases


pytestmark = pytest.mark.llm
CASES = all_cases()


@dataclass
class Paths:
    fast: Any
    slow: Any
    primed_tokens: int
    fast_runs: list[int]


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> Paths:
    import lavr.backends.llama_cpp as module
    from lavr.planners.query.prompt import QueryPrompt
    from lavr.settings import Settings

    runs: list[int] = []
    original = module.greedy_constrained

    def counted(*args, **kwargs):
        runs.append(1)
        return original(*args, **kwargs)

    module.greedy_constrained = counted
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), gguf_path=embedded_gguf())
    fast, slow = module.LlamaCppBackend(settings), module.LlamaCppBackend(settings, fast_grammar=False)
    try:
        primed = fast.prime(QueryPrompt().prefix_messages())
        yield Paths(fast, slow, primed.tokens, runs)
    finally:
        module.greedy_constrained = original


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_the_fast_path_replies_exactly_as_llama_cpp_python(paths: Paths, index: int):
    case: Case = CASES[index]
    # Each path runs first (reading the question after the primed prefix or the last prompt) and second (the
    # whole prompt cached) in turn, so the KV reuse and its accounting are compared in both positions.
    order = [("fast", paths.fast), ("slow", paths.slow)] if index % 2 == 0 else \
        [("slow", paths.slow), ("fast", paths.fast)]
    replies = {}
    for position, (name, backend) in enumerate(order):
        runs = len(paths.fast_runs)
        reply = backend.generate(case.messages, json_schema=case.schema, max_tokens=case.max_tokens,
                                 repeat_penalty=case.repeat_penalty)
        assert len(paths.fast_runs) == runs + (name == "fast")  # the fast backend did not fall back
        usage = reply.usage
        if position == 1:
            assert usage.cached_prompt_tokens == usage.prompt_tokens - 1, name
        elif case.name.startswith("query"):  # the primed prefix (or more) is reused, whichever path runs
            assert paths.primed_tokens <= usage.cached_prompt_tokens < usage.prompt_tokens, name
        replies[name] = reply
    fast, slow = replies["fast"], replies["slow"]
    assert fast.text == slow.text
    assert (fast.finish_reason, fast.usage.prompt_tokens, fast.usage.completion_tokens) == \
           (slow.finish_reason, slow.usage.prompt_tokens, slow.usage.completion_tokens)
    assert fast.finish_reason == ("length" if case.max_tokens < 20 else "stop")
