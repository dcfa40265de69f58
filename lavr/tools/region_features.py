"""``region_features``: Faster R-CNN regions and their pooled RoI feature vectors, grouped by visual similarity.

The 1024-d ``box_head`` vectors never reach the prompt or the output model: they live in
the run's ``RegionState`` (``ctx.state(RegionState)``) and in the expert cache as ``RegionVectors``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ..errors import ToolError, WeightsMissing
from ..images import StoredImage
from ..schema import Box, Detection
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput

logger = logging.getLogger(__name__)

ARCHS = {"resnet50_fpn_v2": "fasterrcnn_resnet50_fpn_v2", "mobilenet_v3": "fasterrcnn_mobilenet_v3_large_fpn"}
WEIGHT_ENUMS = {"resnet50_fpn_v2": "FasterRCNN_ResNet50_FPN_V2_Weights",
                "mobilenet_v3": "FasterRCNN_MobileNet_V3_Large_FPN_Weights"}
GROUP_THRESHOLD = 0.85  # cosine similarity at or above which regions count as "visually similar"
MAX_REGIONS = 20  # Faster R-CNN regions kept per image (highest scores)
PREDICT_FLOOR = 0.05  # one cached prediction at this score serves every higher min_score
DUPLICATE_IOU = 0.8  # a frcnn region this close to a detect object is not listed twice
MAX_RANKED_IN_TEXT = 10
_STATE_LOCK = threading.Lock()


# The file names of torchvision's COCO_V1 weight URLs (a test checks them against torchvision): knowing them
# without importing torchvision keeps ``availability()`` free of a seconds-long import on every cold run.
WEIGHT_FILES = {"resnet50_fpn_v2": "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
                "mobilenet_v3": "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"}


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``, computed without importing torch when it is not loaded yet (same rule:
    ``$TORCH_HOME/hub``, ``$TORCH_HOME`` defaulting to ``$XDG_CACHE_HOME/torch`` or ``~/.cache/torch``)."""
    if "torch" in sys.modules:  # respects torch.hub.set_dir()
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))
    return Path(os.path.expanduser(home)) / "hub"


def hub_weights_path(region_model: str) -> Path:
    """Where torchvision keeps the COCO weights of ``region_model``: ``<torch hub dir>/checkpoints/<file>``."""
    return torch_hub_dir() / "checkpoints" / WEIGHT_FILES[region_model]


def resolve_weights(settings: Settings) -> tuple[Path | None, str, str | None]:
    """Find the state dict: ``settings.region_weights``, else torchvision's file in the hub cache.

    Returns:
        ``(path or None, the path looked at, reason when missing)``.
    """
    if settings.region_weights is not None:
        path = Path(settings.region_weights).expanduser()
        if path.is_file():
            return path, str(path), None
        return None, str(path), f"region_weights {path} does not exist"
    path = hub_weights_path(settings.region_model)
    if path.is_file():
        return path, str(path), None
    return None, str(path), f"no Faster R-CNN weights at {path} (torchvision's hub cache) and downloads are off"


def coco_labels() -> list[str]:
    """The 91 COCO category names indexed by Faster R-CNN label id (metadata, available offline)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_V2_Weights

    return list(FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1.meta["categories"])


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity; 0.0 when either vector is all zeros."""
    return float(cosine_matrix([a, b])[0, 1])


def cosine_matrix(vectors: list[list[float]]) -> np.ndarray:
    """Pairwise cosine similarities of the rows (zero rows give 0.0)."""
    mat = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
    norms = np.linalg.norm(mat, axis=1)
    unit = mat / np.where(norms > 0, norms, 1.0)[:, None]
    return unit @ unit.T


