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

Scenes and their geometric guarantees (every answer clear-cut) are in ``lavr.eval.synthetic_scenes``; question
families and their templates in ``lavr.eval.synthetic_questions``.

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

from .synthetic_questions import pick_questions, template_half
from .synthetic_scenes import DrawnScene, make_scene, render

__all__ = ["SyntheticRow", "generate", "main", "write_dataset"]


class SyntheticRow(BaseModel):
    """One question of the set, in the ``lavr eval`` row format."""

    id: str
    image: str
    question: str
    answers: list[str]
    question_type: str
    precomputed: dict[str, dict[str, Any]]


def generate(seed: int = 0, *, scenes: int = 80, per_scene: int = 5, image_dir: str = "shapes",
             half: str | None = None) -> tuple[list[DrawnScene], list[SyntheticRow]]:
    """Scenes and questions, the same for the same arguments.

    Args:
        seed: The random seed.
        scenes: How many scenes.
        per_scene: Questions per scene (each of a different family).
        image_dir: Folder of the images relative to the JSONL file, as rows name them.
        half: Write questions with the ``"tune"`` or the ``"heldout"`` half of each family's templates (None:
            all of them; see ``synthetic_questions.template_half``).

    Returns:
        The scenes and the rows, scene by scene.
    """
    with template_half(half):
        return _generate(seed, scenes, per_scene, image_dir)


def _generate(seed: int, scenes: int, per_scene: int, image_dir: str) -> tuple[list[DrawnScene], list[SyntheticRow]]:
    rng = random.Random(seed)
    made: list[DrawnScene] = []
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


def write_dataset(out: Path, *, seed: int = 0, scenes: int = 80, per_scene: int = 5,
                  half: str | None = None) -> list[SyntheticRow]:
    """Write the JSONL file ``out`` and its images (``<out stem>/scene_NNN.png`` next to it)."""
    out = Path(out)
    image_dir = out.stem
    made, rows = generate(seed, scenes=scenes, per_scene=per_scene, image_dir=image_dir, half=half)
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
    parser.add_argument("--half", choices=["tune", "heldout"], default=None,
                        help="write with one half of each family's templates (tuning or held-out)")
    args = parser.parse_args(argv)
    if args.scenes < 1 or args.per_scene < 1:
        print("lavr: error: --scenes and --per-scene must be at least 1", file=sys.stderr)
        return 2
    rows = write_dataset(args.out, seed=args.seed, scenes=args.scenes, per_scene=args.per_scene, half=args.half)
    families = Counter(r.question_type for r in rows)
    print(f"wrote {len(rows)} questions about {args.scenes} scenes to {args.out}")
    for family, count in sorted(families.items()):
        print(f"  {family}: {count}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
