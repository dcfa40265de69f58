#!/usr/bin/env python
"""Time to first answer with the embedded LLM: a cold process against warm questions in a running agent.

    python bench/first_answer.py [--image sample:bus]

Cold: a new ``lavr ask`` process (imports, detector and LLM load, empty expert cache); the GGUF is assumed
assembled already (the very first run also assembles it once). Warm: further questions to the same ``Agent``
(weights loaded, detections cached). Prints JSON with seconds, tokens and retries per question.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = ["How many people are in this photo?", "Is anyone lying on the ground?",
             "Is there a person on the left side of the image?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="sample:bus")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    cache_dir = tempfile.mkdtemp(prefix="lavr-first-")

    start = time.perf_counter()
    cold = subprocess.run([sys.executable, str(repo / "run.py"), "ask", args.image, QUESTIONS[0], "--json",
                           "--no-cache"], capture_output=True, text=True, check=True)
    cold_wall = time.perf_counter() - start
    cold_answer = json.loads(cold.stdout)

    from lavr import Agent, Settings
    from lavr.cache import ExpertCache
    from lavr.samples import resolve_image_arg

    image = resolve_image_arg(args.image)
    agent = Agent("local", settings=Settings(), cache=ExpertCache(Path(cache_dir) / "c.sqlite"))
    rows = []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        ans = agent.ask(image, question)
        rows.append({"question": question, "answer": ans.answer, "seconds": round(time.perf_counter() - t0, 2),
                     "prompt_tokens": ans.usage.prompt_tokens, "completion_tokens": ans.usage.completion_tokens,
                     "llm_calls": ans.usage.llm_calls, "retries": ans.retries,
                     "cached_tool_steps": sum(1 for s in ans.steps if s.kind == "tool" and s.cached)})
    print(json.dumps({
        "cold_process": {"wall_s": round(cold_wall, 2), "answer": cold_answer["answer"],
                         "agent_seconds": cold_answer["seconds"], "usage": cold_answer["usage"],
                         "retries": cold_answer["retries"]},
        "in_process": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
