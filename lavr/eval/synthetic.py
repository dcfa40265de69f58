"""A synthetic evaluation set, deterministic from a seed: flat scenes of coloured shapes with exact answers.

Each scene is drawn as a small PNG (PIL) and described exactly by its objects (shape, color, size, material and
pixel geometry), so every answer is computed, never guessed. Each row carries the scene's oracle detections as a
``precomputed`` ``detect`` output (the format of ``lavr.eval.precomputed``), so only the LLM stage is under test.

Row format (JSONL, the ``lavr eval`` format)::

    {"id": "shapes-007-2", "image": "shapes/scene_007.png", "question": "What color is the leftmost object?",
     "answers": ["red"], "question_type": "extreme",
     "precomputed": {"detect": {"detections": [{"label": "circle", "confidence": 1.0,
         "box": [0.05, 0.3, 0.25, 0.6],
         "attributes": {"shape": "circle", "color": "red", "size": "large", "material": "metal"}}, ...],
         "labels": ["circle", "square", "triangle"], "model": "oracle"}}}

Geometry is chosen so that the questions have one exact answer: objects never overlap, object centres differ
by at least ``MIN_DX`` pixels horizontally (left/right of is never borderline), vertical relations are asked
only when centres differ by at least ``MIN_DY`` pixels, and "small" and "large" sizes do not overlap in box or
drawn area. Question families and their templates are in ``lavr.eval.synthetic_questions``.

Usage: ``python -m lavr.eval.synthetic --seed 0 --out examples/eval/shapes.jsonl`` (images go to
``shapes/`` next to the JSONL file).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["Obj", "Scene", "SyntheticRow", "generate", "make_scene", "render", "write_dataset"]

WIDTH, HEIGHT = 160, 120
SHAPES = ("circle", "square", "triangle")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 205, 30),
    "purple": (140, 60, 190),
}
SIZES: dict[str, tuple[int, int]] = {"small": (7, 9), "large": (15, 18)}  # half-extent in pixels, inclusive
MATERIALS = ("rubber", "metal")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"white": (255, 255, 255), "black": (15, 15, 15),
                                                 "gray": (128, 128, 128)}
MIN_DX = 8  # pixels between any two object centres, horizontally
MIN_DY = 8  # pixels between centres for a vertical relation to be asked about
GAP = 3  # pixels between any two boxes
MIN_OBJECTS, MAX_OBJECTS = 3, 6
ORACLE = "oracle"


class Obj(BaseModel):
    """One object of a scene: what it is and where it is drawn (pixels; the box is ``cx +- r``, ``cy +- r``)."""

    shape: str
    color: str
    size: str
    material: str
    cx: int
    cy: int
    r: int

    def attr(self, key: str) -> str:
        return str(getattr(self, key))

    @property
    def box_px(self) -> tuple[int, int, int, int]:
        return self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r

    @property
    def box_area(self) -> int:
        return (2 * self.r) ** 2

    def box(self, width: int = WIDTH, height: int = HEIGHT) -> list[float]:
        """The box in the box convention: ``[x1, y1, x2, y2]`` normalised, origin top-left."""
        x1, y1, x2, y2 = self.box_px
        return [round(x1 / width, 4), round(y1 / height, 4), round(x2 / width, 4), round(y2 / height, 4)]


class Scene(BaseModel):
    """A flat scene: background colour and objects, in left-to-right order."""

    index: int
    background: str
    objects: list[Obj]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def name(self) -> str:
        return f"scene_{self.index:03d}"

    def detections(self) -> dict[str, Any]:
        """The oracle ``detect`` output, as ``precomputed`` rows carry it."""
        dets = [{"label": o.shape, "confidence": 1.0, "box": o.box(self.width, self.height),
                 "attributes": {"shape": o.shape, "color": o.color, "size": o.size, "material": o.material}}
                for o in self.objects]
        return {"detections": dets, "labels": list(SHAPES), "model": ORACLE}


class SyntheticRow(BaseModel):
    """One question of the set, in the ``lavr eval`` row format."""

    id: str
    image: str
    question: str
    answers: list[str]
    question_type: str
    precomputed: dict[str, dict[str, Any]]


def _separated(candidate: Obj, placed: list[Obj]) -> bool:
    x1, y1, x2, y2 = candidate.box_px
    for other in placed:
        ox1, oy1, ox2, oy2 = other.box_px
        apart = x2 + GAP <= ox1 or ox2 + GAP <= x1 or y2 + GAP <= oy1 or oy2 + GAP <= y1
        if not apart or abs(candidate.cx - other.cx) < MIN_DX:
            return False
    return True


def make_scene(index: int, rng: random.Random) -> Scene:
    """A random scene whose geometry meets the module's guarantees (retries until one fits)."""
    while True:
        n = rng.randint(MIN_OBJECTS, MAX_OBJECTS)
        placed: list[Obj] = []
        for _ in range(n):
            size = rng.choice(list(SIZES))
            r = rng.randint(*SIZES[size])
            traits = {"shape": rng.choice(SHAPES), "color": rng.choice(list(COLORS)), "size": size,
                      "material": rng.choice(MATERIALS), "r": r}
            for _attempt in range(200):
                obj = Obj(cx=rng.randint(r + 2, WIDTH - r - 3), cy=rng.randint(r + 2, HEIGHT - r - 3), **traits)
                if _separated(obj, placed):
                    placed.append(obj)
                    break
            else:
                break  # no room left: draw a new scene
        if len(placed) == n:
            placed.sort(key=lambda o: o.cx)
            return Scene(index=index, background=rng.choice(list(BACKGROUNDS)), objects=placed)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(c * factor))) for c in rgb)  # type: ignore[return-value]


