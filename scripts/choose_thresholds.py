#!/usr/bin/env python
"""Choose the detector's fusion and thresholds on data: the labelled photo set (examples/eval/photos_labels.yaml).

Usage: python scripts/choose_thresholds.py [--json] [--candidates FILE] [--no-coco]

It runs the real experts once per photo through lavr's own code (CenterNet, NanoDet and the person detector down
to a low floor, and the face detector), keeps their raw outputs (``--candidates FILE`` stores them and reuses
them on the next run), then chooses, in order:
1. The fusion (``lavr.tools.fusion``): each model's weight, the same-label IoU and the conflict IoU, together
   with ``detect``'s score threshold: the combination whose counts make the fewest errors over every photo and
   class (false positives + misses, difficult objects neither; ``lavr/eval/photo_labels.py``). Then the lower
   threshold for things people wear inside a person's box (``worn_confidence``, ``lavr.tools.detections.WORN``).
2. ``face_confidence``: the face detector's threshold, against the visible faces.
3. ``person_alone_confidence`` and ``person_alone_min_aspect``: when a fused person box without a face counts
   as a person in the ``people`` tool (every face counts; ``lavr/tools/evidence.py``), against the people counts.

A count only changes at a score, so threshold candidates are the gaps between consecutive scores; among equally
good choices the widest gap wins and the threshold is its middle (the most margin on both sides). ``--keep-fusion``
keeps the fusion in ``lavr.tools.coco_fusion.FUSION`` and only chooses the thresholds (the grid takes minutes). With
``--no-coco`` only the person detector runs (the thresholds of ``lavr.tools.yolo.YOLO_DEFAULTS``). The script
prints the choice, the errors of the alternatives, per-class precision and recall, and a per-photo table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lavr.errors import ImageError
from lavr.eval.photo_labels import LabelledPhotos, PhotoLabels, load_photo_labels, match_counts, score_counts
from lavr.samples import sample_path
from lavr.schema import Detection
from lavr.settings import Settings
from lavr.tools.base import RunContext
from lavr.tools.coco_fusion import FLOOR, FUSION, PERSON_MODEL, FusedDetector
from lavr.tools.detect import COCO_LABELS
from lavr.tools.detections import WORN, DetectorDefaults, RawDetection, kept_detections
from lavr.tools.evidence import (
    ANIMALS,
    MIN_CONTAINMENT,
    containment,
    count_people,
    elongation,
    faceless_exclusions,
    link_faces,
)
from lavr.tools.faces import FacesTool
from lavr.tools.fusion import Candidate, Fused, FusionParams, fuse
from lavr.tools.yolo import YoloDetector, fall_detector_weights

PERSON = "person"
WEIGHTS = (0.0, 0.5, 1.0, 2.0)
IOUS = (0.45, 0.55, 0.65)
CONFLICT_IOUS = (0.5, 0.6, 0.7, 0.8, 1.0)  # 1.0: labels never suppress each other (boxes are never that equal)


@dataclass
class Photo:
    name: str
    size: tuple[int, int]
    candidates: list[Candidate]
    faces: list[Detection]  # down to the cascade's last-stage threshold


# 0. Measuring ------------------------------------------------------------------------------------------------

def measure(settings: Settings, labels: LabelledPhotos, *, coco: bool) -> list[Photo]:
    """Every model's raw output on every labelled photo whose package is installed."""
    fused = FusedDetector(settings) if coco else None
    fall = fall_detector_weights()
    person = fused.person if fused else (YoloDetector(settings, fall, "person detector") if fall else None)
    faces_tool = FacesTool(settings)
    ctx = RunContext(settings)
    photos = []
    for name in labels.photos:
        try:
            stored = ctx.images.add(sample_path(name))
        except ImageError as exc:
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        if fused is not None:
            candidates = fused.candidates(stored.pil)
        else:
            [people] = person.predict([stored.pil], conf=FLOOR) if person else [None]
            candidates = [Candidate(model=PERSON_MODEL, label=d.label, score=d.confidence, box=d.box,
                                    attributes=d.attributes) for d in (people.detections if people else [])]
        faces = [Detection(id=f"f{i}", image=stored.id, label="face", confidence=f.confidence, box=f.box)
                 for i, f in enumerate(faces_tool.faces_raw(stored.id, ctx).faces)]
        photos.append(Photo(name=name, size=stored.size, candidates=candidates, faces=faces))
    return photos