def group_by_similarity(ids: list[str], vectors: dict[str, list[float]],
                        threshold: float = GROUP_THRESHOLD) -> list[list[str]]:
    """Average-linkage agglomerative grouping: merge the most similar pair of groups while it is >= threshold.

    Deterministic: ties go to the earliest pair; groups keep the order of ``ids``.
    """
    sims = cosine_matrix([vectors[i] for i in ids])
    groups = [[n] for n in range(len(ids))]
    while len(groups) > 1:
        best, pair = threshold, None
        for gi in range(len(groups)):
            for gj in range(gi + 1, len(groups)):
                avg = float(sims[np.ix_(groups[gi], groups[gj])].mean())
                if avg >= best and (pair is None or avg > best):
                    best, pair = avg, (gi, gj)
        if pair is None:
            break
        gi, gj = pair
        groups[gi] = sorted(groups[gi] + groups[gj])
        del groups[gj]
    return [[ids[n] for n in g] for g in groups]


@dataclass
class RegionState:
    """What region_features keeps for one run: vectors by region id, and the Faster R-CNN regions it named."""

    vectors: dict[str, list[float]] = field(default_factory=dict)
    regions: dict[str, tuple[str, Region]] = field(default_factory=dict)  # reg_N -> (image id, region)


def region_vectors(ctx: RunContext) -> dict[str, list[float]]:
    """The run's region vectors (id -> 1024 floats)."""
    return ctx.state(RegionState).vectors


class RegionFeaturesInput(ImageArg):
    objects: list[str] | None = Field(
        None, description="Only describe these ids (obj_N from detect, reg_N from an earlier call). "
        "Omit for every detected object of the image plus Faster R-CNN's own regions.")
    similar_to: str | None = Field(None, description="Rank the other regions by visual similarity to this id.",
                                   pattern=r"^(obj|reg)_\d+$")
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Drop Faster R-CNN regions below this score.")


class VectorEntry(BaseModel):
    """A cached region: box, Faster R-CNN label/score (empty for given boxes) and its rounded vector."""

    box: Box
    label: str = ""
    score: float = 0.0
    vector: list[float]


class RegionVectors(BaseModel):
    """What the cache stores for one image: the model's regions and the vectors of the given boxes."""

    regions: list[VectorEntry]
    given: list[VectorEntry]


class Region(BaseModel):
    id: str
    source: Literal["detect", "frcnn"]
    label: str
    score: float
    box: Box

    def render(self) -> str:
        return f"{self.id} {self.label} {self.box.render()} score={self.score:.2f}"


class Ranked(BaseModel):
    id: str
    cosine: float


class RegionFeaturesOutput(ToolOutput):
    image: str
    model: str
    min_score: float
    regions: list[Region]
    groups: list[list[str]]
    threshold: float = GROUP_THRESHOLD
    similar_to: str | None = None
    ranking: list[Ranked] | None = None
    duplicates_omitted: int = 0

    def to_text(self) -> str:
        lines = [f"region_features of {self.image} ({self.model}): {len(self.regions)} regions"]
        lines += [r.render() for r in self.regions]
        if self.duplicates_omitted:
            lines.append(f"({self.duplicates_omitted} Faster R-CNN regions duplicating detect objects not listed)")
        groups = ", ".join("{" + ", ".join(g) + "}" for g in self.groups)
        lines.append(f"visually similar groups (cosine >= {self.threshold:.2f}): {groups}")
        if self.similar_to is not None and self.ranking is not None:
            shown = ", ".join(f"{r.id} {r.cosine:.2f}" for r in self.ranking[:MAX_RANKED_IN_TEXT])
            more = ", ..." if len(self.ranking) > MAX_RANKED_IN_TEXT else ""
            lines.append(f"most similar to {self.similar_to}: {shown or 'no other regions'}{more}")
        return "\n".join(lines)


