"""MTCNN face detection (Zhang et al., 2016): three small CNNs in a cascade, written here from the paper.

The trained weights are the P-, R- and O-net state dicts that ship inside the ``facenet-pytorch`` wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``); ``lavr.tools.faces`` finds and checks them. Only those data
files are used, never that package's code. This module imports torch: import it only when the nets are needed.

Facts about these weights that the code below depends on (checked against the state dicts' shapes and on photos):

- parameter names and shapes: P-net ``conv1..3`` (3x3, 10/16/32 channels) with PReLUs ``prelu1..3``, heads
  ``conv4_1`` (face/not-face, 2) and ``conv4_2`` (box offsets, 4); R-net ``conv1..3`` (28/48/64 channels) and
  ``dense4`` (576 -> 128), heads ``dense5_1``/``dense5_2``; O-net ``conv1..4`` (32/64/64/128) and ``dense5``
  (1152 -> 256), heads ``dense6_1`` (2), ``dense6_2`` (4) and ``dense6_3`` (10: five landmark x's then five y's).
- inputs are RGB, ``(pixel - 127.5) / 128``; the dense layers were converted from a channels-last framework, so
  the conv features are flattened in (width, height, channel) order.
- box offsets are ``(dx1, dy1, dx2, dy2)`` as fractions of the box's width and height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- networks -----------------------------------------------------------------------------------------------

def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    """Flatten conv features in (width, height, channel) order, the order the dense weights were trained in."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """Proposal net: fully convolutional, one 12x12 window per output cell (stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return F.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refine net: 24x24 crops -> face probability and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_whc(self.prelu3(self.conv3(x)))))
        return F.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net: 48x48 crops -> face probability, box offsets and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return F.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def load_nets(paths: tuple[Path, Path, Path], device: str = "cpu") -> tuple[PNet, RNet, ONet]:
    """Build the three nets and load their state dicts (P-, R-, O-net files, in that order)."""
    nets = (PNet(), RNet(), ONet())
    for net, path in zip(nets, paths):
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)  # strict: a wrong file fails here, naming the mismatching parameters
        net.to(device).eval()
    return nets


# --- the cascade --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CascadeConfig:
    """The published MTCNN defaults: smallest face 20 px, pyramid factor 0.709, stage thresholds 0.6/0.7/0.7."""

    min_face: int = 20
    factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    batch: int = 256  # crops per R-/O-net forward pass


@dataclass(frozen=True)
class RawFace:
    """One face in pixel coordinates of the input image."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]  # left eye, right eye, nose, left mouth corner, right mouth corner


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 127.5) * 0.0078125


def _nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, *, mode: str = "union") -> torch.Tensor:
    """Greedy NMS; ``mode='min'`` divides the overlap by the smaller box (the O-net stage's rule)."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    if mode == "union":
        from ..box_ops import nms

        return nms(boxes, scores, threshold)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort(descending=True)
    keep: list[int] = []
    while order.numel() > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + 1).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest]) + 1).clamp(min=0)
        overlap = w * h / torch.minimum(area[i], area[rest])
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def _apply_offsets(boxes: torch.Tensor, offsets: torch.Tensor, *, plus_one: bool) -> torch.Tensor:
    """Shift each edge by its offset times the box's width/height."""
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    return boxes + offsets * torch.stack([w, h, w, h], dim=1)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square around its centre (the next nets take square crops)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + w / 2 - side / 2
    y1 = boxes[:, 1] + h / 2 - side / 2
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)


