"""The fast greedy grammar path's pieces: llama.cpp's repeat penalty, and the chosen token under a real grammar."""

from __future__ import annotations

import json

import numpy as np
import pytest
from embedded_model import embedded_gguf

from lavr.backends.grammar_sampling import apply_repeat_penalty


def test_repeat_penalty_divides_positive_and_multiplies_other_logits_once_per_token():
    logits = np.array([2.0, -2.0, 0.0, 3.3, 1.0, -0.5], dtype=np.float32)
    before = logits.copy()
    apply_repeat_penalty(logits, [0, 1, 1, 2, 3, 0], 1.1, 64)
    p = np.float32(1.1)
    assert logits.dtype == np.float32
    # float32 arithmetic as in C, and a token seen twice is penalised once
    assert logits[0] == before[0] / p and logits[3] == before[3] / p
    assert logits[1] == before[1] * p and logits[2] == 0.0
    assert logits[4] == before[4] and logits[5] == before[5]  # never generated


def test_repeat_penalty_looks_only_at_the_last_n_generated_tokens_and_is_off_at_one():
    logits = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    apply_repeat_penalty(logits, [0, 1, 2], 2.0, 2)  # token 0 fell out of the window
    assert logits.tolist() == [1.0, 0.5, 0.5]
    apply_repeat_penalty(logits, [0, 1, 2], 1.0, 64)
    apply_repeat_penalty(logits, [0, 1, 2], 2.0, 0)
    apply_repeat_penalty(logits, [], 2.0, 64)
    assert logits.tolist() == [1.0, 0.5, 0.5]


@pytest.mark.llm
def test_choosing_from_the_best_candidates_agrees_with_the_grammar_over_the_whole_vocabulary():
    from llama_cpp import Llama, LlamaGrammar

    from lavr.backends.grammar_sampling import GrammarConstraint

    llm = Llama(model_path=str(embedded_gguf()), vocab_only=True, verbose=False)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "w": {"enum": ["yes", "no"]}},
              "required": ["n", "w"]}
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    constraint = GrammarConstraint(llm._model.vocab, grammar._grammar, grammar._root, llm.n_vocab())
    rng = np.random.default_rng(0)
    try:
        text = '{"n": 12, "w": "yes"}'
        for token in llm.tokenize(text.encode(), add_bos=False):
            for trial in range(4):
                logits = rng.normal(size=llm.n_vocab()).astype(np.float32)
                if trial == 1:  # the grammar's token among equal best logits: the lowest id wins, as in greedy
                    logits[[token, token + 1, max(token - 1, 0)]] = logits.max() + 1
                if trial == 2:  # no good candidate near the top: the whole vocabulary is filtered
                    logits[token] = logits.min() - 1
                # best(): the chain's grammar then greedy samplers, every token filtered, the first maximum kept
                chosen = constraint.choose(logits.copy())
                assert chosen == constraint.best(logits.copy()), (token, trial)
                assert constraint.allows(chosen)
            assert constraint.allows(token)
            constraint.accept(token)
        eog = llm.token_eos()
        assert constraint.allows(eog)  # the object is complete
    finally:
        constraint.close()
