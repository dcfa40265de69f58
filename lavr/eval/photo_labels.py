"""The labelled photo set: hand counts of COCO objects in the photos that ship inside installed packages.

The data and its counting rule are in ``examples/eval/photos_labels.yaml``; this module loads and validates it
and scores detections against it by counts (boxes are not annotated):

    labels = load_photo_labels()
    scores = score_counts(labels, {"bus": {"person": 4, "bus": 1}, ...})
    scores["bus"].precision, scores["bus"].recall

A class's detections in a photo are matched to its hand count: ``min(n, objects)`` are right, those beyond
``objects + difficult`` are false positives, and objects no detection covers are misses. ``difficult`` objects
(mostly hidden, tiny, or of a debatable class) neither count as misses nor make a detection wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..tools.detect import COCO_LABELS

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "examples" / "eval" / "photos_labels.yaml"
PERSON = "person"

Count = dict[str, int]


class PersonLabel(BaseModel):
    """What can be seen of one counted person; a key is absent when the photo does not show it."""

    model_config = ConfigDict(extra="forbid")

    posture: Literal["standing", "sitting", "lying"] | None = None
    facing: Literal["camera", "away", "side"] | None = None
    expression: Literal["happy", "neutral", "sad", "angry", "surprised", "fearful", "disgusted"] | None = None
    age: Literal["child", "teen", "adult", "elderly"] | None = None


def _check_counts(value: Count) -> Count:
    unknown = sorted(set(value) - set(COCO_LABELS))
    if unknown:
        raise ValueError(f"not COCO labels: {', '.join(unknown)}")
    if any(n < 0 for n in value.values()):
        raise ValueError("counts must be >= 0")
    return value


class PhotoLabels(BaseModel):
    """One photo's hand counts by COCO label, its difficult objects, notes and people."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["photo", "texture", "micrograph", "astronomy", "document"]
    objects: Count = Field(default_factory=dict)
    difficult: Count = Field(default_factory=dict)
    notes: str = ""
    people: list[PersonLabel] = Field(default_factory=list)
    faces: int = Field(0, ge=0, description="Human faces visible (eyes, nose and mouth seen), for the face detector.")
    faces_difficult: int = Field(0, ge=0, description="Faces a face detector may fairly find or miss.")

    _counts = field_validator("objects", "difficult")(_check_counts)

    @model_validator(mode="after")
    def _people_match_count(self) -> PhotoLabels:
        if self.people and len(self.people) != self.objects.get(PERSON, 0):
            raise ValueError(f"{len(self.people)} people described, {self.objects.get(PERSON, 0)} counted")
        return self

    def count_ok(self, label: str, n: int) -> bool:
        """Whether ``n`` detections of ``label`` agree with the hand count (difficult objects may be found)."""
        t = self.objects.get(label, 0)
        return t <= n <= t + self.difficult.get(label, 0)


class LabelledPhotos(BaseModel):
    """The whole set: photo name (a ``lavr.samples`` name) -> its labels."""

    model_config = ConfigDict(extra="forbid")

    photos: dict[str, PhotoLabels]

    def classes_present(self) -> list[str]:
        """Labels with at least one counted (not difficult) object, in COCO order."""
        present = {label for p in self.photos.values() for label, n in p.objects.items() if n > 0}
        return [label for label in COCO_LABELS if label in present]


def load_photo_labels(path: Path | None = None) -> LabelledPhotos:
    """Load and validate the labelled photo set (default: the repository's ``examples/eval/photos_labels.yaml``)."""
    source = path or DEFAULT_PATH
    return LabelledPhotos.model_validate(yaml.safe_load(source.read_text(encoding="utf-8")))


class ClassScore(BaseModel):
    """Count-matched detections of one class over the set."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def match_counts(labels: PhotoLabels, detected: Count) -> dict[str, ClassScore]:
    """One photo: per label, right detections, false positives and misses (see the module docstring)."""
    out: dict[str, ClassScore] = {}
    for label in sorted(set(labels.objects) | set(detected)):
        n, t = detected.get(label, 0), labels.objects.get(label, 0)
        tp = min(n, t)
        score = ClassScore(tp=tp, fp=max(0, n - t - labels.difficult.get(label, 0)), fn=t - tp)
        if score.tp or score.fp or score.fn:
            out[label] = score
    return out


def score_counts(labels: LabelledPhotos, detected: dict[str, Count]) -> dict[str, ClassScore]:
    """Per-class scores summed over the photos in ``detected`` (photo name -> label -> detections)."""
    totals: dict[str, ClassScore] = {}
    for name, counts in detected.items():
        for label, s in match_counts(labels.photos[name], counts).items():
            total = totals.setdefault(label, ClassScore())
            total.tp, total.fp, total.fn = total.tp + s.tp, total.fp + s.fp, total.fn + s.fn
    return totals
