#!/usr/bin/env python
"""The development set of query mode as a lavr dataset: questions.yaml (question and the program meant) over the
scenes of scenes.json; each answer is what the meant program computes. Not an evaluation: prompts, worked
examples and the lexicon were tuned on it (the blind sets and the held-out shapes half are the evaluations).

    python examples/eval/dev/build.py     # dev.jsonl and images/ next to this file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "blind"))
from build import detections, draw  # noqa: E402  (the blind sets' drawing and oracle detections)

from lavr.planners.query.checks import check  # noqa: E402
from lavr.schema import Box, Detection  # noqa: E402
from lavr.tools.query import Scene, check_program, execute  # noqa: E402
from lavr.tools.scene_graph import build_scene_graph  # noqa: E402


def scene_of(*images: list[dict]) -> Scene:
    """The scene of one or more images (object ids numbered across them, as in a chat); the last is the focus."""
    graphs, start = {}, 0
    for k, objects in enumerate(images):
        dets = [Detection(id=f"obj_{start + i}", image=f"img_{k}", label=o["shape"], confidence=1.0,
                          box=Box.from_list(o["box"]),
                          attributes={a: o[a] for a in ("shape", "color", "size", "material")})
                for i, o in enumerate(objects)]
        start += len(objects)
        graph = build_scene_graph(dets)
        graph.graph["known_labels"] = ["cube", "sphere", "cylinder"]
        graphs[f"img_{k}"] = graph
    return Scene.from_graphs(graphs, focus=f"img_{len(images) - 1}")


def main() -> None:
    scenes = json.loads((HERE / "scenes.json").read_text())
    (HERE / "images").mkdir(exist_ok=True)
    for sid, objects in scenes.items():
        draw({"objects": objects}, HERE / "images" / f"{sid}.png")
    rows, problems = [], []
    for i, q in enumerate(yaml.safe_load((HERE / "questions.yaml").read_text())):
        names = q.get("scenes") or [q["scene"]]
        scene = scene_of(*[scenes[n] for n in names])
        typed = check_program(q["p"], scene)
        execution = execute(typed, scene)
        verdict = check(q["q"], typed, scene)
        if execution.answer_type == "cannot_tell" or not verdict.ok:
            problems.append(f"{q['q']} | {q['p']} -> {execution.answer} {'' if verdict.ok else verdict.feedback()}")
        row = {"id": f"dev-{i:03d}", "question": q["q"], "answers": [execution.answer],
               "question_type": ("multi-" if len(names) > 1 else "") + (typed.op.name if typed.op else "?")}
        if len(names) > 1:
            row["images"] = [{"image": f"images/{n}.png", "precomputed": {"detect": detections({"objects": scenes[n]})}}
                             for n in names]
        else:
            row.update(image=f"images/{names[0]}.png",
                       precomputed={"detect": detections({"objects": scenes[names[0]]})})
        rows.append(row)
    with (HERE / "dev.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    print(f"{len(rows)} questions; {len(problems)} whose meant program is not a good answer:")
    for p in problems:
        print("  " + p)


if __name__ == "__main__":
    main()
