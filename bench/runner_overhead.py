#!/usr/bin/env python
"""The runner's own cost: a scripted LLM and fake tools that each take a fixed time, in every mode.

Each question runs ``--turns`` ReAct turns of ``--calls`` tool calls (or a pipeline of as many tool steps and
one LLM step). The LLM sleeps ``--llm-ms`` per call and each tool
``--tool-ms`` per call (in its expensive, prefetched part, as real experts do). The runner's overhead is the wall
time minus the time the LLM and tools were busy (tools of one move overlap, so their time counts once per move),
reported as a fraction of the total and per step (a step: an LLM call or a tool call).

    python bench/runner_overhead.py [--questions 20] [--turns 3] [--calls 2] [--llm-ms 50] [--tool-ms 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import Field

from lavr import Settings
from lavr.agents import make_agent
from lavr.backends import ScriptedBackend
from lavr.tools.base import ImageArg, RunContext, Tool, ToolOutput


class WorkInput(ImageArg):
    k: int = Field(0, description="Which piece of work.")


class WorkOutput(ToolOutput):
    k: int

    def to_text(self) -> str:
        return f"work {self.k} done"


class WorkTool(Tool[WorkInput, WorkOutput]):
    """Does a fixed amount of (sleeping) work."""

    name = "work"
    input_model = WorkInput
    output_model = WorkOutput
    seconds = 0.02

    def prefetch(self, args: WorkInput, ctx: RunContext) -> None:
        stored = ctx.images.get(args.image)
        ctx.memo(tool=self.name, image=stored, params={"k": args.k}, identity="work", model=WorkOutput,
                 compute=lambda: self._work(args.k))

    def _work(self, k: int) -> WorkOutput:
        time.sleep(self.seconds)
        return WorkOutput(k=k)

    def run(self, args: WorkInput, ctx: RunContext) -> WorkOutput:
        stored = ctx.images.get(args.image)
        value, _ = ctx.memo(tool=self.name, image=stored, params={"k": args.k}, identity="work", model=WorkOutput,
                            compute=lambda: self._work(args.k))
        return value


def slow(reply_for: Any, seconds: float) -> Any:
    def policy(messages: list[Any]) -> Any:
        time.sleep(seconds)
        return reply_for(messages)
    return policy


def run_mode(mode: str, args: argparse.Namespace, image: Image.Image, settings: Settings) -> dict[str, Any]:
    llm_s, tool_s = args.llm_ms / 1000, args.tool_ms / 1000
    WorkTool.seconds = tool_s
    pipeline = None
    if mode == "react":
        def reply(messages: list[Any]) -> Any:
            turns = sum(1 for m in messages if m.role == "assistant")
            if turns < args.turns:  # distinct work each turn: nothing is reused from the run's memo
                return {"thought": "more", "tool_calls": [{"tool": "work", "args": {"k": turns * args.calls + j}}
                                                          for j in range(args.calls)]}
            return {"thought": "done", "answer": "ok", "rationale": "r"}
        llm_calls, moves = args.turns + 1, args.turns
    else:
        pipeline = {"steps": [{"id": f"s{k}", "tool": "work", "args": {"k": k}} for k in range(args.calls * args.turns)]
                    + [{"id": "answer", "llm": "{{ question }}"}]}

        def reply(messages: list[Any]) -> Any:
            return {"answer": "ok", "rationale": "r"}
        llm_calls, moves = 1, 1
    backend = ScriptedBackend([slow(reply, llm_s)], repeat_last=True)
    agent = make_agent(mode, backend, settings=settings, tools=[WorkTool(settings)], cache=False, pipeline=pipeline)
    agent.ask(image, "warm up")
    walls = []
    for q in range(args.questions):
        start = time.perf_counter()
        ans = agent.ask(image.copy(), f"question {q}")
        walls.append(time.perf_counter() - start)
        assert ans.answer == "ok", ans.answer
    busy = llm_calls * llm_s + moves * tool_s  # a move's tools overlap: one tool time per move
    steps = llm_calls + args.calls * args.turns
    wall = statistics.median(walls)
    overhead = max(0.0, wall - busy)
    return {"mode": mode, "wall_s": round(wall, 4), "busy_s": round(busy, 4),
            "overhead_fraction": round(overhead / wall, 4), "overhead_ms_per_step": round(1000 * overhead / steps, 2),
            "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--llm-ms", type=float, default=500.0, help="per LLM call (the embedded LLM takes 1-30 s)")
    parser.add_argument("--tool-ms", type=float, default=100.0, help="per tool call (detection: 0.1-0.3 s on CPU)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Enough parallel slots that the tools of one move all overlap (their time then counts once per move).
        settings = Settings(data_dir=Path(tmp), num_examples=0, max_steps=max(6, args.turns + 1),
                            max_tool_calls_per_turn=max(4, args.calls), max_parallel_tools=args.calls * args.turns)
        image = Image.new("RGB", (64, 48), (10, 200, 10))
        rows = [run_mode(mode, args, image, settings) for mode in ("react", "pipeline")]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
