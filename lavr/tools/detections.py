"""What detectors report, before any tool filters it: the COCO vocabulary, label normalisation, raw detections.

Shared by every detector backend (``yolo``, ``coco_fusion``) and by ``detect``, which filters, registers and renders
them. Pure records and functions, no weights.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ..lexicon import COCO_LABELS
from ..lexicon.nouns import plural_candidates, singular
from ..schema import Box

# What a detector reports of the labels it often misses, carried by every model that passes detections on.
OftenMissed = Annotated[dict[str, tuple[int, int]], Field(
    description="Labels the detectors often miss: label -> (found, there) on the labelled photos; none of them "
    "found is no evidence that there is none.")]

# IoU above which two boxes with the same output label are one object. 0.7 is the IoU of ultralytics' own
# per-class NMS, so merging raw classes that map to one label (Normal and Fall are both `person`) behaves as if
# the model had been trained with that one class.
SAME_LABEL_IOU = 0.7

SYNONYMS = {"people": "person", "persons": "person", "man": "person", "men": "person", "woman": "person",
            "women": "person", "human": "person", "humans": "person", "pedestrian": "person", "child": "person",
            "children": "person", "kid": "person", "boy": "person", "girl": "person"}


# The 80 COCO labels (the lexicon's; ultralytics' coco.yaml, a test checks) are the vocabulary canonical_label
# keeps as is, so a singular that ends in "s" ("bus") is never "singularised" ("bu").


def canonical_label(word: str, vocabulary: Iterable[str] = ()) -> str:
    """Lower-case, singular, synonyms folded: ``People`` -> ``person``, ``buses`` -> ``bus``, ``bus`` -> ``bus``.

    A word that is a known label (COCO's, or one in ``vocabulary``, e.g. the detector's own labels) is kept as is;
    otherwise its singular (``lavr.lexicon.nouns``: the reading that is a known label when there is one), and when
    a plural of that singular is a known label (``ski`` -> ``skis``) the label, so both numbers of every label
    meet at one form.
    """
    w = " ".join(word.strip().lower().split())
    known = set(COCO_LABELS) | {" ".join(v.strip().lower().split()) for v in vocabulary}
    if w in SYNONYMS:
        return SYNONYMS[w]
    if w in known or not w:
        return w
    one = singular(w, known)
    one = SYNONYMS.get(one, one)
    if one not in known:
        return next((p for p in plural_candidates(one) if p in known), one)
    return one


class RawDetection(BaseModel):
    """One predicted (or precomputed) object. Precomputed ones may give the box as ``[x1, y1, x2, y2]`` (the box
    convention), omit the confidence (an oracle's: 1.0) and carry any attributes (color, size, material, ...)."""

    label: str = Field(min_length=1)
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    box: Box
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("box", mode="before")
    @classmethod
    def _box_from_list(cls, value: Any) -> Any:
        return Box.from_list(value) if isinstance(value, (list, tuple)) else value

    @field_validator("attributes", mode="before")
    @classmethod
    def _scalar_attributes(cls, value: Any) -> Any:
        # Precomputed attributes are often numbers or booleans; the scene graph compares them as text.
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else json.dumps(v) if isinstance(v, (bool, list, dict))
                    else str(v)
                    for k, v in value.items() if v is not None}
        return value


class RawDetections(BaseModel):
    """What the model predicted for one image, before filtering: this is what the cache stores.

    ``labels`` are the labels the detector can find. A precomputed result may declare them or not: its own
    detections' labels always count as known (they are added after the declared ones), so a seeded result answers
    any ``classes`` filter over its own labels, and a declared label it did not find counts as 0.
    ``model`` names where a precomputed result came from (the local detector's name when absent).
    ``often_missed``: what the detector's measured recall says about a label it did not find (a precomputed
    result has none: its absences are taken as given).
    """

    detections: list[RawDetection]
    labels: list[str] = Field(default_factory=list)
    model: str | None = None
    often_missed: OftenMissed = Field(default_factory=dict)

    @model_validator(mode="after")
    def _own_labels_are_known(self) -> RawDetections:
        labels, known = list(self.labels), {canonical_label(lbl) for lbl in self.labels}
        for det in self.detections:
            if canonical_label(det.label) not in known:
                known.add(canonical_label(det.label))
                labels.append(det.label)
        self.labels = labels
        return self


def nms_per_label(detections: list[RawDetection], *, iou: float = SAME_LABEL_IOU) -> list[RawDetection]:
    """Class-agnostic NMS within each output label: of two boxes of one label overlapping by more than ``iou``,
    keep the more confident. A no-op for detectors whose labels are their classes (their NMS already did it);
    for the person detector it merges a ``Normal`` and a ``Fall`` box on the same person."""
    kept: list[RawDetection] = []
    for det in sorted(detections, key=lambda d: -d.confidence):
        if all(k.label != det.label or k.box.iou(det.box) <= iou for k in kept):
            kept.append(det)
    return [d for d in detections if any(d is k for k in kept)]


class DetectorDefaults(BaseModel):
    """A detector backend's thresholds, chosen on data; the ``Settings`` of the same names override them."""

    confidence: float = Field(ge=0.0, le=1.0, description="detect's score threshold")
    worn_confidence: float | None = Field(None, ge=0.0, le=1.0, description=(
        "the threshold for things people wear (WORN) inside a person box that passes `confidence`"))
    person_alone_confidence: float = Field(ge=0.0, le=1.0, description="a person box without a face counts from...")
    person_alone_min_aspect: float = Field(ge=0.0, description="... when its height is this many times its width")
    person_conflict_iou: float | None = Field(None, gt=0.0, le=1.0, description=(
        "the scene graph gives a counted person the objects of other labels overlapping it this much"))

    def resolved(self, settings: Any) -> DetectorDefaults:
        """These values with any the settings set instead."""
        update = {k: getattr(settings, k) for k in ("person_alone_confidence", "person_alone_min_aspect")
                  if getattr(settings, k, None) is not None}
        if getattr(settings, "detector_confidence", None) is not None:
            update["confidence"] = settings.detector_confidence
        return self.model_copy(update=update)


# Things people wear: found inside a person's box, they are more likely what they seem (a tie on a shirt front).
WORN = frozenset({"tie", "backpack", "handbag"})
WORN_INSIDE = 0.8  # share of the thing's box inside the person's box


def kept_detections(detections: list[RawDetection], defaults: DetectorDefaults) -> list[RawDetection]:
    """The detections ``detect`` reports: those scoring ``confidence``, and worn things scoring
    ``worn_confidence`` inside the box of a person who scores ``confidence``."""
    kept = [d for d in detections if d.confidence >= defaults.confidence]
    worn_confidence = defaults.worn_confidence
    if worn_confidence is None:
        return kept
    people = [d.box for d in kept if d.label == "person"]

    def worn(d: RawDetection) -> bool:
        return (d.label in WORN and worn_confidence <= d.confidence < defaults.confidence and d.box.area > 0
                and any(d.box.intersection(p) / d.box.area >= WORN_INSIDE for p in people))

    return [d for d in detections if d.confidence >= defaults.confidence or worn(d)]