def render(scene: Scene) -> Any:
    """The scene as a PIL image. Metal objects get a dark rim and a small highlight; rubber ones are flat."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (scene.width, scene.height), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(img)
    for o in scene.objects:
        fill = COLORS[o.color]
        rim = _shade(fill, 0.55) if o.material == "metal" else None
        width = 2 if rim else 0
        x1, y1, x2, y2 = o.box_px
        if o.shape == "circle":
            draw.ellipse((x1, y1, x2, y2), fill=fill, outline=rim, width=width)
        elif o.shape == "square":
            draw.rectangle((x1, y1, x2, y2), fill=fill, outline=rim, width=width)
        else:
            draw.polygon([(x1, y2), (x2, y2), (o.cx, y1)], fill=fill, outline=rim, width=width)
        if o.material == "metal":
            hx, hy = (o.cx - o.r // 3, o.cy + o.r // 3) if o.shape == "triangle" else (o.cx - o.r // 2, o.cy - o.r // 2)
            h = max(1, o.r // 5)
            draw.ellipse((hx - h, hy - h, hx + h, hy + h), fill=(255, 255, 255))
    return img


def generate(seed: int = 0, *, scenes: int = 80, per_scene: int = 5,
             image_dir: str = "shapes") -> tuple[list[Scene], list[SyntheticRow]]:
    """Scenes and questions, the same for the same arguments.

    Args:
        seed: The random seed.
        scenes: How many scenes.
        per_scene: Questions per scene (each of a different family).
        image_dir: Folder of the images relative to the JSONL file, as rows name them.

    Returns:
        The scenes and the rows, scene by scene.
    """
    from .synthetic_questions import pick_questions

    rng = random.Random(seed)
    made: list[Scene] = []
    rows: list[SyntheticRow] = []
    used: Counter[str] = Counter()
    for index in range(scenes):
        scene = make_scene(index, rng)
        made.append(scene)
        precomputed = {"detect": scene.detections()}
        for k, (family, question, answers) in enumerate(pick_questions(scene, rng, used, per_scene)):
            rows.append(SyntheticRow(id=f"shapes-{index:03d}-{k}", image=f"{image_dir}/{scene.name}.png",
                                     question=question, answers=answers, question_type=family,
                                     precomputed=precomputed))
    return made, rows


def write_dataset(out: Path, *, seed: int = 0, scenes: int = 80, per_scene: int = 5) -> list[SyntheticRow]:
    """Write the JSONL file ``out`` and its images (``<out stem>/scene_NNN.png`` next to it)."""
    out = Path(out)
    image_dir = out.stem
    made, rows = generate(seed, scenes=scenes, per_scene=per_scene, image_dir=image_dir)
    (out.parent / image_dir).mkdir(parents=True, exist_ok=True)
    for scene in made:
        render(scene).save(out.parent / image_dir / f"{scene.name}.png", optimize=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.model_dump(), separators=(", ", ": ")) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lavr.eval.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", type=int, default=80)
    parser.add_argument("--per-scene", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("examples/eval/shapes.jsonl"))
    args = parser.parse_args(argv)
    if args.scenes < 1 or args.per_scene < 1:
        print("lavr: error: --scenes and --per-scene must be at least 1", file=sys.stderr)
        return 2
    rows = write_dataset(args.out, seed=args.seed, scenes=args.scenes, per_scene=args.per_scene)
    families = Counter(r.question_type for r in rows)
    print(f"wrote {len(rows)} questions about {args.scenes} scenes to {args.out}")
    for family, count in sorted(families.items()):
        print(f"  {family}: {count}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
