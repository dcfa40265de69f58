"""Greedy grammar-constrained decoding for the embedded LLM that tests the grammar on the chosen token first.

llama-cpp-python's sampler chain (penalties -> grammar -> greedy) runs the grammar over every one of the
vocabulary's ~152k candidates each token, which costs about as much as a third of a decode step on two cores.
For greedy decoding the answer only needs the best token the grammar accepts: candidates are tried in
descending logit order, one at a time, and the grammar sees the whole vocabulary only when none of the top ones
passes (what llama.cpp's own ``common_sampler`` does). The result is the token the chain would pick: the
penalised logits, the grammar's verdicts and greedy's first-maximum tie rule are the same.

``greedy_constrained`` reproduces ``Llama.create_completion``'s bookkeeping as well: the KV prefix reuse of
``Llama.generate``, the stop strings and multibyte handling of ``_create_completion``, and the ``input_ids`` /
``n_tokens`` it leaves behind, so a later call (through either path) reuses the same prefix.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["GrammarConstraint", "GreedyResult", "apply_repeat_penalty", "greedy_constrained"]

# How many of the best candidates are tried one by one before the grammar is run over the whole vocabulary.
TOP_CANDIDATES = 32

# llama.cpp's llama_token_data (id, logit, p), so a numpy array can be passed as a llama_token_data_array.
TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


def apply_repeat_penalty(logits: np.ndarray, generated: Sequence[int], penalty: float, last_n: int) -> None:
    """Penalise, in place, every token among the last ``last_n`` of ``generated`` as llama.cpp's penalties
    sampler does with only a repeat penalty: a positive logit is divided by it, any other multiplied, once per
    distinct token whatever its count (float32 arithmetic, as in C)."""
    if last_n <= 0 or penalty == 1.0 or not generated:
        return
    ids = np.unique(np.asarray(generated[-last_n:], dtype=np.intp))
    values = logits[ids]
    factor = np.float32(penalty)
    logits[ids] = np.where(values <= 0, values * factor, values / factor)


class GrammarConstraint:
    """A llama.cpp grammar sampler used as a token filter: ``allows`` one token, ``best`` over all, ``accept``."""

    def __init__(self, vocab: Any, grammar: str, root: str, n_vocab: int):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), root.encode("utf-8"))
        if not self._sampler:
            raise ValueError("llama.cpp could not parse the grammar")
        self._cell = llama_cpp.llama_token_data()
        self._one = llama_cpp.llama_token_data_array(data=ctypes.pointer(self._cell), size=1, selected=-1,
                                                     sorted=False)
        self._all = np.zeros(n_vocab, dtype=TOKEN_DATA)
        self._all["id"] = np.arange(n_vocab, dtype=np.int32)
        self._all_array = llama_cpp.llama_token_data_array(
            data=self._all.ctypes.data_as(llama_cpp.llama_token_data_p), size=n_vocab, selected=-1, sorted=False)

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, accepts ``token`` next (it sets a rejected logit to -inf)."""
        # llama_cpp declares the field's ctypes type; ctypes converts the int on assignment
        self._cell.id, self._cell.logit, self._cell.p = token, 0.0, 0.0  # type: ignore[assignment]
        self._one.size, self._one.selected, self._one.sorted = 1, -1, False
        self._llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(self._one))
        return not math.isinf(self._cell.logit)

    def best(self, logits: np.ndarray) -> int:
        """The first token of highest logit among all that the grammar accepts (greedy over the filtered array)."""
        self._all["logit"] = logits
        self._all["p"] = 0.0
        self._all_array.size, self._all_array.selected, self._all_array.sorted = len(self._all), -1, False
        self._llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(self._all_array))
        return int(np.argmax(self._all["logit"]))

    def choose(self, logits: np.ndarray, top: int = TOP_CANDIDATES) -> int:
        """The token greedy decoding under the grammar picks: the best candidates one by one, else all."""
        n = len(logits)
        k = min(top, n)
        floor = logits[np.argpartition(logits, n - k)[n - k:]].min()
        # Every token tied with the weakest of the top k joins, so the order below is the true order: descending
        # logit, and the lower id first among equals (greedy keeps the first maximum).
        candidates = np.flatnonzero(logits >= floor)
        for token in candidates[np.lexsort((candidates, -logits[candidates]))]:
            if self.allows(int(token)):
                return int(token)
        return self.best(logits)

    def accept(self, token: int) -> None:
        self._llama_cpp.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None