def save(photos: list[Photo], path: Path) -> None:
    path.write_text(json.dumps([{"name": p.name, "size": p.size,
                                 "candidates": [c.model_dump(mode="json") for c in p.candidates],
                                 "faces": [f.model_dump(mode="json") for f in p.faces]} for p in photos]))


def load(path: Path) -> list[Photo]:
    return [Photo(name=p["name"], size=tuple(p["size"]), candidates=[Candidate(**c) for c in p["candidates"]],
                  faces=[Detection(**f) for f in p["faces"]]) for p in json.loads(path.read_text())]


# 1. Thresholds from score gaps ---------------------------------------------------------------------------------

@dataclass
class Choice:
    threshold: float
    error: int
    gap: tuple[float, float]  # any threshold in (low, high] gives the same counts
    alternatives: list[tuple[float, float, int]] = field(default_factory=list)  # (low, high, error) per gap


def gap_middle(low: float, high: float) -> float:
    threshold = round((low + high) / 2, 2)
    return threshold if low < threshold <= high else round((low + high) / 2, 4)


def choose_threshold(scores: dict[str, list[float]], error_of) -> Choice:
    """The threshold whose kept scores (score > low) make the fewest errors, ``error_of(photo -> kept count)``."""
    cuts = sorted({0.0, 1.0, *(s for values in scores.values() for s in values)})
    gaps = []
    for low, high in zip(cuts, cuts[1:]):
        counts = {k: sum(s > low for s in v) for k, v in scores.items()}
        gaps.append((error_of(counts), -(high - low), low, high))
    error, _, low, high = min(gaps)
    return Choice(threshold=gap_middle(low, high), error=error, gap=(low, high),
                  alternatives=[(g[2], g[3], g[0]) for g in gaps])


def range_error(n: int, low: int, high: int) -> int:
    """How far a count is from the allowed range (hand count .. hand count + difficult)."""
    return max(0, low - n, n - high)


# 2. The fusion -------------------------------------------------------------------------------------------------

KNOWN = {"centernet": COCO_LABELS, "nanodet": COCO_LABELS, PERSON_MODEL: (PERSON,)}


@dataclass
class FusionChoice:
    params: FusionParams
    confidence: Choice
    fused: dict[str, list[Fused]]
    ranking: list[tuple[int, float, FusionParams, float]]  # (error, -gap width, params, threshold), best first


def count_error(photo: PhotoLabels, label: str, n: int) -> int:
    """False positives + misses of ``n`` detections of ``label`` on one photo."""
    return sum(x.fp + x.fn for x in match_counts(photo, {label: n}).values())


def best_threshold(labels: LabelledPhotos, fused: dict[str, list[Fused]]) -> Choice:
    """The detect threshold with the fewest count errors over every photo and class, in one sweep down the
    scores (a count changes only where an object's score is passed)."""
    objects = sorted(((f.score, name, f.label) for name, found in fused.items() for f in found), reverse=True)
    counts: Counter[tuple[str, str]] = Counter()
    error = sum(n for name in fused for n in labels.photos[name].objects.values())  # nothing kept: all missed
    gaps = []  # (error, low, high): thresholds in (low, high] keep exactly the objects scoring above low
    high = 1.0
    for score, name, label in objects:
        if score < high:
            gaps.append((error, score, high))
            high = score
        photo = labels.photos[name]
        before = count_error(photo, label, counts[(name, label)])
        counts[(name, label)] += 1
        error += count_error(photo, label, counts[(name, label)]) - before
    gaps.append((error, 0.0, high))
    best_error, low, high = min(gaps, key=lambda g: (g[0], -(g[2] - g[1])))
    return Choice(threshold=gap_middle(low, high), error=best_error, gap=(low, high),
                  alternatives=[(lo, hi, e) for e, lo, hi in reversed(gaps)])


def kept(fused: list[Fused], confidence: float, worn: float | None) -> list[RawDetection]:
    raw = [RawDetection(label=f.label, confidence=f.score, box=f.box) for f in fused]
    return kept_detections(raw, DetectorDefaults(confidence=confidence, worn_confidence=worn,
                                                 person_alone_confidence=0.0, person_alone_min_aspect=0.0))


