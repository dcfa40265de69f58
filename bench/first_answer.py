#!/usr/bin/env python
"""Time to first answer with the embedded LLM: a cold process against warm questions in a running agent.

    python bench/first_answer.py [--image sample:bus] [--mode auto]

Cold: a new ``lavr ask`` process (imports, detector and LLM load, empty expert cache); the GGUF is assumed
assembled already and, in query mode, the prompt prefix's KV state saved on disk (an untimed first process
makes sure of both); its peak resident memory (the kernel's maxrss of that one child) is reported too. Warm:
further questions to the same ``Agent`` (weights loaded, detections cached). Prints JSON with seconds and tokens
per question: prompt tokens reused from the KV state and newly evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = ["How many people are in this photo?", "Is anyone lying on the ground?",
             "Is there a person on the left side of the image?", "How many faces can be seen?",
             "Are there more than 3 people?", "Is there a person on the right?", "How many people have a visible face?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="sample:bus")
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--question", default=QUESTIONS[0], help="the cold process's question")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    cache_dir = tempfile.mkdtemp(prefix="lavr-first-")
    command = [sys.executable, str(repo / "run.py"), "ask", args.image, args.question, "--json", "--no-cache",
               "--mode", args.mode]
    subprocess.run(command, capture_output=True, text=True, check=True)  # untimed: GGUF and prefix state on disk

    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: its peak RSS
        cold_wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"the cold process failed with exit status {child.returncode}")
        out.seek(0)
        cold_answer = json.loads(out.read())
    peak_rss_gb = usage.ru_maxrss / 1024 ** 2  # kB on Linux

    from lavr import Settings
    from lavr.agents import make_agent
    from lavr.cache import ExpertCache
    from lavr.samples import resolve_image_arg

    image = resolve_image_arg(args.image)
    agent = make_agent(args.mode, "local", settings=Settings(), cache=ExpertCache(Path(cache_dir) / "c.sqlite"))
    rows = []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        ans = agent.ask(image, question)
        rows.append({"question": question, "answer": ans.answer, "seconds": round(time.perf_counter() - t0, 2),
                     "prompt_tokens": ans.usage.prompt_tokens,
                     "reused_prompt_tokens": ans.usage.cached_prompt_tokens,
                     "new_prompt_tokens": ans.usage.prompt_tokens - ans.usage.cached_prompt_tokens,
                     "completion_tokens": ans.usage.completion_tokens, "mode": ans.mode,
                     "llm_calls": ans.usage.llm_calls, "retries": ans.retries,
                     "cached_tool_steps": sum(1 for s in ans.steps if s.kind == "tool" and s.cached)})
    print(json.dumps({
        "cold_process": {"wall_s": round(cold_wall, 2), "peak_rss_gb": round(peak_rss_gb, 2),
                         "answer": cold_answer["answer"],
                         "agent_seconds": cold_answer["seconds"], "usage": cold_answer["usage"],
                         "retries": cold_answer["retries"]},
        "in_process": rows,
        "warm_median_s": statistics.median(r["seconds"] for r in rows[1:]),
    }, indent=2))


if __name__ == "__main__":
    main()
