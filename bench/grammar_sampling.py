#!/usr/bin/env python
"""Grammar-constrained greedy generation in the embedded backend: llama-cpp-python's sampler chain against the
fast path (grammar checked on the chosen token first), on the same prompts, side by side.

Each prompt is first answered once (untimed) so its KV state is ready; then both paths answer it again, each
re-reading one prompt token, so the time is the generation's. "decode" is the time inside ``Llama.eval``;
"other" is the rest (sampling, grammar, detokenising). A difference in the replies is reported, not an error: the
two paths read the prompt in different batch shapes, and on some CPUs the logits then differ in their last bits
(tests/backends/test_grammar_sampling_llm.py checks the token choice itself on identical logits).

    PYTHONPATH=$PWD python bench/grammar_sampling.py [--cases query|all] [--repeats 1] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from grammar_cases import Case, all_cases, query_cases  # noqa: E402

from lavr.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from lavr.planners.query.prompt import QueryPrompt  # noqa: E402
from lavr.settings import Settings  # noqa: E402


class EvalClock:
    """Seconds spent in ``llm.eval`` (the model's decode), wrapped around whatever ``eval`` the instance has."""

    def __init__(self, llm: Any):
        self.seconds = 0.0
        inner = llm.eval

        def timed(tokens: Any) -> None:
            start = time.perf_counter()
            try:
                inner(tokens)
            finally:
                self.seconds += time.perf_counter() - start

        llm.eval = timed


def run(backend: LlamaCppBackend, case: Case, clock: EvalClock) -> tuple[str, int, float, float]:
    clock.seconds = 0.0
    start = time.perf_counter()
    reply = backend.generate(case.messages, **case.kwargs())
    return reply.text, reply.usage.completion_tokens, time.perf_counter() - start, clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", choices=["query", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args()

    settings = Settings(llm_threads=args.threads)
    fast, slow = LlamaCppBackend(settings), LlamaCppBackend(settings, fast_grammar=False)
    primed = fast.prime(QueryPrompt().prefix_messages())
    print(f"query prefix: {primed.tokens} tokens ({primed.source}, {primed.seconds:.1f} s)", flush=True)
    clock = EvalClock(fast._llama())
    cases = query_cases() if args.cases == "query" else all_cases()
    totals = {"slow": [0, 0.0, 0.0], "fast": [0, 0.0, 0.0]}  # tokens, wall, decode
    differ = 0
    print(f"{'case':<58} {'tok':>4} {'slow ms/tok':>11} {'fast ms/tok':>11} {'ratio':>6}  "
          f"{'other ms/tok slow/fast':>22}")
    for case in cases:
        slow.generate(case.messages, **case.kwargs())  # the prompt into the KV state, untimed
        per: dict[str, list[tuple[float, float]]] = {"slow": [], "fast": []}
        texts: set[str] = set()
        tokens = 0
        for _ in range(args.repeats):
            for name, backend in (("fast", fast), ("slow", slow)):
                text, tokens, wall, decode = run(backend, case, clock)
                texts.add(text)
                per[name].append((wall, decode))
                totals[name][0] += tokens
                totals[name][1] += wall
                totals[name][2] += decode
        ms = {n: statistics.median(w for w, _ in per[n]) * 1000 / max(tokens, 1) for n in per}
        other = {n: statistics.median(w - d for w, d in per[n]) * 1000 / max(tokens, 1) for n in per}
        differ += len(texts) > 1
        mark = "" if len(texts) == 1 else "  DIFFERENT"
        print(f"{case.name[:58]:<58} {tokens:>4} {ms['slow']:>11.1f} {ms['fast']:>11.1f} "
              f"{ms['slow'] / ms['fast']:>6.2f}  {other['slow']:>10.1f} / {other['fast']:<9.1f}{mark}", flush=True)
    (n_slow, w_slow, d_slow), (n_fast, w_fast, d_fast) = totals["slow"], totals["fast"]
    print(f"\nall: {n_slow} tokens per path")
    print(f"  llama-cpp-python sampler: {w_slow * 1000 / n_slow:.1f} ms/token "
          f"(decode {d_slow * 1000 / n_slow:.1f}, other {(w_slow - d_slow) * 1000 / n_slow:.1f})")
    print(f"  fast path:                {w_fast * 1000 / n_fast:.1f} ms/token "
          f"(decode {d_fast * 1000 / n_fast:.1f}, other {(w_fast - d_fast) * 1000 / n_fast:.1f})")
    print(f"  ratio slow/fast: {w_slow / w_fast:.2f} overall, "
          f"{(w_slow - d_slow) / max(w_fast - d_fast, 1e-9):.1f} outside decode")
    print(f"  replies identical: {'yes' if differ == 0 else f'no ({differ} differ: see the module docstring)'}")


if __name__ == "__main__":
    main()
