"""COCO-80 detectors from human-models: CenterNet (MobileNetV3) and NanoDet, with their raw candidates.

Both answer ``detect(image) -> list[Candidate]``: boxes normalised ``[x1, y1, x2, y2]`` (0..1, origin top-left),
a score, a COCO label, down to a low score floor, so thresholds and fusion can be chosen on data downstream.
Each detector's own candidate set is kept as its model defines it: CenterNet's graph already keeps the 100
best heat-map peaks (a 3x3 max-pool suppression inside the graph); NanoDet's reference post-processing keeps
per-class NMS at IoU 0.6. ``human_defaults`` applies what ``@vladmandic/human`` does on top (score 0.2, one
class-agnostic NMS at IoU 0.4).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..lexicon import COCO_LABELS  # human's src/object/labels.ts: COCO's 80 classes in the same order
from ..schema import Box
from ..settings import Settings
from .base import LazyGraph, image_pixels
from .install import Progress

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

SCORE_FLOOR = 0.05
HUMAN_MIN_SCORE = 0.2  # human's config.object.minConfidence
HUMAN_NMS_IOU = 0.4  # human's config.object.iouThreshold (one NMS over all classes)


class Candidate(BaseModel):
    """One candidate of one detector."""

    box: Box
    score: float = Field(ge=0.0, le=1.0)
    label: str
    class_id: int = Field(ge=0, lt=80, description="0-based index into COCO_LABELS")
    source: str = Field(description="the detector that produced it: centernet or nanodet")


class CenterNet:
    """MobileNetV3-CenterNet (human's default object model). Input: the image resized to 512x512 with TF's
    legacy bilinear resize (no antialiasing), values 0..255; the graph decodes boxes, keeps the top 100 peaks
    and outputs ``tower_0/detections`` [1, 100, 6]: x1, y1, x2, y2 in input pixels, score, 0-based class."""

    name = "centernet"
    size = 512
    output = "tower_0/detections"

    def __init__(self, settings: Settings, *, progress: Progress | None = None):
        self.graph = LazyGraph(self.name, settings, progress=progress)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        from ..tfjs.ops.nn import resize_bilinear

        return resize_bilinear(image_pixels(image), (self.size, self.size), double=False)

    def detect(self, image: Image.Image, *, min_score: float = SCORE_FLOOR) -> list[Candidate]:
        """Candidates with score >= ``min_score``, best first."""
        rows = self.graph.run(self.preprocess(image), [self.output])[self.output][0].tolist()
        found = []
        for x1, y1, x2, y2, score, cls in rows:
            if score < min_score or math.isnan(cls) or not 0 <= int(cls) < len(COCO_LABELS):
                continue
            box = _clipped_box(x1 / self.size, y1 / self.size, x2 / self.size, y2 / self.size)
            if box is not None:
                found.append(Candidate(box=box, score=min(1.0, score), label=COCO_LABELS[int(cls)],
                                          class_id=int(cls), source=self.name))
        return sorted(found, key=lambda d: -d.score)


class NanoDet:
    """NanoDet (COCO-80). Input: the image resized to 416x416 (TF's legacy bilinear), /255, NCHW. The graph
    outputs, per stride (32, 16, 8 px: 13x13, 26x26, 52x52 cells), class scores [1, N, 80] (sigmoid applied) and
    box distributions [1, N, 44]: for each side (left, top, right, bottom) 11 logits over distances 0..10 strides.

    Decoding is NanoDet's own (Generalized Focal Loss): a side's distance is the softmax-weighted mean bin times
    the stride. human approximates it with the arg-max bin and a factor of 2.5/32 of the input (1.6% larger);
    the exact form is kept here. human also drops class 61 (``toilet``) from NanoDet's results; that is kept too
    (it fires on unrelated things; see ``SKIPPED_CLASSES``).
    """

    name = "nanodet"
    size = 416
    grids = (13, 26, 52)
    bins = 11
    nms_iou = 0.6  # NanoDet's reference post-processing: per-class NMS
    max_candidates = 100
    SKIPPED_CLASSES = frozenset({61})
    outputs = ("Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0")

    def __init__(self, settings: Settings, *, progress: Progress | None = None):
        self.graph = LazyGraph(self.name, settings, progress=progress)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        from ..tfjs.ops.nn import resize_bilinear

        resized = resize_bilinear(image_pixels(image), (self.size, self.size), double=False)
        return (resized / 255.0).permute(0, 3, 1, 2).contiguous()

    def raw_outputs(self, image: Image.Image) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Grid size -> (scores [N, 80], box logits [N, 44]), found by shape as human does."""
        outs = self.graph.run(self.preprocess(image), list(self.outputs))
        by_grid: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for grid in self.grids:
            scores = next(t for t in outs.values() if t.shape[1] == grid * grid and t.shape[2] == len(COCO_LABELS))
            boxes = next(t for t in outs.values() if t.shape[1] == grid * grid and t.shape[2] == 4 * self.bins)
            by_grid[grid] = (scores[0], boxes[0])
        return by_grid

    def detect(self, image: Image.Image, *, min_score: float = SCORE_FLOOR) -> list[Candidate]:
        """Candidates with score >= ``min_score`` after per-class NMS, best first (at most 100)."""
        import torch

        from ..box_ops import batched_nms

        all_boxes, all_scores, all_classes = [], [], []
        for grid, (scores, logits) in self.raw_outputs(image).items():
            cells, classes = torch.nonzero(scores >= min_score, as_tuple=True)
            keep = ~torch.isin(classes, torch.tensor(sorted(self.SKIPPED_CLASSES)))
            cells, classes = cells[keep], classes[keep]
            if cells.numel() == 0:
                continue
            stride = 1.0 / grid  # of the (square) input, normalised
            cx = (cells % grid).float().add(0.5) * stride
            cy = torch.div(cells, grid, rounding_mode="floor").float().add(0.5) * stride
            bins = torch.arange(self.bins, dtype=torch.float32)
            distances = (torch.softmax(logits[cells].reshape(-1, 4, self.bins), dim=-1) * bins).sum(-1) * stride
            boxes = torch.stack([cx - distances[:, 0], cy - distances[:, 1], cx + distances[:, 2],
                                 cy + distances[:, 3]], dim=1).clamp(0.0, 1.0)
            all_boxes.append(boxes)
            all_scores.append(scores[cells, classes])
            all_classes.append(classes)
        if not all_boxes:
            return []
        boxes, scores, classes = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_classes)
        keep = batched_nms(boxes, scores, classes, self.nms_iou)[: self.max_candidates]
        found = []
        for i in keep.tolist():
            box = _clipped_box(*boxes[i].tolist())
            if box is not None:
                cls = int(classes[i])
                found.append(Candidate(box=box, score=float(scores[i]), label=COCO_LABELS[cls], class_id=cls,
                                          source=self.name))
        return found


def human_defaults(detections: list[Candidate], *, min_score: float = HUMAN_MIN_SCORE,
                   iou: float = HUMAN_NMS_IOU) -> list[Candidate]:
    """What ``@vladmandic/human`` reports from these candidates: score above ``min_score``, then one NMS over all
    classes at ``iou``, best first."""
    import torch

    from ..box_ops import nms

    kept = [d for d in detections if d.score > min_score]
    if not kept:
        return []
    boxes = torch.tensor([d.box.as_list(digits=9) for d in kept])
    order = nms(boxes, torch.tensor([d.score for d in kept]), iou).tolist()
    return [kept[i] for i in order]


def _clipped_box(x1: float, y1: float, x2: float, y2: float) -> Box | None:
    """A normalised box clipped to the image, or ``None`` when nothing of it is left."""
    x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in (x1, y1, x2, y2))
    if x2 <= x1 or y2 <= y1:
        return None
    return Box(x1=x1, y1=y1, x2=x2, y2=y2)