def choose_worn(labels: LabelledPhotos, fused: dict[str, list[Fused]], confidence: float) -> Choice:
    """The threshold for worn things inside a kept person's box: the fewest count errors over every photo and
    class; the candidates are the gaps between their scores (none kept: the gap above them all)."""
    scores = sorted({f.score for found in fused.values() for f in found if f.label in WORN and f.score < confidence})
    cuts = [0.0, *scores, confidence]

    def errors(worn: float) -> int:
        total = 0
        for name, found in fused.items():
            counts = Counter(d.label for d in kept(found, confidence, worn))
            total += sum(x.fp + x.fn for x in match_counts(labels.photos[name], counts).values())
        return total

    gaps = [(errors(gap_middle(low, high)), -(high - low), low, high) for low, high in zip(cuts, cuts[1:])
            if high > low]
    error, _, low, high = min(gaps)
    return Choice(threshold=gap_middle(low, high), error=error, gap=(low, high),
                  alternatives=[(g[2], g[3], g[0]) for g in gaps])


def fusion_grid(photos: list[Photo]) -> list[FusionParams]:
    models = sorted({c.model for p in photos for c in p.candidates})
    grid = []
    for weights in itertools.product(WEIGHTS, repeat=len(models)):
        if not any(weights):
            continue
        for iou, conflict in itertools.product(IOUS, CONFLICT_IOUS):
            grid.append(FusionParams(weights=dict(zip(models, weights)), iou=iou, conflict_iou=conflict, floor=FLOOR))
    return grid


def choose_fusion(photos: list[Photo], labels: LabelledPhotos, *,
                  grid: list[FusionParams] | None = None) -> FusionChoice:
    """The fusion parameters and detect threshold with the fewest count errors (module docstring)."""
    ranking = []
    results = {}
    for params in grid or fusion_grid(photos):
        fused = {p.name: fuse(p.candidates, params, KNOWN) for p in photos}
        choice = best_threshold(labels, fused)
        key = json.dumps(params.model_dump(), sort_keys=True)
        results[key] = (choice, fused)
        # fewest errors; then the widest threshold gap; then equal weights (the simplest)
        spread = len(set(params.weights.values()))
        ranking.append((choice.error, -(choice.gap[1] - choice.gap[0]), spread, key, params, choice.threshold))
    ranking.sort(key=lambda r: r[:4])
    _, _, _, key, params, _ = ranking[0]
    choice, fused = results[key]
    return FusionChoice(params=params, confidence=choice, fused=fused,
                        ranking=[(r[0], r[1], r[4], r[5]) for r in ranking])


# 3. Faces and the people rule ---------------------------------------------------------------------------------

def choose_faces(photos: list[Photo], labels: LabelledPhotos) -> Choice:
    def error_of(counts: dict[str, int]) -> int:
        return sum(range_error(n, labels.photos[k].faces, labels.photos[k].faces + labels.photos[k].faces_difficult)
                   for k, n in counts.items())

    return choose_threshold({p.name: [f.confidence for f in p.faces] for p in photos}, error_of)


def person_boxes(photo: Photo, fused: list[Fused]) -> list[Detection]:
    return [Detection(id=f"p{i}", image="img", label=PERSON, confidence=f.score, box=f.box, attributes=f.attributes)
            for i, f in enumerate(fused) if f.label == PERSON]


def animal_boxes(fused: list[Fused], threshold: float) -> list[Detection]:
    return [Detection(id=f"a{i}", image="img", label=f.label, confidence=f.score, box=f.box)
            for i, f in enumerate(fused) if f.label in ANIMALS and f.score >= threshold]


def counted_faces(photo: Photo, persons: list[Detection], animals: list[Detection], threshold: float) -> int:
    """Faces that count as people: linked to a person box, or alone and not inside an animal's box."""
    faces = [f for f in photo.faces if f.confidence >= threshold]
    linking = link_faces(persons, faces)
    lone = [f for f in faces if f.id in linking.faces_without_person]
    on_animals = [f for f in lone if any(containment(f.box, a.box) >= MIN_CONTAINMENT for a in animals)]
    return len(faces) - len(on_animals)


@dataclass
class PeopleRule:
    confidence: Choice
    min_aspect: float
    aspect_gap: tuple[float, float]


