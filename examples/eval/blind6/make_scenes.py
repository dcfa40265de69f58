#!/usr/bin/env python3
"""Generate random scenes of simple solids for the blind6 set.

Fixed seed 20261208.  Writes scenes.json (next to this file) with
  {"single": [40 scenes w01..w40], "multi": [45 scenes w41..w85]}
"""
import json
import os
import random

SEED = 20261208
SHAPES = ["cube", "sphere", "cylinder"]
COLORS = ["gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"]
SIZES = ["small", "large"]
MATERIALS = ["rubber", "metal"]

MAX_OVERLAP = 0.10  # intersection / smaller box area


def overlap_frac(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter == 0:
        return 0.0
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / min(area_a, area_b)


def make_box(rng, size):
    if size == "large":
        w = rng.uniform(0.15, 0.25)
    else:
        w = rng.uniform(0.07, 0.12)
    h = w * rng.uniform(0.85, 1.15)
    y2 = rng.uniform(0.35, 0.95)
    y1 = y2 - h
    x1 = rng.uniform(0.01, 0.99 - w)
    x2 = x1 + w
    return [round(x1, 3), round(y1, 3), round(x2, 3), round(y2, 3)]


def make_scene(rng, sid):
    while True:
        n = rng.randint(3, 8)
        objs = []
        ok = True
        for i in range(n):
            size = rng.choice(SIZES)
            for _try in range(300):
                box = make_box(rng, size)
                if all(overlap_frac(box, o["box"]) <= MAX_OVERLAP for o in objs):
                    break
            else:
                ok = False
                break
            objs.append({
                "id": "o%d" % (i + 1),
                "shape": rng.choice(SHAPES),
                "color": rng.choice(COLORS),
                "size": size,
                "material": rng.choice(MATERIALS),
                "box": box,
            })
        if ok:
            return {"id": sid, "objects": objs}


def main():
    rng = random.Random(SEED)
    scenes = [make_scene(rng, "w%02d" % (k + 1)) for k in range(85)]
    out = {"single": scenes[:40], "multi": scenes[40:]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenes.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    print("wrote", path, len(out["single"]), "single +", len(out["multi"]), "multi scenes")


if __name__ == "__main__":
    main()