@dataclass
class GreedyResult:
    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    evaluated: int  # prompt tokens evaluated by this call (the rest came from the KV state)


def evaluate_prompt(llm: Any, tokens: list[int]) -> int:
    """Bring the KV state to ``tokens`` with live logits for the last one, as ``Llama.generate`` does: keep the
    longest common prefix, re-evaluate one token when all of it is cached (the logits may be stale). Returns
    how many tokens were evaluated."""
    reset = True
    if llm.n_tokens > 0:
        longest = 0
        for a, b in zip(llm._input_ids, tokens):
            if a != b:
                break
            longest += 1
        consumed = longest == len(tokens)
        if llm.n_tokens == len(tokens) and consumed and not llm._requires_eval:
            return 0  # the last decode was this very prompt: its logits are the ones to sample from
        reuse = longest - 1 if consumed else longest
        if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            reset = False
            tokens = tokens[reuse:]
            llm.n_tokens = reuse
            llm._requires_eval = True
    if reset:
        llm.reset()
    llm.eval(tokens)
    return len(tokens)


def _utf8_pending(text: bytes, pending: int) -> int:
    """``_create_completion``'s count of tokens to wait for while the text ends inside a UTF-8 character
    (kept verbatim, quirks included, so stop strings and the length limit apply at the same tokens)."""
    for k, char in enumerate(text[-3:]):
        k = 3 - k
        for num, pattern in [(2, 192), (3, 224), (4, 240)]:
            if num > k and pattern & char == pattern:
                pending = num - k
    return pending


def greedy_constrained(llm: Any, prompt: list[int], constraint: GrammarConstraint, *, max_tokens: int,
                       repeat_penalty: float, stop: Sequence[str]) -> GreedyResult:
    """Generate greedily from ``prompt`` under ``constraint`` as ``Llama.create_completion`` would at
    temperature 0 with that grammar and repeat penalty; the caller holds the model's lock.

    Raises:
        ValueError: the prompt does not fit the context.
    """
    import llama_cpp

    n_ctx = llm.n_ctx()
    if len(prompt) >= n_ctx:
        raise ValueError(f"Requested tokens ({len(prompt)}) exceed context window of {n_ctx}")
    if max_tokens <= 0 or max_tokens + len(prompt) >= n_ctx:
        max_tokens = n_ctx - len(prompt)
    stops = [s.encode("utf-8") for s in stop]
    vocab = llm._model.vocab
    n_vocab = llm.n_vocab()
    last_n = llm.last_n_tokens_size

    evaluated = evaluate_prompt(llm, list(prompt))
    completion: list[int] = []
    finish: Literal["stop", "length"] = "length"
    text = b""
    pending = 0
    while True:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,)).copy()
        apply_repeat_penalty(logits, completion, repeat_penalty, last_n)
        token = constraint.choose(logits)
        constraint.accept(token)
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            text, finish = llm.detokenize(completion), "stop"
            break
        completion.append(token)
        all_text = llm.detokenize(completion)
        pending = _utf8_pending(all_text, pending)
        if pending > 0:
            pending -= 1
        else:
            hits = [s for s in stops if s in all_text]
            if hits:
                text, finish = all_text[: all_text.index(hits[0])], "stop"
                break
            if len(completion) >= max_tokens:
                text, finish = all_text, "length"
                break
        llm.eval([token])
    return GreedyResult(text=text.decode("utf-8", errors="ignore"), finish_reason=finish,
                        prompt_tokens=len(prompt), completion_tokens=len(completion), evaluated=evaluated)