def people_range(photo: PhotoLabels) -> tuple[int, int]:
    return photo.objects.get(PERSON, 0), photo.objects.get(PERSON, 0) + photo.difficult.get(PERSON, 0)


def choose_people_rule(photos: list[Photo], labels: LabelledPhotos, fused: dict[str, list[Fused]],
                       face_threshold: float, detect_threshold: float) -> PeopleRule:
    """Which person boxes without a face count: confidence and elongation thresholds, on the people counts.

    Each gap between consecutive elongations gives a confidence choice; neighbouring gaps with the same choice
    are merged, so each candidate is a rectangle of equivalent (elongation, confidence) rules. The fewest errors
    win; then a rule without a shape condition; then the largest rectangle, its elongation side measured in log
    (elongation is a ratio). The elongation threshold is the geometric middle of its side.
    """
    alone, needed = {}, {}
    for photo in photos:
        faces = [f for f in photo.faces if f.confidence >= face_threshold]
        persons = person_boxes(photo, fused[photo.name])
        animals = animal_boxes(fused[photo.name], detect_threshold)
        linking = link_faces(persons, faces)
        excluded = faceless_exclusions(persons, linking, animals)
        boxes = [p for p in persons if p.id in linking.persons_without_face and p.id not in excluded]
        alone[photo.name] = [(b.confidence, elongation(b, photo.size)) for b in boxes]
        low, high = people_range(labels.photos[photo.name])
        n_faces = counted_faces(photo, persons, animals, face_threshold)
        needed[photo.name] = (low - n_faces, high - n_faces)
    aspects = sorted({0.0, *(a for v in alone.values() for _, a in v)})

    def error_of(counts: dict[str, int]) -> int:
        return sum(range_error(n, *needed[k]) for k, n in counts.items())

    merged: list[tuple[float, float, Choice]] = []
    for low, high in zip(aspects, [*aspects[1:], max(aspects)]):
        choice = choose_threshold({k: [c for c, a in v if a > low] for k, v in alone.items()}, error_of)
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


# 4. The report -------------------------------------------------------------------------------------------------

@dataclass
class Choices:
    fusion: FusionChoice
    worn: Choice
    face: Choice
    people: PeopleRule


def choose_all(photos: list[Photo], labels: LabelledPhotos, *, keep_fusion: bool = False) -> Choices:
    fusion = choose_fusion(photos, labels, grid=[FUSION] if keep_fusion else None)
    worn = choose_worn(labels, fusion.fused, fusion.confidence.threshold)
    face = choose_faces(photos, labels)
    people = choose_people_rule(photos, labels, fusion.fused, face.threshold, fusion.confidence.threshold)
    return Choices(fusion=fusion, worn=worn, face=face, people=people)


def people_count(photo: Photo, fused: list[Fused], c: Choices) -> int:
    faces = [f for f in photo.faces if f.confidence >= c.face.threshold]
    return count_people(person_boxes(photo, fused), faces, photo.size,
                        alone_confidence=c.people.confidence.threshold, alone_min_aspect=c.people.min_aspect,
                        animals=animal_boxes(fused, c.fusion.confidence.threshold)).count


def detected_counts(fused: list[Fused], c: Choices) -> dict[str, int]:
    worn = c.worn.threshold if c.worn.threshold < c.fusion.confidence.threshold else None
    return dict(Counter(d.label for d in kept(fused, c.fusion.confidence.threshold, worn)))


def fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def report(photos: list[Photo], labels: LabelledPhotos, c: Choices) -> str:
    f = c.fusion
    detected = {p.name: detected_counts(f.fused[p.name], c) for p in photos}
    scores = score_counts(labels, detected)
    present = [k for k in labels.classes_present() if any(labels.photos[p.name].objects.get(k) for p in photos)]
    lines = ["per class (detect at the chosen threshold; counts matched per photo, difficult objects neither way):",
             "class            TP  FP  FN  precision  recall"]
    for label in [*present, *sorted(set(scores) - set(present), key=COCO_LABELS.index)]:
        s = scores.get(label)
        tp, fp, fn = (s.tp, s.fp, s.fn) if s else (0, 0, 0)
        extra = "" if label in present else "  (not in the set)"
        lines.append(f"{label:<15} {tp:>3} {fp:>3} {fn:>3}    {fmt(s.precision if s else None)}    "
                     f"{fmt(s.recall if s else None)}{extra}")
    lines += ["", "photo             hand counts (+difficult)                      "
                  "| detect                              | people (faces) "]
    for p in photos:
        photo = labels.photos[p.name]
        hand = ", ".join(f"{k}={v}" for k, v in sorted(photo.objects.items())) or "-"
        if photo.difficult:
            hand += " (+" + ", ".join(f"{k}={v}" for k, v in sorted(photo.difficult.items())) + ")"
        found = ", ".join(f"{k}={v}" for k, v in sorted(detected[p.name].items())) or "-"
        n = people_count(p, f.fused[p.name], c)
        low, high = people_range(photo)
        faces = sum(x.confidence >= c.face.threshold for x in p.faces)
        mark = "" if low <= n <= high else "  (people wrong)"
        lines.append(f"{p.name:<17} {hand:<45} | {found:<35} | {n} ({faces}){mark}")
    params = f.params
    lines += [
        "",
        f"fusion: weights {params.weights}, iou {params.iou}, conflict_iou {params.conflict_iou}; "
        f"detect confidence = {f.confidence.threshold} (count errors {f.confidence.error}; any threshold in "
        f"({f.confidence.gap[0]:.4f}, {f.confidence.gap[1]:.4f}] is equivalent)",
        f"worn_confidence = {c.worn.threshold}  (count errors {c.worn.error}; gap ({c.worn.gap[0]:.4f}, "
        f"{c.worn.gap[1]:.4f}]; alternatives: " + "; ".join(f"({lo:.2f}, {hi:.2f}]: {e}" for lo, hi, e in
                                                             c.worn.alternatives) + ")",
        f"face_confidence = {c.face.threshold}  (count error {c.face.error}; gap ({c.face.gap[0]:.4f}, "
        f"{c.face.gap[1]:.4f}])",
        f"person_alone_confidence = {c.people.confidence.threshold}, person_alone_min_aspect = {c.people.min_aspect}"
        f"  (people count error {c.people.confidence.error}; confidence gap ({c.people.confidence.gap[0]:.4f}, "
        f"{c.people.confidence.gap[1]:.4f}], shape gap ({c.people.aspect_gap[0]:.2f}, {c.people.aspect_gap[1]:.2f}])",
        "",
        f"fusion alternatives ({len(f.ranking)}), best 15 and the equal-weight ones (errors, threshold):",
    ]
    shown = f.ranking[:15] + [r for r in f.ranking[15:] if len(set(r[2].weights.values())) == 1]
    for error, neg_gap, p, threshold in shown:
        lines.append(f"  {error:>3}  t={threshold:<6} gap {-neg_gap:.4f}  weights {p.weights} iou {p.iou} "
                     f"conflict {p.conflict_iou}")
    lines.append("detect threshold alternatives at the chosen fusion (gap: errors): " + "; ".join(
        f"({lo:.2f}, {hi:.2f}]: {e}" for lo, hi, e in f.confidence.alternatives if hi - lo > 0.005 or e < 99))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the choices as JSON")
    parser.add_argument("--candidates", type=Path, help="store the models' raw outputs here, or reuse them")
    parser.add_argument("--no-coco", action="store_true", help="the person detector alone (no COCO models)")
    parser.add_argument("--keep-fusion", action="store_true",
                        help="keep lavr.tools.coco_fusion.FUSION (skip the grid, minutes) and choose the thresholds")
    args = parser.parse_args(argv)
    labels = load_photo_labels()
    if args.candidates and args.candidates.is_file():
        photos = load(args.candidates)
    else:
        photos = measure(Settings(), labels, coco=not args.no_coco)  # no expert cache: RunContext has none
        if args.candidates:
            save(photos, args.candidates)
    choices = choose_all(photos, labels, keep_fusion=args.keep_fusion)
    if args.json:
        f = choices.fusion
        print(json.dumps({"fusion": f.params.model_dump(), "detector_confidence": f.confidence.threshold,
                          "worn_confidence": choices.worn.threshold,
                          "face_confidence": choices.face.threshold,
                          "person_alone_confidence": choices.people.confidence.threshold,
                          "person_alone_min_aspect": choices.people.min_aspect}))
    else:
        print(report(photos, labels, choices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
