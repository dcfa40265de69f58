#!/usr/bin/env python
"""All default experts on a new image: what query mode runs before its one LLM call, timed end to end.

    python bench/experts_bench.py [--photos bus zidane ...] [--threads 2] [--json out.json]

In one warm process (every model loaded by an untimed first photo), each photo is new to the experts (no expert
cache): the ``scene_graph`` call runs through lavr's one tool executor as query mode runs it (its prefetch starts
the detector, the face detector and the pose model in parallel, then the people cross-check with the face models
and the graph itself), then ``picture``. Prints per photo the wall seconds of each, and the median over photos;
the target is 1.5 s on 2 cores. Timings depend on what else runs on the cores: the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_PHOTOS = ("bus", "zidane", "astronaut", "grace_hopper", "camera", "coffee", "chelsea", "motorcycle",
                  "motorcycle_right", "china", "flower", "rocket")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="*", default=list(DEFAULT_PHOTOS))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target's cores)")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args(argv)

    import torch

    from lavr.agents.executor import ToolExecutor
    from lavr.samples import sample_path
    from lavr.schema import ToolCall
    from lavr.settings import Settings
    from lavr.tools import RunContext, ToolRegistry, default_tools

    torch.set_num_threads(args.threads)
    settings = Settings()
    registry = ToolRegistry(default_tools(settings))
    executor = ToolExecutor(registry)
    detector = registry.get("detect")

    def run(name: str) -> dict[str, float | str | int]:
        ctx = RunContext(settings)  # no expert cache: every expert computes
        image = ctx.images.add(sample_path(name)).id
        start = time.perf_counter()
        [scene] = executor.run([ToolCall(tool="scene_graph", args={"image": image})], ctx, first_index=0)
        middle = time.perf_counter()
        [picture] = executor.run([ToolCall(tool="picture", args={"image": image})], ctx, first_index=1)
        end = time.perf_counter()
        if scene.error or picture.error:
            raise SystemExit(f"{name}: {scene.error or picture.error}")
        return {"photo": name, "scene_graph_s": round(middle - start, 3), "picture_s": round(end - middle, 3),
                "total_s": round(end - start, 3), "objects": len(scene.data["nodes"])}

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    run(args.photos[0])  # untimed: loads every model
    load_s = time.perf_counter() - t0
    rows = [run(name) for name in args.photos]
    load_after = os.getloadavg()
    summary = {
        "detector": detector.describe(),
        "torch_threads": args.threads,
        "first_photo_with_model_loading_s": round(load_s, 2),
        "median_total_s": statistics.median(r["total_s"] for r in rows),
        "median_scene_graph_s": statistics.median(r["scene_graph_s"] for r in rows),
        "max_total_s": max(r["total_s"] for r in rows),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "photos": rows,
    }
    for r in rows:
        print(f"{r['photo']:<17} scene_graph {r['scene_graph_s']:.2f} s  picture {r['picture_s']:.2f} s  "
              f"total {r['total_s']:.2f} s  ({r['objects']} objects)")
    print(json.dumps({k: v for k, v in summary.items() if k != "photos"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
