"""The embedded backend's fast greedy grammar path against llama-cpp-python's own sampler chain (slow).

What is claimed, and what is not:
- On the same logits, the fast path picks exactly the token llama-cpp-python's own chain (repeat penalty ->
  grammar -> greedy, built by ``Llama._init_sampler``) picks, at every step of a real generation. The logits the
  fast path read are recorded and replayed through that chain, so nothing depends on the CPU: a forbidden token
  or any divergence from greedy fails here on every machine.
- Across two ``Llama`` instances whose KV caches were filled in different orders and batch shapes, the logits
  may differ in their last bits (seen on an AMD EPYC: greedy took another branch where two tokens were close),
  so the two paths are not claimed to write the same bytes. What holds on every CPU: both replies are valid
  JSON under the schema (or a program of the query language under its grammar), with the same token
  accounting, and short unambiguous replies (query programs) parse to the same program.
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Any

import jsonschema
import numpy as np
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
    steps: list[tuple[np.ndarray, int]]  # (logits before the repeat penalty, the token chosen), last call


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> Paths:
    import lavr.backends.grammar_sampling as sampling
    import lavr.backends.llama_cpp as module
    from lavr.planners.query.prompt import QueryPrompt
    from lavr.settings import Settings

    runs: list[int] = []
    steps: list[tuple[np.ndarray, int]] = []
    original_run, original_penalty, original_choose = (module.greedy_constrained, sampling.apply_repeat_penalty,
                                                       sampling.GrammarConstraint.choose)

    def counted(*args, **kwargs):
        runs.append(1)
        steps.clear()
        return original_run(*args, **kwargs)

    def penalty(logits, *args, **kwargs):  # the raw logits of each step, as the model gave them
        steps.append((logits.copy(), -1))
        return original_penalty(logits, *args, **kwargs)

    def choose(self, logits, *args, **kwargs):
        token = original_choose(self, logits, *args, **kwargs)
        steps[-1] = (steps[-1][0], token)
        return token

    module.greedy_constrained, sampling.apply_repeat_penalty = counted, penalty
    sampling.GrammarConstraint.choose = choose
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), gguf_path=embedded_gguf())
    fast, slow = module.LlamaCppBackend(settings), module.LlamaCppBackend(settings, fast_grammar=False)
    try:
        primed = fast.prime(QueryPrompt().prefix_messages())
        yield Paths(fast, slow, primed.tokens, runs, steps)
    finally:
        module.greedy_constrained, sampling.apply_repeat_penalty = original_run, original_penalty
        sampling.GrammarConstraint.choose = original_choose


def _reference_chain(llm: Any, case: Case) -> Any:
    """llama-cpp-python's own sampler chain for a greedy completion under ``case``'s schema."""
    from llama_cpp import LlamaGrammar

    from lavr.backends.llama_cpp import DEFAULT_REPEAT_PENALTY, grammar_safe_schema

    grammar = LlamaGrammar.from_string(case.grammar, verbose=False) if case.grammar is not None else \
        LlamaGrammar.from_json_schema(json.dumps(grammar_safe_schema(case.schema)), verbose=False)
    penalty = DEFAULT_REPEAT_PENALTY if case.repeat_penalty is None else case.repeat_penalty
    return llm._init_sampler(temp=0.0, repeat_penalty=penalty, grammar=grammar)


def _chain_picks(chain: Any, logits: np.ndarray) -> int:
    """The token the chain selects from these logits (applied to a copy; the chain's state is not advanced)."""
    import llama_cpp

    from lavr.backends.grammar_sampling import TOKEN_DATA

    data = np.zeros(len(logits), dtype=TOKEN_DATA)
    data["id"] = np.arange(len(logits), dtype=np.int32)
    data["logit"] = logits
    array = llama_cpp.llama_token_data_array(data=data.ctypes.data_as(llama_cpp.llama_token_data_p),
                                             size=len(logits), selected=-1, sorted=False)
    llama_cpp.llama_sampler_apply(chain.sampler, ctypes.byref(array))
    assert array.selected >= 0
    # the chain may sort the array in place: the selected index is into the array as it left it
    return int(data["id"][array.selected])


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_on_the_same_logits_the_fast_path_picks_what_llama_cpp_pythons_chain_picks(paths: Paths, index: int):
    import llama_cpp

    case: Case = CASES[index]
    runs = len(paths.fast_runs)
    reply = paths.fast.generate(case.messages, **case.kwargs())
    assert len(paths.fast_runs) == runs + 1  # the fast path ran (no fallback to llama-cpp-python's sampler)
    steps = list(paths.steps)
    assert steps and all(token >= 0 for _, token in steps)
    llm = paths.fast._llama()
    chain = _reference_chain(llm, case)
    try:
        for i, (logits, token) in enumerate(steps):
            assert _chain_picks(chain, logits) == token, f"step {i}: the chain picks another token"
            llama_cpp.llama_sampler_accept(chain.sampler, token)
    finally:
        chain.close()
    # the replayed tokens are the reply: every step was checked, the end of generation included
    if llama_cpp.llama_vocab_is_eog(llm._model.vocab, steps[-1][1]):
        assert reply.finish_reason == "stop" and reply.usage.completion_tokens == len(steps) - 1
    else:
        assert reply.usage.completion_tokens == len(steps)
    assert reply.finish_reason == ("length" if case.max_tokens < 20 else "stop")


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_both_paths_reply_validly_with_the_same_accounting(paths: Paths, index: int):
    from query_scenes import shapes

    from lavr.planners.query.prompt import QueryPrompt
    from lavr.tools.query import check_program, parse

    case: Case = CASES[index]
    if case.name.startswith("query"):  # whatever ran before, the KV holds the query prompt's prefix
        paths.fast.prime(QueryPrompt().prefix_messages())
    # Each path runs first (reading the question after the primed prefix or the last prompt) and second (the
    # whole prompt cached) in turn, so the KV reuse and its accounting are compared in both positions.
    order = [("fast", paths.fast), ("slow", paths.slow)] if index % 2 == 0 else \
        [("slow", paths.slow), ("fast", paths.fast)]
    replies = {}
    for position, (name, backend) in enumerate(order):
        reply = backend.generate(case.messages, **case.kwargs())
        usage = reply.usage
        if position == 1:
            assert usage.cached_prompt_tokens == usage.prompt_tokens - 1, name
        elif case.name.startswith("query"):  # the primed prefix (or more) is reused, whichever path runs
            assert paths.primed_tokens <= usage.cached_prompt_tokens < usage.prompt_tokens, name
        replies[name] = reply
    fast, slow = replies["fast"], replies["slow"]
    assert fast.usage.prompt_tokens == slow.usage.prompt_tokens
    for name, reply in replies.items():
        assert reply.finish_reason == ("length" if case.max_tokens < 20 else "stop"), name
        if reply.finish_reason == "stop" and case.schema is not None:  # a whole reply: JSON the schema accepts
            jsonschema.validate(json.loads(reply.text), case.schema)
        elif reply.finish_reason == "stop":  # a whole program of the language
            parse(reply.text)
    if case.name.startswith("query: ") and "fallen" not in case.name and fast.finish_reason == "stop":
        # a short program with one reading: the same program, whatever the last bits of the logits
        assert parse(fast.text) == parse(slow.text)
        check_program(fast.text, shapes())
