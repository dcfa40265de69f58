#!/usr/bin/env python
"""Choose the people thresholds on data: run the real person detector and face detector on the photos that
ship inside packages, compare their counts with the truth below, and print the thresholds that fit best.

Usage: python scripts/choose_thresholds.py [--json]

What it chooses (the values in ``lavr/settings.py`` cite this script):
1. ``detector_confidence``: the person detector's score threshold, alone (after per-label NMS).
2. ``face_confidence``: the face detector's score threshold, against the visible faces.
3. ``person_alone_confidence`` and ``person_alone_min_aspect``: when a person box without a face counts as a
   person in the ``people`` tool (every face counts; see ``lavr/tools/evidence.py``).

Each threshold minimises the summed absolute count error over the photos. A count only changes at a score, so
the candidates are the gaps between consecutive scores; among equally good gaps the widest wins and the
threshold is its middle (the most margin on both sides). For the people rule the simpler rule (no shape
condition) wins ties. Eleven photos are little data: the script prints every alternative's error, so the
choice can be judged and redone on more photos.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lavr.samples import sample_path
from lavr.schema import Detection
from lavr.settings import Settings
from lavr.tools.base import RunContext
from lavr.tools.detect import PREDICT_CONF, DetectTool, nms_per_label
from lavr.tools.evidence import elongation, link_faces
from lavr.tools.faces import FacesTool

# photo -> (people, visible faces), checked by looking at each photo.
TRUTH: dict[str, tuple[int, int]] = {
    "bus": (4, 2),  # 4 people; the two men on the left face the camera, the right one is turned away and cut by
    #                 the border, the leftmost shows only an arm and a leg
    "zidane": (2, 2),  # two men; the crowd behind is blurred beyond recognition
    "astronaut": (1, 1),
    "grace_hopper": (1, 1),
    "camera": (1, 1),  # the cameraman
    "chelsea": (0, 0),  # a cat
    "coffee": (0, 0),
    "flower": (0, 0),
    "rocket": (0, 0),
    "motorcycle": (0, 0),
    "china": (0, 0),
}


@dataclass
class Photo:
    name: str
    size: tuple[int, int]
    raw_persons: list[float]  # person scores before NMS
    persons: list[Detection]  # after per-label NMS, down to the prediction floor
    faces: list[Detection]  # down to the cascade's last-stage threshold


@dataclass
class Choice:
    threshold: float
    error: int
    gap: tuple[float, float]  # any threshold in (low, high] gives the same counts
    counts: dict[str, int]
    alternatives: list[tuple[float, float, int]] = field(default_factory=list)  # (low, high, error) per gap


def measure(settings: Settings) -> list[Photo]:
    """Run both detectors through lavr's own code paths (image loading, caching off, NMS)."""
    detector, faces_tool = DetectTool(settings), FacesTool(settings)
    ctx = RunContext(settings)
    photos = []
    for name in TRUTH:
        stored = ctx.images.add(sample_path(name))
        raw = detector.detect_raw(stored.id, ctx, conf=PREDICT_CONF)
        kept = nms_per_label(raw.detections)
        persons = [Detection(id=f"p{i}", image=stored.id, label=d.label, confidence=d.confidence, box=d.box,
                             attributes=d.attributes) for i, d in enumerate(kept) if d.label == "person"]
        faces = [Detection(id=f"f{i}", image=stored.id, label="face", confidence=f.confidence, box=f.box)
                 for i, f in enumerate(faces_tool.faces_raw(stored.id, ctx).faces)]
        photos.append(Photo(name=name, size=stored.size, persons=persons, faces=faces,
                            raw_persons=sorted((d.confidence for d in raw.detections if d.label == "person"),
                                               reverse=True)))
    return photos


def choose_threshold(scores: dict[str, list[float]], target: dict[str, int]) -> Choice:
    """The threshold whose counts (scores >= threshold) are closest to ``target``, summed over photos."""
    cuts = sorted({0.0, 1.0, *(s for values in scores.values() for s in values)})
    gaps = []
    for low, high in zip(cuts, cuts[1:]):
        counts = {k: sum(s > low for s in v) for k, v in scores.items()}  # constant for t in (low, high]
        gaps.append((sum(abs(counts[k] - target[k]) for k in scores), -(high - low), low, high, counts))
    error, _, low, high, counts = min(gaps, key=lambda g: (g[0], g[1]))
    threshold = round((low + high) / 2, 2)
    if not low < threshold <= high:
        threshold = round((low + high) / 2, 4)
    return Choice(threshold=threshold, error=error, gap=(low, high), counts=counts,
                  alternatives=[(g[2], g[3], g[0]) for g in gaps])


@dataclass
class PeopleRule:
    confidence: Choice
    min_aspect: float
    aspect_gap: tuple[float, float]


def faceless_boxes(photo: Photo, face_threshold: float) -> tuple[list[Detection], int]:
    """Person boxes no face is linked to, and the number of faces, at a face threshold."""
    faces = [f for f in photo.faces if f.confidence >= face_threshold]
    linking = link_faces(photo.persons, faces)
    return [p for p in photo.persons if p.id in linking.persons_without_face], len(faces)


