"""torchvision's compiled box kernels (``nms``, ``batched_nms``, ``roi_align``) without importing torchvision.

``import torchvision`` imports all of its models, and through ``torchvision.ops.roi_align`` torch's compiler
(``torch._dynamo``): 1.5-2 s of CPU in a new ``lavr ask`` process, for three small kernels. These functions call
the same C++ kernels (``torch.ops.torchvision.*``, registered by loading torchvision's extension library, as
``torchvision.extension`` does), with the same Python around them as torchvision 0.29's ``torchvision.ops``,
so their results are identical to it (``tests/test_box_ops.py`` compares them). Where the library cannot be
loaded on its own, torchvision's Python package is imported instead.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import torch

_LOADED = False
_LOCK = threading.Lock()


def extension_library() -> Path | None:
    """torchvision's compiled extension (``_C_stable.so`` in 0.29, ``_C.so`` before), found without importing it."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    for pattern in ("_C_stable.*", "_C.*"):
        for path in sorted(folder.glob(pattern)):
            if path.suffix in (".so", ".pyd", ".dylib"):
                return path
    return None


def _ensure_kernels() -> None:
    """Register ``torch.ops.torchvision.*``: torchvision already imported did; else load its library alone."""
    global _LOADED
    if _LOADED:
        return
    with _LOCK:
        if _LOADED:
            return
        if "torchvision" not in sys.modules:
            path = extension_library()
            try:
                if path is None:
                    raise OSError("torchvision's extension library is not installed")
                torch.ops.load_library(str(path))
            except (ImportError, OSError):
                import torchvision  # noqa: F401 - its own loader, with its own error when the kernels are missing
        _LOADED = True


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.nms``: indices of the boxes kept (IoU above ``iou_threshold`` suppresses), best first."""
    _ensure_kernels()
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.batched_nms``: NMS within each category of ``idxs``, best first."""
    # torchvision's own choice between its two strategies (on cpu: more than 4000 coordinates, one NMS per class)
    if boxes.numel() > (4000 if boxes.device.type == "cpu" else 100_000):
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for class_id in torch.unique(idxs):
            indices = torch.where(idxs == class_id)[0]
            keep_mask[indices[nms(boxes[indices], scores[indices], iou_threshold)]] = True
        kept = torch.where(keep_mask)[0]
        return kept[scores[kept].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    # an offset per class larger than any coordinate: boxes of different classes never overlap
    offsets = idxs.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def roi_align(image: torch.Tensor, boxes: list[torch.Tensor], output_size: tuple[int, int], *,
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """``torchvision.ops.roi_align`` on a float batch ``[N, C, H, W]`` with one ``[K, 4]`` box tensor per image."""
    _ensure_kernels()
    if len(boxes) == 1:
        rois = torch.cat([torch.full_like(boxes[0][:, :1], 0), boxes[0]], dim=1)
    else:
        ids = torch.cat([torch.full_like(b[:, :1], i) for i, b in enumerate(boxes)], dim=0)
        rois = torch.cat([ids, torch.cat(boxes, dim=0)], dim=1)
    return torch.ops.torchvision.roi_align(image, rois, spatial_scale, output_size[0], output_size[1],
                                           sampling_ratio, aligned)