class RegionFeaturesTool(Tool[RegionFeaturesInput, RegionFeaturesOutput]):
    """Compare regions by appearance: Faster R-CNN regions (reg_N) and detected objects (obj_N), grouped by
    visual similarity; with similar_to, ranks the others by similarity to one region.

    Use it for "which objects look alike / the same kind", "is this the same car as that one".
    """

    name = "region_features"
    input_model = RegionFeaturesInput
    output_model = RegionFeaturesOutput

    def __init__(self, settings: Settings, *, detector: Any = None):
        super().__init__(settings)
        self.detector = detector
        self._model: Any = None
        self._labels: list[str] = []
        self._device = "cpu"
        self._forward_lock = threading.Lock()

    @property
    def arch(self) -> str:
        return ARCHS[self.settings.region_model]

    def availability(self) -> Availability:
        path, where, reason = resolve_weights(self.settings)
        if path is None:
            hub = hub_weights_path(self.settings.region_model)
            return Availability(available=False, weights=where, reason=reason,
                                fix=f"put torchvision's COCO weights for {self.arch} at {hub} or set "
                                "LAVR_REGION_WEIGHTS to a Faster R-CNN state dict (.pth)")
        return Availability(available=True, weights=where)

    def identity(self) -> str:
        """Architecture and the weights' content hash (a retrained file of the same size is another model)."""
        from .detect import file_digest

        path, where, _ = resolve_weights(self.settings)
        return f"{self.arch}:{where}" if path is None else f"{self.arch}:{path.name}:{file_digest(path)}"

    def setup(self) -> None:
        import torch
        from torchvision.models import detection

        path, _, reason = resolve_weights(self.settings)
        if path is None:
            raise WeightsMissing(reason or "Faster R-CNN weights missing")
        model = getattr(detection, self.arch)(weights=None, weights_backbone=None, num_classes=91)
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsMissing(f"{path} is not a {self.arch} state dict (set LAVR_REGION_MODEL to match): "
                                 f"{str(exc).splitlines()[0]}") from None
        self._device = self.settings.resolved_device()
        self._model = model.eval().to(self._device)
        self._labels = coco_labels()
        logger.info("%s loaded from %s on %s", self.arch, path, self._device)

    def compute(self, pil: Any, boxes: list[Box], *, score_floor: float) -> RegionVectors:
        """One forward pass: the model's regions (score >= floor, top ``MAX_REGIONS``) and the vectors of ``boxes``."""
        import torch
        from torchvision.transforms.functional import pil_to_tensor

        self.ensure_ready()
        model, image = self._model, pil_to_tensor(pil).to(self._device, torch.float32) / 255.0
        with self._forward_lock, torch.inference_mode():
            old_thresh = model.roi_heads.score_thresh
            model.roi_heads.score_thresh = score_floor
            try:
                image_list, _ = model.transform([image])
                features = model.backbone(image_list.tensors)
                proposals, _ = model.rpn(image_list, features)
                dets, _ = model.roi_heads(features, proposals, image_list.image_sizes)
            finally:
                model.roi_heads.score_thresh = old_thresh
            (h, w), det = image_list.image_sizes[0], dets[0]
            keep = torch.argsort(det["scores"], descending=True, stable=True)[:MAX_REGIONS]
            own = det["boxes"][keep]
            given = torch.tensor([[b.x1 * w, b.y1 * h, b.x2 * w, b.y2 * h] for b in boxes],
                                 dtype=own.dtype, device=own.device).reshape(-1, 4)
            all_boxes = torch.cat([own, given])
            if len(all_boxes):
                pooled = model.roi_heads.box_roi_pool(features, [all_boxes], image_list.image_sizes)
                vecs = model.roi_heads.box_head(pooled).float().cpu().tolist()
            else:
                vecs = []
        rounded = [[round(v, 4) for v in vec] for vec in vecs]
        regions = [
            VectorEntry(box=Box.from_pixels(xyxy, w, h), label=self._labels[int(lbl)], score=round(float(s), 4),
                        vector=vec)
            for xyxy, lbl, s, vec in zip(own.cpu().tolist(), det["labels"][keep].tolist(),
                                         det["scores"][keep].tolist(), rounded)
        ]
        given_entries = [VectorEntry(box=b, vector=vec) for b, vec in zip(boxes, rounded[len(regions):])]
        return RegionVectors(regions=regions, given=given_entries)

    def _register_region(self, ctx: RunContext, image: str, entry: VectorEntry) -> Region:
        """Give a Faster R-CNN region a stable ``reg_N`` id within this context."""
        with _STATE_LOCK:
            known = ctx.state(RegionState).regions
            for img, reg in known.values():
                if img == image and reg.label == entry.label and reg.box.iou(entry.box) > 0.9:
                    return reg
            reg = Region(id=f"reg_{len(known)}", source="frcnn", label=entry.label, score=entry.score, box=entry.box)
            known[reg.id] = (image, reg)
            return reg

    def _known_region(self, ctx: RunContext, image: str, rid: str) -> Region:
        if rid.startswith("obj_"):
            obj = ctx.get_object(rid)
            if obj.image != image:
                raise ToolError(f"{rid} belongs to {obj.image}, not {image}; "
                                f"call region_features with image={obj.image}")
            return Region(id=obj.id, source="detect", label=obj.label, score=obj.confidence, box=obj.box)
        known = ctx.state(RegionState).regions
        if rid not in known or known[rid][0] != image:
            ids = [o.id for o in ctx.objects_in(image)] + [k for k, (img, _) in known.items() if img == image]
            raise ToolError(f"unknown region id {rid!r} for {image}; known ids: {', '.join(ids) or 'none'} "
                            "(run detect, or region_features without objects, first)")
        return known[rid][1]

    def _vectors(self, ctx: RunContext, stored: StoredImage, boxes: list[Box], floor: float) -> RegionVectors:
        """The cached forward pass, memoised in ``ctx`` as well so repeated calls without a cache stay cheap."""
        params = {"score_floor": floor, "max_regions": MAX_REGIONS, "boxes": [b.as_list(4) for b in boxes]}
        value, _ = ctx.memo(tool=self.name, image=stored, params=params, identity=self.identity(),
                            model=RegionVectors, compute=lambda: self.compute(stored.pil, boxes, score_floor=floor))
        return value

    def image_objects(self, image_id: str, ctx: RunContext) -> list[Detection]:
        """The detector's unfiltered objects of the image (a pure function of the image); none without one."""
        if self.detector is None:
            return []
        from .detect import DetectInput

        return self.detector.run(DetectInput(image=image_id), ctx).detections

    def run(self, args: RegionFeaturesInput, ctx: RunContext) -> RegionFeaturesOutput:
        try:
            stored = ctx.images.get(args.image)
        except Exception as exc:
            raise ToolError(str(exc)) from None
        asked = list(dict.fromkeys(args.objects or []))  # explicit ids are checked before the forward pass
        explicit = {rid: self._known_region(ctx, args.image, rid) for rid in asked + [args.similar_to] if rid}
        objects = self.image_objects(args.image, ctx)
        named = {o.id for o in objects}
        objects += [ctx.get_object(rid) for rid in explicit if rid.startswith("obj_") and rid not in named]
        cached = self._vectors(ctx, stored, [o.box for o in objects], min(PREDICT_FLOOR, args.min_score))
        vectors = region_vectors(ctx)
        vectors.update({obj.id: entry.vector for obj, entry in zip(objects, cached.given)})
        regions = [Region(id=o.id, source="detect", label=o.label, score=o.confidence, box=o.box) for o in objects]
        duplicates = 0
        for entry in cached.regions:
            if entry.score < args.min_score:
                continue
            reg = self._register_region(ctx, args.image, entry)
            vectors[reg.id] = entry.vector
            if any(o.box.iou(entry.box) >= DUPLICATE_IOU for o in objects):
                duplicates += 1
            else:
                regions.append(reg)
        if args.objects is not None:
            regions, duplicates = [explicit[rid] for rid in asked], 0
        if args.similar_to is not None and args.similar_to not in {r.id for r in regions}:
            regions.append(explicit[args.similar_to])
        if not regions:
            raise ToolError(f"no regions in {args.image}: Faster R-CNN found nothing with score >= "
                            f"{args.min_score:.2f} and no objects are detected there; run detect first or "
                            "lower min_score")
        ids = [r.id for r in regions]
        ranking = None
        if args.similar_to is not None:
            scored = [Ranked(id=i, cosine=round(cosine(vectors[args.similar_to], vectors[i]), 4))
                      for i in ids if i != args.similar_to]
            ranking = sorted(scored, key=lambda r: -r.cosine)
        return RegionFeaturesOutput(
            image=args.image, model=self.arch, min_score=args.min_score, regions=regions,
            groups=group_by_similarity(ids, vectors), similar_to=args.similar_to, ranking=ranking,
            duplicates_omitted=duplicates,
        )
