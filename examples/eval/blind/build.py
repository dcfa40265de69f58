#!/usr/bin/env python
"""Turn the blind sets into lavr evaluation datasets: single.jsonl, multi.jsonl and images/ (drawn scenes).

The questions in single.json, multi.json and chat.json were written by a helper who saw only plain-English scene
descriptions and family descriptions, never lavr's grammar, prompts, lexicon or templates (see README.md here).
Each scene becomes a small drawing (so the image cache has pixels to key on) and its objects become the row's
precomputed `detect` output: oracle detections, so only translation and execution are measured.

    python examples/eval/blind/build.py          # writes single.jsonl, multi.jsonl, images/
    python examples/eval/blind/build.py examples/eval/blind2    # the same for another set written the same way
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = (480, 320)
LABELS = ["cube", "sphere", "cylinder"]
RGB = {"gray": (128, 128, 128), "red": (200, 40, 40), "blue": (40, 70, 210), "green": (40, 160, 60),
       "brown": (130, 80, 40), "purple": (130, 50, 170), "cyan": (40, 200, 210), "yellow": (230, 210, 40)}


def draw(scene: dict, path: Path) -> None:
    """The scene as a picture: cubes as squares, spheres as discs, cylinders as capped rectangles."""
    image = Image.new("RGB", SIZE, (225, 225, 220))
    pen = ImageDraw.Draw(image)
    for obj in sorted(scene["objects"], key=lambda o: o["box"][3]):  # back to front
        x1, y1, x2, y2 = (v * s for v, s in zip(obj["box"], SIZE * 2))
        fill = RGB[obj["color"]]
        outline = (30, 30, 30) if obj["material"] == "metal" else None
        if obj["shape"] == "sphere":
            pen.ellipse((x1, y1, x2, y2), fill=fill, outline=outline, width=3)
        elif obj["shape"] == "cylinder":
            cap = (y2 - y1) * 0.2
            pen.rectangle((x1, y1 + cap / 2, x2, y2 - cap / 2), fill=fill, outline=outline, width=3)
            pen.ellipse((x1, y1, x2, y1 + cap), fill=fill, outline=outline, width=3)
        else:
            pen.rectangle((x1, y1, x2, y2), fill=fill, outline=outline, width=3)
    image.save(path)


def detections(scene: dict) -> dict:
    return {"detections": [{"label": o["shape"], "confidence": 1.0, "box": o["box"],
                            "attributes": {"shape": o["shape"], "color": o["color"], "size": o["size"],
                                           "material": o["material"]}} for o in scene["objects"]],
            "labels": LABELS, "model": "oracle"}


def main(here: Path = HERE) -> None:
    (here / "images").mkdir(exist_ok=True)
    single, multi = json.loads((here / "single.json").read_text()), json.loads((here / "multi.json").read_text())
    scenes = {s["id"]: s for s in [*single["scenes"], *multi.get("scenes", [])]}
    for sid, scene in scenes.items():
        draw(scene, here / "images" / f"{sid}.png")
    with (here / "single.jsonl").open("w") as fh:
        for q in single["questions"]:
            row = {"id": q["id"], "image": f"images/{q['scene']}.png", "question": q["question"],
                   "answers": [str(q["answer"])], "question_type": q["kind"],
                   "precomputed": {"detect": detections(scenes[q["scene"]])}}
            fh.write(json.dumps(row) + "\n")
    with (here / "multi.jsonl").open("w") as fh:
        for q in multi["questions"]:
            images = [{"image": f"images/{sid}.png", "precomputed": {"detect": detections(scenes[sid])}}
                      for sid in q["scenes"]]
            row = {"id": q["id"], "images": images, "question": q["question"], "answers": [str(q["answer"])],
                   "question_type": q["kind"]}
            fh.write(json.dumps(row) + "\n")
    print(f"{len(single['questions'])} single-image and {len(multi['questions'])} several-image questions, "
          f"{len(scenes)} scenes")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE)
