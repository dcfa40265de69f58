"""What every wrapper shares: a graph model loaded on first use, and images as TF-layout tensors."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..settings import Settings
from .install import Progress, model_json

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from ..tfjs.graph import GraphModel


class LazyGraph:
    """One of the human-models graphs, loaded (and installed, if need be) on first use; safe across threads."""

    def __init__(self, name: str, settings: Settings, *, progress: Progress | None = None):
        self.name = name
        self.settings = settings
        self.progress = progress
        self._graph: GraphModel | None = None
        self._lock = threading.Lock()

    def get(self) -> GraphModel:
        """The loaded graph. Raises ``WeightsMissing`` (naming ``lavr models install``) when it cannot be had."""
        if self._graph is None:
            with self._lock:
                if self._graph is None:
                    from ..tfjs import load_graph_model

                    self._graph = load_graph_model(model_json(self.settings, self.name, progress=self.progress))
        return self._graph

    def run(self, feeds: Any, outputs: list[str]) -> dict[str, torch.Tensor]:
        return self.get().run(feeds, outputs)


def image_pixels(image: Image.Image) -> torch.Tensor:
    """An image's RGB pixels as a uint8 [1, H, W, 3] tensor: the values TF.js decodes (0..255), in a quarter of
    the bytes; ``lavr.tfjs.ops.nn.resize_bilinear`` takes it as it is."""
    import torch

    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8))[None]  # a writable copy
