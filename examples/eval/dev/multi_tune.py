#!/usr/bin/env python
"""A tuning set for questions about several images at once (every image, either, both, neither, only one), written
by the team, not blind: 126 questions over pairs of the dev scenes, each answer counted from the scenes' oracle
detections. The lexicon's readings of "either image contain", "at least one of the images", "counting both" and
"only one of the images" were tuned on it; the blind multi-image set stays the evaluation.

    python examples/eval/dev/build.py && python examples/eval/dev/multi_tune.py   # multi_tune.jsonl here
    lavr eval examples/eval/dev/multi_tune.jsonl --metric exact_match --no-cache
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = [("d0", "d1"), ("d2", "d3"), ("d4", "d5"), ("d1", "d3"), ("d0", "d5"), ("d2", "d4")]


def scenes() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for line in (HERE / "dev.jsonl").read_text().splitlines():
        for image in json.loads(line).get("images") or []:
            out[Path(image["image"]).stem] = image["precomputed"]
    return out


def main() -> None:
    found = scenes()

    def n(name: str, **want: str) -> int:
        objects = [dict(d["attributes"], label=d["label"]) for d in found[name]["detect"]["detections"]]
        return sum(all(o.get(k) == v for k, v in want.items()) for o in objects)

    rows: list[dict] = []
    for a, b in PAIRS:
        def total(a: str = a, b: str = b, **w: str) -> int:
            return n(a, **w) + n(b, **w)

        def both(a: str = a, b: str = b, **w: str) -> bool:
            return n(a, **w) > 0 and n(b, **w) > 0

        def only_one(a: str = a, b: str = b, **w: str) -> bool:
            return (n(a, **w) > 0) != (n(b, **w) > 0)

        asked = [
            ("total", "How many cubes are there across both images?", total(label="cube")),
            ("total", "Counting both pictures, how many metal things are there?", total(material="metal")),
            ("total", "What is the total number of small objects in the two images?", total(size="small")),
            ("total", "Altogether, how many spheres do the images show?", total(label="sphere")),
            ("total", "How many cylinders are there in all the photos?", total(label="cylinder")),
            ("total", "What is the combined number of rubber objects in these pictures?", total(material="rubber")),
            ("total", "How many large things do the two images have between them?", total(size="large")),
            ("total", "In total, how many blue things appear in the images?", total(color="blue")),
            ("both", "Is there a cylinder in both images?", both(label="cylinder")),
            ("both", "Does each picture contain a cyan object?", both(color="cyan")),
            ("both", "Do the two images both have a large rubber cube?", both(size="large", material="rubber",
                                                                            label="cube")),
            ("both", "Are there cubes in each of the images?", both(label="cube")),
            ("both", "Does every picture have a sphere?", both(label="sphere")),
            ("both", "Do both images include a metal object?", both(material="metal")),
            ("both", "Are there small cylinders in both pictures?", both(size="small", label="cylinder")),
            ("either", "Does either image contain a purple sphere?", total(color="purple", label="sphere") > 0),
            ("either", "Is there a yellow thing in at least one of the images?", total(color="yellow") > 0),
            ("either", "Is a green cube present in any of the pictures?", total(color="green", label="cube") > 0),
            ("either", "Can a red sphere be found in either picture?", total(color="red", label="sphere") > 0),
            ("neither", "Do neither of the pictures have a gray sphere?", total(color="gray", label="sphere") == 0),
            ("only_one", "Is there a brown cube in only one of the images?", only_one(color="brown", label="cube")),
        ]
        for kind, question, answer in asked:
            text = answer if isinstance(answer, int) and not isinstance(answer, bool) else ("yes" if answer else "no")
            rows.append({"id": f"multi-tune-{len(rows):03d}", "question": question, "answers": [str(text)],
                         "question_type": kind,
                         "images": [{"image": f"images/{x}.png", "precomputed": found[x]} for x in (a, b)]})
    out = HERE / "multi_tune.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} questions -> {out}")


if __name__ == "__main__":
    main()