def _crops(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Cut integer boxes out of a (3, H, W) float image, each resized to size x size, zero outside the image.

    ``roi_align`` averages several bilinear samples per output pixel (adaptive sampling), which is an area
    resize: small and large boxes alike come out without aliasing, in one batched call.
    """
    from ..box_ops import roi_align

    if boxes.shape[0] == 0:
        return image.new_zeros((0, 3, size, size))
    corners = boxes.floor()
    corners = torch.cat([corners[:, :2], corners[:, 2:] + 1], dim=1)  # inclusive pixel boxes -> pixel edges
    return roi_align(image[None], [corners], (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)


def pyramid_scales(height: int, width: int, config: CascadeConfig) -> list[float]:
    """Scales at which P-net's 12 px window matches faces from ``min_face`` px up to the whole image."""
    scale = 12.0 / config.min_face
    side = min(height, width) * scale
    scales = []
    while side >= 12:
        scales.append(scale)
        scale *= config.factor
        side *= config.factor
    return scales


class MTCNN:
    """The three-stage cascade over loaded nets. ``detect`` takes an RGB uint8 array (H, W, 3)."""

    def __init__(self, nets: tuple[PNet, RNet, ONet], *, config: CascadeConfig | None = None,
                 device: str = "cpu"):
        self.pnet, self.rnet, self.onet = nets
        self.config = config or CascadeConfig()
        self.device = device

    @torch.inference_mode()
    def detect(self, rgb: np.ndarray) -> list[RawFace]:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB array (H, W, 3), got shape {rgb.shape}")
        image = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).to(self.device).permute(2, 0, 1).float()
        boxes = self._propose(image)
        if boxes.shape[0]:
            boxes = self._refine(image, boxes)
        if not boxes.shape[0]:
            return []
        return self._output(image, boxes)

    def _propose(self, image: torch.Tensor) -> torch.Tensor:
        """Stage 1: P-net over the image pyramid -> squared candidate boxes."""
        _, height, width = image.shape
        found = []
        for scale in pyramid_scales(height, width, self.config):
            h, w = math.ceil(height * scale), math.ceil(width * scale)
            scaled = F.interpolate(image[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)
            prob, reg = self.pnet(_normalise(scaled))
            ys, xs = torch.nonzero(prob[0] >= self.config.thresholds[0], as_tuple=True)
            if ys.numel() == 0:
                continue
            # each output cell looks at a 12x12 window, stride 2, of the scaled image
            cells = torch.stack([xs, ys], dim=1).float()
            top_left = ((2 * cells + 1) / scale).floor()
            bottom_right = ((2 * cells + 12) / scale).floor()
            b = torch.cat([top_left, bottom_right], dim=1)
            s = prob[0, ys, xs]
            r = reg[0, :, ys, xs].T
            keep = _nms(b, s, 0.5)
            found.append(torch.cat([b[keep], s[keep, None], r[keep]], dim=1))
        if not found:
            return torch.zeros((0, 5), device=self.device)
        allb = torch.cat(found)
        allb = allb[_nms(allb[:, :4], allb[:, 4], 0.7)]
        boxes = _square(_apply_offsets(allb[:, :4], allb[:, 5:9], plus_one=False))
        return torch.cat([boxes, allb[:, 4:5]], dim=1)

    def _refine(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Stage 2: R-net on 24x24 crops rejects most candidates and tightens the rest."""
        prob, reg = self._batched(self.rnet, _crops(image, boxes[:, :4], 24))
        keep = prob >= self.config.thresholds[1]
        boxes, prob, reg = boxes[keep, :4], prob[keep], reg[keep]
        order = _nms(boxes, prob, 0.7)
        boxes = _square(_apply_offsets(boxes[order], reg[order], plus_one=True))
        return torch.cat([boxes, prob[order, None]], dim=1)

    def _output(self, image: torch.Tensor, boxes: torch.Tensor) -> list[RawFace]:
        """Stage 3: O-net on 48x48 crops: final score, box and five landmarks."""
        squared = boxes[:, :4].floor()
        prob, reg, points = self._batched(self.onet, _crops(image, squared, 48))
        keep = prob >= self.config.thresholds[2]
        squared, prob, reg, points = squared[keep], prob[keep], reg[keep], points[keep]
        w = squared[:, 2] - squared[:, 0] + 1
        h = squared[:, 3] - squared[:, 1] + 1
        px = points[:, :5] * w[:, None] + squared[:, 0:1] - 1
        py = points[:, 5:] * h[:, None] + squared[:, 1:2] - 1
        final = _apply_offsets(squared, reg, plus_one=True)
        order = _nms(final, prob, 0.7, mode="min")
        _, height, width = image.shape
        faces = []
        for i in order.tolist():
            x1, y1, x2, y2 = final[i].tolist()
            box = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            faces.append(RawFace(box=box, score=float(prob[i]),
                                 landmarks=tuple((float(px[i, k]), float(py[i, k])) for k in range(5))))
        return faces

    def _batched(self, net: nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = [net(_normalise(crops[i:i + self.config.batch])) for i in range(0, crops.shape[0], self.config.batch)]
        if not outs:
            empty = crops.new_zeros((0,))
            return (empty, crops.new_zeros((0, 4))) + ((crops.new_zeros((0, 10)),) if net is self.onet else ())
        return tuple(torch.cat(parts) for parts in zip(*outs))
