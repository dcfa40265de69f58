#!/usr/bin/env python
"""The embedded LLM's speed under OpenMP settings, side by side: seconds per decoded token and prompt tokens per
second, at a short and a long context, each setting in its own new process (libgomp reads its settings once, when
it loads), the processes alternating.

    python bench/llm_decode.py [--rounds 2] [--variant NAME=VAR=VALUE[,VAR=VALUE...]]...

Default variants: ``passive`` (OMP_WAIT_POLICY=PASSIVE alone) and ``lavr`` (what lavr commands set:
``lavr.cli.OPENMP_DEFAULTS``). Prints one JSON object with every run and each variant's medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONTEXTS = (20, 2200)
DECODED = 30


def measure() -> dict[str, Any]:
    """In this process: evaluate a prompt of each length, then decode ``DECODED`` tokens one at a time."""
    sys.path.insert(0, str(REPO))
    from lavr.backends.llama_cpp import LlamaCppBackend
    from lavr.settings import Settings

    llm = LlamaCppBackend(Settings())._llama()
    out: dict[str, Any] = {}
    for n in CONTEXTS:
        llm.reset()
        tokens = llm.tokenize(b"hello world " * n)[:n]
        start = time.perf_counter()
        llm.eval(tokens)
        prompt_s = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(DECODED):
            llm.eval([tokens[i % len(tokens)]])
        out[str(n)] = {"prompt_tokens_per_s": round(n / prompt_s, 1),
                       "s_per_token": round((time.perf_counter() - start) / DECODED, 4)}
    return out


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition("=")
    env = dict(pair.split("=", 1) for pair in rest.split(",") if "=" in pair)
    if not name or not env:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VAR=VALUE[,VAR=VALUE...]")
    return name, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", action="append", type=parse_variant)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    sys.path.insert(0, str(REPO))
    from lavr.cli import OPENMP_DEFAULTS

    variants = args.variant or [("passive", {"OMP_WAIT_POLICY": "PASSIVE"}), ("lavr", dict(OPENMP_DEFAULTS))]
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    for _ in range(args.rounds):
        for name, env in variants:
            done = subprocess.run([sys.executable, __file__, "--child"], env={**base, **env}, capture_output=True,
                                  text=True, check=True, timeout=600)
            runs[name].append({**json.loads(done.stdout.strip().splitlines()[-1]), "load": os.getloadavg()[0]})
    keys = ("s_per_token", "prompt_tokens_per_s")
    medians = {name: {n: {key: statistics.median(r[n][key] for r in rs) for key in keys} for n in map(str, CONTEXTS)}
               for name, rs in runs.items()}
    print(json.dumps({"variants": dict(variants), "medians": medians, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