def choose_people_rule(photos: list[Photo], face_threshold: float) -> PeopleRule:
    """Which person boxes without a face count: confidence and elongation thresholds, on the people truth.

    Each gap between consecutive elongations gives a confidence choice; neighbouring gaps with the same choice
    are merged, so each candidate is a rectangle of equivalent (elongation, confidence) rules. The fewest errors
    win; then a rule without a shape condition (the rectangle starting at elongation 0); then the largest
    rectangle, its elongation side measured in log (elongation is a ratio: 1 -> 2 is as far as 2 -> 4). The
    elongation threshold is the geometric middle of its side.
    """
    alone, target = {}, {}
    for photo in photos:
        boxes, n_faces = faceless_boxes(photo, face_threshold)
        alone[photo.name] = [(b.confidence, elongation(b, photo.size)) for b in boxes]
        target[photo.name] = TRUTH[photo.name][0] - n_faces
    aspects = sorted({0.0, *(a for v in alone.values() for _, a in v)})
    merged: list[tuple[float, float, Choice]] = []  # (aspect low, aspect high, choice)
    for low, high in zip(aspects, [*aspects[1:], max(aspects)]):
        choice = choose_threshold({k: [c for c, a in v if a > low] for k, v in alone.items()}, target)
        if merged and (merged[-1][2].error, merged[-1][2].gap) == (choice.error, choice.gap):
            merged[-1] = (merged[-1][0], high, choice)
        else:
            merged.append((low, high, choice))

    def key(item: tuple[float, float, Choice]) -> tuple[int, bool, float]:
        low, high, choice = item
        if low == 0.0:
            return choice.error, False, 0.0
        return choice.error, True, -math.log(high / low) * (choice.gap[1] - choice.gap[0])

    low, high, choice = min(merged, key=key)
    aspect = 0.0 if low == 0.0 else round(math.sqrt(low * high), 2)
    return PeopleRule(confidence=choice, min_aspect=aspect, aspect_gap=(low, high))


@dataclass
class Choices:
    detector: Choice
    face: Choice
    people: PeopleRule


def choose_all(photos: list[Photo]) -> Choices:
    detector = choose_threshold({p.name: [d.confidence for d in p.persons] for p in photos},
                                {p.name: TRUTH[p.name][0] for p in photos})
    face = choose_threshold({p.name: [f.confidence for f in p.faces] for p in photos},
                            {p.name: TRUTH[p.name][1] for p in photos})
    return Choices(detector=detector, face=face, people=choose_people_rule(photos, face.threshold))


def people_counts(photos: list[Photo], choices: Choices) -> dict[str, tuple[int, int, int, int]]:
    """Per photo: (confirmed by a face, boxes counted alone, faces alone, total) under the chosen rule."""
    from lavr.tools.evidence import count_people

    out = {}
    for p in photos:
        faces = [f for f in p.faces if f.confidence >= choices.face.threshold]
        r = count_people(p.persons, faces, p.size, alone_confidence=choices.people.confidence.threshold,
                         alone_min_aspect=choices.people.min_aspect)
        out[p.name] = (len(r.confirmed), len(r.boxes_counted_alone), len(r.faces_alone), r.count)
    return out


def report(photos: list[Photo], c: Choices) -> str:
    lines = ["photo         truth people/faces | person scores raw -> after NMS | faces | detect count | "
             "people: confirmed+alone+face-only = total"]
    counted = people_counts(photos, c)
    for p in photos:
        people, n_faces = TRUTH[p.name]
        raw = ", ".join(f"{s:.2f}" for s in p.raw_persons) or "-"
        nms = ", ".join(f"{d.confidence:.2f}" for d in sorted(p.persons, key=lambda d: -d.confidence)) or "-"
        faces = ", ".join(f"{f.confidence:.3f}" for f in sorted(p.faces, key=lambda f: -f.confidence)) or "-"
        conf, alone, face_only, total = counted[p.name]
        lines.append(f"{p.name:<13} {people}/{n_faces} | {raw} -> {nms} | {faces} | {c.detector.counts[p.name]} | "
                     f"{conf}+{alone}+{face_only} = {total}{'' if total == people else '  (wrong)'}")
    d, f, r = c.detector, c.face, c.people
    lines += [
        "",
        f"detector_confidence = {d.threshold}  (count error {d.error}; any threshold in ({d.gap[0]:.4f}, "
        f"{d.gap[1]:.4f}] gives the same counts)",
        f"face_confidence = {f.threshold}  (count error {f.error}; gap ({f.gap[0]:.4f}, {f.gap[1]:.4f}])",
        f"person_alone_confidence = {r.confidence.threshold}, person_alone_min_aspect = {r.min_aspect}  "
        f"(people count error {r.confidence.error}; confidence gap ({r.confidence.gap[0]:.4f}, "
        f"{r.confidence.gap[1]:.4f}], shape gap ({r.aspect_gap[0]:.2f}, {r.aspect_gap[1]:.2f}])",
        "",
        "detector threshold alternatives (gap: error): " + "; ".join(
            f"({lo:.2f}, {hi:.2f}]: {e}" for lo, hi, e in d.alternatives),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the choices as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        photos = measure(Settings(data_dir=Path(tmp)))
    choices = choose_all(photos)
    if args.json:
        print(json.dumps({"detector_confidence": choices.detector.threshold,
                          "face_confidence": choices.face.threshold,
                          "person_alone_confidence": choices.people.confidence.threshold,
                          "person_alone_min_aspect": choices.people.min_aspect}))
    else:
        print(report(photos, choices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
