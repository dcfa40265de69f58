#!/usr/bin/env python
"""N questions about one image, with the per-image expert cache against without it, measured in one run.

The planner is scripted (detect, then scene_graph, then an answer) so the numbers isolate the experts; pass
``--llm local`` to plan with the embedded LLM instead (slower; the LLM then dominates).

    python bench/cache_bench.py --questions 5 [--image sample:bus] [--llm local]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from lavr import Agent, Settings
from lavr.backends import ScriptedBackend
from lavr.cache import ExpertCache
from lavr.samples import resolve_image_arg

QUESTIONS = ["How many people are in this photo?", "Is anyone lying on the ground?",
             "How many people are on the left of the image?", "Is there a person on the right?",
             "How many large objects are there?", "Are any two people near each other?"]


def scripted() -> ScriptedBackend:
    def plan(messages):  # detect, then scene_graph, then answer: what the LLM typically does here
        turns = sum(1 for m in messages if m.role == "assistant")
        if turns == 0:
            return {"thought": "detect", "tool_calls": [{"tool": "detect", "args": {"classes": ["person"]}}]}
        if turns == 1:
            return {"thought": "graph", "tool_calls": [{"tool": "scene_graph", "args": {"label": "person"}}]}
        return {"thought": "done", "answer": "4", "rationale": "counts"}

    return ScriptedBackend([plan], repeat_last=True)


def run(agent: Agent, image: object, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        agent.ask(image, QUESTIONS[i % len(QUESTIONS)])
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--image", default="sample:bus")
    parser.add_argument("--llm", default="scripted")
    args = parser.parse_args()
    image = resolve_image_arg(args.image)
    data = Path(tempfile.mkdtemp(prefix="lavr-bench-"))
    settings = Settings(data_dir=data, num_examples=3)

    def make(cache: object) -> Agent:
        llm = scripted() if args.llm == "scripted" else args.llm
        return Agent(llm, settings=settings, cache=cache)

    # Load the weights once before timing either side, so neither pays the one-off model load.
    make(False).ask(image, "warm up")
    without = run(make(False), image, args.questions)
    with_cache = run(make(ExpertCache(data / "bench.sqlite")), image, args.questions)
    result = {
        "questions": args.questions, "image": str(args.image), "llm": args.llm,
        "without_cache_s": round(sum(without), 3), "with_cache_s": round(sum(with_cache), 3),
        "speedup": round(sum(without) / max(sum(with_cache), 1e-9), 2),
        "first_question_with_cache_s": round(with_cache[0], 3),
        "median_later_question_with_cache_s": round(statistics.median(with_cache[1:] or with_cache), 4),
        "median_question_without_cache_s": round(statistics.median(without), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
