"""Build the ``photos`` evaluation set: real photos that ship inside installed packages, questions beyond people.

Copies the photos into ``images/`` and writes ``photos.jsonl``: 67 questions about 15 photos on objects of the
80 COCO classes (counts, existence, colours, positions, relations between objects) and on people (posture,
expression, age). Every answer was checked by looking at the photo, zoomed where it matters (the notes beside
the questions say what was seen); each row has 10 human-style answers for VQA soft accuracy. What is in each
photo, object by object, is in ``photos_labels.yaml`` (the labelled photo set).

Usage: ``python examples/eval/make_photos_set.py [--out-dir DIR]`` (default: this script's folder).
Needs ultralytics, scikit-learn, scikit-image, matplotlib and gradio installed (``pip install -e '.[dev]'``).
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
    "bus.jpg": "bus",
    "zidane.jpg": "zidane",
    "astronaut.png": "astronaut",
    "grace_hopper.jpg": "grace_hopper",
    "camera.png": "camera",
    "coffee.png": "coffee",
    "chelsea.png": "chelsea",
    "china.jpg": "china",
    "flower.jpg": "flower",
    "rocket.jpg": "rocket",
    "motorcycle_left.png": "motorcycle",
    "motorcycle_right.png": "motorcycle_right",
    "cheetah.jpg": "cheetah",
    "lion.jpg": "lion",
    "tower.jpg": "eiffel_tower",
}


def _answers(main: str, n: int = 10, **variants: int) -> list[str]:
    """``n`` answers: the variants (answer -> how many people gave it), the rest ``main``."""
    others = [a for a, k in variants.items() for _ in range(k)]
    return [main] * (n - len(others)) + others


YES, NO = _answers("yes"), _answers("no")

# (id, image, question, question_type, answers)
QUESTIONS: list[tuple[str, str, str, str, list[str]]] = [
    # bus.jpg: one blue-and-white city bus; 4 people standing or walking in front of it (one cut by each edge);
    # a bicycle stands on a balcony behind the railing (top right, small) and pots on the balconies.
    ("bus-buses", "bus.jpg", "How many buses are there?", "count", _answers("1", one=1)),
    ("bus-any-bus", "bus.jpg", "Is there a bus in this photo?", "exists", YES),
    ("bus-color", "bus.jpg", "What color is the bus?", "color", _answers("blue", **{"blue and white": 2})),
    ("bus-car", "bus.jpg", "Is there a car in this photo?", "exists", NO),
    ("bus-truck", "bus.jpg", "Is there a truck in the picture?", "exists", _answers("no", yes=1)),
    ("bus-more-people", "bus.jpg", "Are there more people than buses?", "compare", YES),
    ("bus-standing", "bus.jpg", "How many people are standing?", "posture", _answers("4", **{"3": 1})),
    ("bus-sitting", "bus.jpg", "Is anyone sitting?", "posture", NO),
    ("bus-motorcycle", "bus.jpg", "Is there a motorcycle in this photo?", "exists", NO),
    ("bus-people-front", "bus.jpg", "Are the people in front of the bus?", "relation", YES),
    # zidane.jpg: two men in dark suits, both with a dark tie (the right one's beside his blue lanyard); the left
    # man shouts with his mouth wide open, the right one looks on, neither smiles; a blurred crowd behind.
    ("zidane-ties", "zidane.jpg", "How many ties are there?", "count", _answers("2", two=1)),
    ("zidane-any-tie", "zidane.jpg", "Is anyone wearing a tie?", "exists", YES),
    ("zidane-ball", "zidane.jpg", "Is there a ball in this picture?", "exists", NO),
    ("zidane-smiling", "zidane.jpg", "Is anyone smiling?", "expression", NO),
    ("zidane-tie-color", "zidane.jpg", "What color is the tie on the left?", "color", _answers("black")),
    ("zidane-sitting", "zidane.jpg", "Is anyone sitting down?", "posture", NO),
    ("zidane-chair", "zidane.jpg", "Is there a chair in the photo?", "exists", NO),
    # astronaut.png: one woman in an orange spacesuit, smiling at the camera; a space shuttle model behind her
    # on the right, a US flag on the left, a helmet in the lower right.
    ("astronaut-smiling", "astronaut.png", "Is the person smiling?", "expression", YES),
    ("astronaut-any-smiling", "astronaut.png", "Is anyone smiling in this photo?", "expression", YES),
    ("astronaut-child", "astronaut.png", "Is the person in this photo a child?", "age", NO),
    ("astronaut-dog", "astronaut.png", "Is there a dog in the picture?", "exists", NO),
    ("astronaut-suit-color", "astronaut.png", "What color is the person's suit?", "color",
     _answers("orange", **{"orange and white": 1})),
    # grace_hopper.jpg: an elderly woman in a dark navy uniform with a black tie, white cap, glasses
    ("grace-tie", "grace_hopper.jpg", "Is the person wearing a tie?", "exists", YES),
    ("grace-ties", "grace_hopper.jpg", "How many ties are in this photo?", "count", _answers("1", one=1)),
    ("grace-old", "grace_hopper.jpg", "Is the woman old or young?", "age", _answers("old", elderly=2)),
    ("grace-child", "grace_hopper.jpg", "Is there a child in this photo?", "age", NO),
    ("grace-uniform-color", "grace_hopper.jpg", "What color is her jacket?", "color",
     _answers("black", blue=1, **{"navy": 1, "dark blue": 1})),
    # camera.png: grayscale; one man in a dark coat standing on a field, bent over a camera on a tripod, his
    # body in the left half of the picture
    ("camera-standing", "camera.png", "Is the man standing?", "posture", YES),
    ("camera-lying", "camera.png", "Is the man lying down?", "posture", NO),
    ("camera-left", "camera.png", "Is the man on the left side of the photo?", "position", YES),
    ("camera-car", "camera.png", "Is there a car in this photo?", "exists", NO),
    ("camera-bw", "camera.png", "Is this a black and white photo?", "style", _answers("yes", no=1)),
    # coffee.png: one red-brown espresso cup (white inside) on a matching saucer, a metal spoon on the saucer to
    # the right of the cup, all on a wooden table
    ("coffee-cup", "coffee.png", "Is there a cup in this picture?", "exists", YES),
    ("coffee-cups", "coffee.png", "How many cups are there?", "count", _answers("1", one=1)),
    ("coffee-spoon", "coffee.png", "Is there a spoon?", "exists", YES),
    ("coffee-spoon-right", "coffee.png", "Is the spoon to the right of the cup?", "relation", YES),
    ("coffee-cup-color", "coffee.png", "What color is the cup?", "color", _answers("red", brown=3, white=1)),
    ("coffee-fork", "coffee.png", "Is there a fork in this picture?", "exists", NO),
    ("coffee-bottle", "coffee.png", "Is there a bottle?", "exists", NO),
    # chelsea.png: the face of one tabby cat, close up
    ("chelsea-cat", "chelsea.png", "Is there a cat in this picture?", "exists", YES),
    ("chelsea-dog", "chelsea.png", "Is there a dog in this picture?", "exists", NO),
    ("chelsea-cats", "chelsea.png", "How many cats are there?", "count", _answers("1", one=1)),
    ("chelsea-animal", "chelsea.png", "What animal is this?", "kind", _answers("cat", kitten=1)),
    # motorcycle_left.png: one red motorcycle (Yamaha) in a garage, nobody on it; a wooden bench behind it on
    # the left; a red child's bicycle behind the bench at the left edge (front wheel and frame visible); a yellow
    # bottle on the shelf
    ("moto-any", "motorcycle_left.png", "Is there a motorcycle in this picture?", "exists", YES),
    ("moto-count", "motorcycle_left.png", "How many motorcycles are there?", "count", _answers("1", one=1)),
    ("moto-color", "motorcycle_left.png", "What color is the motorcycle?", "color", _answers("red")),
    ("moto-riding", "motorcycle_left.png", "Is someone riding the motorcycle?", "relation", NO),
    ("moto-bench", "motorcycle_left.png", "Is there a bench?", "exists", YES),
    ("moto-bench-behind", "motorcycle_left.png", "Is the bench behind the motorcycle?", "relation",
     _answers("yes", no=1)),
    ("moto-bicycle", "motorcycle_left.png", "Is there a bicycle in this photo?", "exists", _answers("yes", no=2)),
    ("moto-car", "motorcycle_left.png", "Is there a car in the picture?", "exists", NO),
    ("moto-bench-left", "motorcycle_left.png", "Is the bench on the left side of the picture?", "position", YES),
    # motorcycle_right.png: the same garage from a little to the right: the bench at the left, the motorcycle
    # to its right
    ("motor-count", "motorcycle_right.png", "How many motorcycles are in this photo?", "count",
     _answers("1", one=1)),
    ("motor-person", "motorcycle_right.png", "Is there a person in this picture?", "exists", NO),
    ("motor-bench-left-of", "motorcycle_right.png", "Is the bench to the left of the motorcycle?", "relation",
     YES),
    # rocket.jpg: a rocket on its launch pad at dusk, four lightning towers, lights; no vehicle, nobody
    ("rocket-airplane", "rocket.jpg", "Is there an airplane in this picture?", "exists", _answers("no", yes=1)),
    ("rocket-car", "rocket.jpg", "Is there a car?", "exists", NO),
    # china.jpg: a pagoda above a lake; dozens of tiny boats on the lake (a few pixels each); nobody
    ("china-boat", "china.jpg", "Are there boats on the water?", "exists", _answers("yes", no=2)),
    ("china-bird", "china.jpg", "Is there a bird in this picture?", "exists", NO),
    # flower.jpg: one orange dahlia in focus, a second one cut by the bottom border, dark green leaves
    ("flower-vase", "flower.jpg", "Is there a vase in this picture?", "exists", NO),
    ("flower-color", "flower.jpg", "What color is the flower?", "color", _answers("orange", peach=2, yellow=1)),
    # cheetah.jpg (gradio): one cheetah running across a motion-blurred plain; no person, no dog
    ("cheetah-dog", "cheetah.jpg", "Is there a dog in this picture?", "exists", NO),
    ("cheetah-person", "cheetah.jpg", "Is there a person in this photo?", "exists", NO),
    # lion.jpg (gradio): a male lion lying on a rock, a lioness lying behind him on the right
    ("lion-person", "lion.jpg", "Are there any people in this picture?", "exists", NO),
    ("lion-horse", "lion.jpg", "Is there a horse in the picture?", "exists", NO),
    # tower.jpg (gradio): the Eiffel Tower lit at dusk, bare branches top right; nothing else
    ("tower-person", "tower.jpg", "Is there a person in this picture?", "exists", NO),
    ("tower-bird", "tower.jpg", "Is there a bird in the picture?", "exists", NO),
]


def rows() -> list[dict[str, object]]:
    """The dataset rows, image paths relative to the dataset file."""
    return [{"id": rid, "image": f"images/{image}", "question": question, "question_type": qtype,
             "answers": answers} for rid, image, question, qtype, answers in QUESTIONS]


def build(out_dir: Path) -> Path:
    """Copy the images into ``out_dir/images`` and write ``out_dir/photos.jsonl``; returns the dataset path."""
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, sample in IMAGES.items():
        target = images / name
        source = sample_path(sample)
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
    dataset = out_dir / "photos.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    try:
        dataset = build(args.out_dir)
    except ImageError as exc:
        print(f"make_photos_set: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {dataset} ({len(QUESTIONS)} questions, {len(IMAGES)} images in {dataset.parent / 'images'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
