"""Face attributes from a face crop: expression (``emotion``), age and gender (``faceres``), from human-models.

Pre-processing as human (src/gear/emotion.ts, src/face/faceres.ts), from a face crop with values 0..1:
- emotion: resized to 64x64 (TF's legacy bilinear), grey (0.2989 R + 0.5870 G + 0.1140 B), then ``(g - 0.5) * 2``;
  out: 7 probabilities, ``EXPRESSIONS`` order (oarriaga's grey model);
- faceres: resized to 224x224, times 255; out: gender (sigmoid, above 0.5 male), age (softmax over 100 bins, one
  year each), and a 1024-d descriptor (unused here).

human crops faces square around its own detector's box, enlarged; ``face_crop`` does the same around any box
(e.g. the ``faces`` tool's MTCNN boxes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ..schema import Box
from ..settings import Settings
from .base import LazyGraph, image_pixels
from .install import Progress

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)
# Age brackets (upper bound exclusive, in years): words the scene graph can use.
AGE_BRACKETS: tuple[tuple[float, str], ...] = (
    (13.0, "child"), (20.0, "teenager"), (40.0, "young adult"), (60.0, "middle-aged"), (float("inf"), "elderly"),
)


class FaceAttributeResult(BaseModel):
    """What the face models say about one face."""

    expression: str = Field(description="the most likely of EXPRESSIONS")
    expression_score: float = Field(ge=0.0, le=1.0)
    expressions: dict[str, float] = Field(description="every expression's probability")
    age: float = Field(description="years, human's reading of faceres' 100 age bins")
    age_bracket: str
    gender: Literal["female", "male"]
    gender_score: float = Field(ge=0.0, le=1.0, description="|p - 0.5| * 2: 0 undecided, 1 certain")


class FaceAttributes:
    """``predict(face_crops) -> list[FaceAttributeResult]`` (one batch through each model)."""

    emotion_size = 64
    faceres_size = 224
    emotion_output = "Identity:0"
    faceres_outputs = ("gender_pred/Sigmoid:0", "age_pred/Softmax:0")

    def __init__(self, settings: Settings, *, progress: Progress | None = None):
        self.emotion = LazyGraph("emotion", settings, progress=progress)
        self.faceres = LazyGraph("faceres", settings, progress=progress)

    def emotion_input(self, faces: Sequence[Image.Image]) -> torch.Tensor:
        import torch

        from ..tfjs.ops.nn import resize_bilinear

        size = (self.emotion_size, self.emotion_size)
        resized = torch.cat([resize_bilinear(image_pixels(f), size, double=False) for f in faces]) / 255.0
        grey = (resized * torch.tensor(GREY_WEIGHTS)).sum(-1, keepdim=True)
        return (grey - 0.5) * 2

    def faceres_input(self, faces: Sequence[Image.Image]) -> torch.Tensor:
        import torch

        from ..tfjs.ops.nn import resize_bilinear

        # human resizes the 0..1 crop and multiplies by 255: the 0..255 pixels resized, up to float rounding
        size = (self.faceres_size, self.faceres_size)
        return torch.cat([resize_bilinear(image_pixels(f), size, double=False) for f in faces])

    def predict(self, faces: Sequence[Image.Image]) -> list[FaceAttributeResult]:
        if not faces:
            return []
        expressions = self.emotion.run(self.emotion_input(faces), [self.emotion_output])[self.emotion_output]
        out = self.faceres.run(self.faceres_input(faces), list(self.faceres_outputs))
        genders, ages = out[self.faceres_outputs[0]], out[self.faceres_outputs[1]]
        results = []
        for probs, gender, age_bins in zip(expressions.tolist(), genders.tolist(), ages.tolist()):
            best = max(range(len(EXPRESSIONS)), key=probs.__getitem__)
            age = human_age(age_bins)
            results.append(FaceAttributeResult(
                expression=EXPRESSIONS[best], expression_score=_unit(probs[best]),
                expressions={name: round(_unit(p), 4) for name, p in zip(EXPRESSIONS, probs)},
                age=round(age, 1), age_bracket=human_age_bracket(age),
                gender="male" if gender[0] > 0.5 else "female", gender_score=_unit(abs(gender[0] - 0.5) * 2),
            ))
        return results


def human_age(bins: Sequence[float]) -> float:
    """human's reading of faceres' age bins (years): the arg-max bin, moved towards the likelier neighbour by ten
    times that neighbour's probability."""
    idx = max(range(len(bins)), key=bins.__getitem__)
    below = bins[idx - 1] if idx > 0 else -1.0
    above = bins[idx + 1] if idx + 1 < len(bins) else -1.0
    if below > above:
        return (10 * idx - 100 * below) / 10
    return (10 * idx + 100 * max(above, 0.0)) / 10


def human_age_bracket(age: float) -> str:
    return next(name for upper, name in AGE_BRACKETS if age < upper)


def face_crop(image: Image.Image, box: Box, *, scale: float = 1.2) -> Image.Image:
    """A square crop centred on ``box``, ``scale`` times its longer side, black outside the image (as TF's
    cropAndResize extrapolates)."""
    width, height = image.size
    x1, y1, x2, y2 = box.x1 * width, box.y1 * height, box.x2 * width, box.y2 * height
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    size = max(1, round(side))
    return image.convert("RGB").crop((left, top, left + size, top + size))


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
