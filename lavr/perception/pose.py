"""Body pose: MoveNet MultiPose Lightning (17 keypoints for up to 6 people), from human-models.

Pre-processing as human's ``movenetfix.padInput``: the image padded with black to a square (half the difference
before, half after, on the shorter side), resized to 256x256 with TF's legacy bilinear resize, cast to int32 by
truncation. The graph outputs [1, 6, 56]: per person 17 x (y, x, score) then a box (ymin, xmin, ymax, xmax,
score), normalised to the padded square; they are mapped back to the image here.

human also swaps left and right keypoints so that "left" is always on the image's right (as for a person facing
the camera) and drops knees above shoulders; neither is done here: MoveNet's own left/right is what tells a person
facing the camera from one seen from behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..schema import Box
from ..settings import Settings
from .base import LazyGraph, image_pixels
from .install import Progress

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)
POSE_SCORE_FLOOR = 0.05
HUMAN_MIN_SCORE = 0.3  # human's config.body.minConfidence (people and keypoints below it are not reported)


class Keypoint(BaseModel):
    """A body keypoint: position normalised to the image (0..1, origin top-left) and the model's confidence."""

    name: str
    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    score: float = Field(ge=0.0, le=1.0)


class Pose(BaseModel):
    """One person: MoveNet's own box and score, and all 17 keypoints (in ``KEYPOINTS`` order, whatever their
    score: filter by ``score``)."""

    box: Box
    score: float = Field(ge=0.0, le=1.0)
    keypoints: list[Keypoint]

    def keypoint(self, name: str) -> Keypoint:
        return self.keypoints[KEYPOINTS.index(name)]


class Padding(BaseModel):
    """How the image sits in the padded square: rows added above (and below), columns added left (and right)."""

    top: int
    left: int
    height: int  # padded size
    width: int


class MoveNet:
    """``poses(image) -> list[Pose]``, best first."""

    name = "movenet-multipose"
    size = 256
    output = "Identity:0"

    def __init__(self, settings: Settings, *, progress: Progress | None = None):
        self.graph = LazyGraph(self.name, settings, progress=progress)

    def preprocess(self, image: Image.Image) -> tuple[torch.Tensor, Padding]:
        import torch

        from ..tfjs.ops.array import pad_value
        from ..tfjs.ops.nn import resize_bilinear

        pixels = image_pixels(image)
        height, width = pixels.shape[1], pixels.shape[2]
        top = (width - height) // 2 if width > height else 0
        left = (height - width) // 2 if height > width else 0
        padded = pad_value(pixels, [(0, 0), (top, top), (left, left), (0, 0)])
        square = resize_bilinear(padded, (self.size, self.size)).to(torch.int64)  # truncates, as tf.cast does
        return square, Padding(top=top, left=left, height=padded.shape[1], width=padded.shape[2])

    def poses(self, image: Image.Image, *, min_score: float = POSE_SCORE_FLOOR) -> list[Pose]:
        """People whose MoveNet score is at least ``min_score``."""
        square, pad = self.preprocess(image)
        rows = self.graph.run(square, [self.output])[self.output][0].tolist()
        width, height = image.size
        found = []
        for row in rows:
            score = row[55]
            if score < min_score:
                continue

            def to_image(x: float, y: float) -> tuple[float, float]:
                return (_clip((x * pad.width - pad.left) / width), _clip((y * pad.height - pad.top) / height))

            keypoints = []
            for i, name in enumerate(KEYPOINTS):
                x, y = to_image(row[3 * i + 1], row[3 * i])
                keypoints.append(Keypoint(name=name, x=x, y=y, score=_clip(row[3 * i + 2])))
            x1, y1 = to_image(row[52], row[51])
            x2, y2 = to_image(row[54], row[53])
            if x2 <= x1 or y2 <= y1:
                continue
            found.append(Pose(box=Box(x1=x1, y1=y1, x2=x2, y2=y2), score=_clip(score), keypoints=keypoints))
        return sorted(found, key=lambda p: -p.score)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))
