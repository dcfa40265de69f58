#!/usr/bin/env python
"""Per-class precision and recall of lavr's detector on the labelled photo set, as deployed (default settings).

Usage: python scripts/detection_report.py [--json] [--photos NAME,NAME] [--write-recall]

Runs the real tools through lavr's own code paths on every photo of ``examples/eval/photos_labels.yaml`` whose
package is installed, and scores by counts (see ``lavr/eval/photo_labels.py``):
- ``detect``: the detector's objects at its default threshold;
- ``scene graph``: what the query language counts: the scene graph's objects, people cross-checked with faces
  (faces themselves are not a COCO class and are left out).
Prints a per-class table for each, and a per-photo table (hand counts, what each found, the mistakes).
``--write-recall`` stores the scene graph's per-class recall in ``lavr/tools/coco_recall.json``: the labels whose
recall is below ``lavr.tools.coco_fusion.MIN_RECALL`` are those whose absence the query language does not take as
"none" (``often_missed``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from lavr.errors import ImageError
from lavr.eval.photo_labels import ClassScore, LabelledPhotos, load_photo_labels, score_counts
from lavr.samples import sample_path
from lavr.settings import Settings
from lavr.tools import RunContext, default_tools
from lavr.tools.coco_fusion import RECALL_FILE
from lavr.tools.detect import COCO_LABELS, DetectInput

FACE = "face"


def measure(settings: Settings, labels: LabelledPhotos, only: set[str] | None) -> dict[str, dict[str, dict]]:
    """photo -> {"detect": counts, "scene": counts}, for the photos whose package is installed."""
    tools = {t.name: t for t in default_tools(settings)}
    out: dict[str, dict[str, dict]] = {}
    for name in labels.photos:
        if only and name not in only:
            continue
        try:
            path = sample_path(name)
        except ImageError as exc:
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        ctx = RunContext(settings)
        image = ctx.images.add(path).id
        found = tools["detect"].run(DetectInput(image=image), ctx)
        detected = Counter(d.label for d in found.detections)
        scene = Counter(d["label"] for _, d in tools["scene_graph"].graph(image, ctx).nodes(data=True)
                        if d["label"] != FACE)
        out[name] = {"detect": dict(detected), "scene": dict(scene), "model": found.model}
    return out


def class_table(scores: dict[str, ClassScore], present: list[str]) -> list[str]:
    def fmt(v: float | None) -> str:
        return "  -  " if v is None else f"{v:.3f}"

    lines = ["class            TP  FP  FN  precision  recall"]
    for label in [*present, *sorted(set(scores) - set(present), key=COCO_LABELS.index)]:
        s = scores.get(label, ClassScore())
        mark = "" if label in present else "  (not in the set: only false positives)"
        lines.append(f"{label:<15} {s.tp:>3} {s.fp:>3} {s.fn:>3}    {fmt(s.precision)}    {fmt(s.recall)}{mark}")
    over = [scores.get(label, ClassScore()) for label in present]
    tp, fp, fn = sum(s.tp for s in over), sum(s.fp for s in scores.values()), sum(s.fn for s in over)
    lines.append(f"all classes     {tp:>3} {fp:>3} {fn:>3}    {fmt(tp / (tp + fp) if tp + fp else None)}    "
                 f"{fmt(tp / (tp + fn) if tp + fn else None)}")
    met = [label for label in present if (scores.get(label, ClassScore()).precision or 0) >= 0.9
           and (scores.get(label, ClassScore()).recall or 0) >= 0.8]
    lines.append(f"classes present meeting precision >= 0.9 and recall >= 0.8: {len(met)} of {len(present)}")
    return lines


def photo_table(labels: LabelledPhotos, measured: dict[str, dict[str, dict]]) -> list[str]:
    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(c.items())) or "-"

    lines = ["photo             hand counts (+difficult)                 | detect                         | "
             "scene graph                    | people right?"]
    for name, m in measured.items():
        photo = labels.photos[name]
        hand = counts(photo.objects) + (f" (+{counts(photo.difficult)})" if photo.difficult else "")
        people = m["scene"].get("person", 0)
        ok = "yes" if photo.count_ok("person", people) else f"NO ({people})"
        lines.append(f"{name:<17} {hand:<40} | {counts(m['detect']):<30} | {counts(m['scene']):<30} | {ok}")
    return lines


def write_recall(scores: dict[str, ClassScore], present: list[str], photos: int) -> None:
    """The per-class recall the fused detector reports with its detections (``FusedDetector.often_missed``)."""
    classes = {label: {"found": scores.get(label, ClassScore()).tp,
                       "there": scores.get(label, ClassScore()).tp + scores.get(label, ClassScore()).fn}
               for label in present}
    RECALL_FILE.write_text(json.dumps({"source": f"scripts/detection_report.py --write-recall: the scene graph on "
                                                 f"{photos} labelled photos (examples/eval/photos_labels.yaml)",
                                       "classes": classes}, indent=1) + "\n")
    print(f"wrote {RECALL_FILE}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the counts and scores as JSON")
    parser.add_argument("--photos", help="only these photos (comma-separated sample names)")
    parser.add_argument("--write-recall", action="store_true",
                        help="store the scene graph's per-class recall in lavr/tools/coco_recall.json")
    args = parser.parse_args(argv)
    labels = load_photo_labels()
    only = set(args.photos.split(",")) if args.photos else None
    measured = measure(Settings(), labels, only)  # no expert cache: each RunContext has none
    present = [c for c in labels.classes_present() if any(labels.photos[n].objects.get(c) for n in measured)]
    scores = {stage: score_counts(labels, {n: m[stage] for n, m in measured.items()}) for stage in ("detect", "scene")}
    if args.write_recall:
        if only:
            parser.error("--write-recall needs every photo (no --photos)")
        write_recall(scores["scene"], present, len(measured))
    if args.json:
        print(json.dumps({"photos": measured, "scores": {stage: {k: v.model_dump() for k, v in s.items()}
                                                         for stage, s in scores.items()}}, indent=1))
        return 0
    models = sorted({m["model"] for m in measured.values()})
    print(f"detector: {', '.join(models)}; {len(measured)} photos")
    for stage, title in (("detect", "detect (its default threshold)"),
                         ("scene", "scene graph (people cross-checked with faces)")):
        print(f"\n{title}")
        print("\n".join(class_table(scores[stage], present)))
    print()
    print("\n".join(photo_table(labels, measured)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
