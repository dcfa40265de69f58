"""``picture``: facts about the whole image, measured from its pixels and its detections.

Questions about the picture itself ("What color is the background?", "Is this a photo or a drawing?", "What
does this picture show?") are outside the scene-graph query language, and this machine has no captioner
weights. These facts need no weights: the size; drawing or photograph, from how flat the colours are (a drawing
or diagram is mostly areas of one flat colour, a photograph has sensor noise and gradients almost everywhere);
the background colour, from
the border; the main colours; and what kinds of things the detector found ("shapes", "people", "vehicles").
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ..errors import ToolError
from ..lexicon.nouns import plural_candidates
from .base import ImageArg, RunContext, Tool, ToolOutput
from .detect import DetectInput, DetectTool, canonical_label
from .scene_graph import colour_names

if TYPE_CHECKING:
    from ..settings import Settings

SIDE = 256  # colours are measured on a copy this size at most: enough for shares, fast
STYLE_SIDE = 1024  # flatness is measured near full resolution (downscaling averages a photograph's noise away)
STILL_STEP = 2  # a pixel is "still" when no channel differs by more than this from its right and lower neighbours
# Share of still pixels at or above which the image is a drawing. Measured here: flat-coloured drawings
# 0.94-0.97 (the shapes scenes, scikit-image's horse silhouette), photographs 0.13-0.61 (bus, zidane, astronaut,
# coffee, chelsea, china, flower, rocket, grace_hopper, camera); a logo (0.75) or a photo of the moon on black
# (0.73) fall between, on the photograph side.
DRAWING_SHARE = 0.85
GREY_CHROMA = 16  # a pixel whose channels differ by at most this is grey (JPEG noise tints a grey photo slightly)
GREY_SHARE = 0.98  # a picture with at least this share of grey pixels is black and white
BORDER = 0.04  # the border band (fraction of each side) whose colour is the background
BACKGROUND_SHARE = 0.5  # a colour must cover this share of the border to be called the background

# What kind of thing each label is, so "What does this picture show?" has a general answer (COCO's
# super-categories, worded as people say them, plus geometric shapes).
KINDS: dict[str, tuple[str, ...]] = {
    "people": ("person", "face", "man", "woman", "child"),
    "shapes": ("circle", "square", "triangle", "rectangle", "cube", "sphere", "cylinder", "cone", "star",
               "hexagon", "pentagon", "ellipse", "oval", "diamond"),
    "vehicles": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "animals": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"),
    "street objects": ("traffic light", "fire hydrant", "stop sign", "parking meter", "bench"),
    "accessories": ("backpack", "umbrella", "handbag", "tie", "suitcase"),
    "sports equipment": ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
                         "skateboard", "surfboard", "tennis racket"),
    "kitchenware": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    "food": ("banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake"),
    "furniture": ("chair", "couch", "potted plant", "bed", "dining table", "toilet"),
    "electronics": ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
    "appliances": ("microwave", "oven", "toaster", "sink", "refrigerator"),
    "household objects": ("book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"),
}
KIND_OF: dict[str, str] = {label: kind for kind, labels in KINDS.items() for label in labels}


class PictureInput(ImageArg):
    pass


class Things(BaseModel):
    """Detected objects of one kind: ``shapes: 3 squares, 2 triangles``."""

    kind: str
    counts: dict[str, int]

    def to_text(self) -> str:
        parts = ", ".join(f"{n} {label if n == 1 else plural_candidates(label)[0]}"
                          for label, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{self.kind} ({parts})"


class PictureOutput(ToolOutput):
    image: str
    size: tuple[int, int]
    style: Literal["drawing", "photograph"]
    flat_share: float = Field(description="Share of pixels equal to their right and lower neighbours.")
    tone: Literal["black and white", "colour"] = Field(
        "colour", description="Black and white when nearly every pixel is grey (its channels nearly equal).")
    background: str = Field(description="Colour name of the border, or 'mixed'.")
    background_share: float
    colours: dict[str, float] = Field(description="Main colour names and their share of the pixels.")
    things: list[Things] = Field(default_factory=list, description="What the detector found, by kind.")

    def to_text(self) -> str:
        w, h = self.size
        main = ", ".join(f"{name} {share:.0%}" for name, share in self.colours.items())
        flat = f"{self.flat_share:.0%} of the pixels in flat areas"
        background = (f"{self.background} ({self.background_share:.0%} of the border)" if self.background != "mixed"
                      else "mixed (no colour covers half the border)")
        things = "; ".join(t.to_text() for t in self.things) or "no objects detected"
        return (f"{self.image}: {w}x{h} pixels; style: {self.style} ({flat}); tone: {self.tone}; "
                f"background: {background}; "
                f"main colours: {main}; shows: {things}")


def still_share(img: Any) -> float:
    """Share of pixels that equal their right and lower neighbours (within ``STILL_STEP`` in every channel)."""
    if max(img.size) > STYLE_SIDE:
        img = img.copy()
        img.thumbnail((STYLE_SIDE, STYLE_SIDE))
    px = np.asarray(img, dtype=np.int16)
    if px.shape[0] < 2 or px.shape[1] < 2:
        return 1.0
    dx = np.abs(px[:, 1:] - px[:, :-1]).max(axis=2)[:-1]
    dy = np.abs(px[1:] - px[:-1]).max(axis=2)[:, :-1]
    return round(float(((dx <= STILL_STEP) & (dy <= STILL_STEP)).mean()), 3)


def pixel_facts(pil: Any) -> dict[str, Any]:
    """Style, background and main colours of an image (pure pixel statistics, no weights)."""
    img = pil.convert("RGB")
    flat_share = still_share(img)
    img.thumbnail((SIDE, SIDE))
    px = np.asarray(img, dtype=np.uint8)
    h, w = px.shape[:2]
    flat = px.reshape(-1, 3)
    bh, bw = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    border = np.concatenate([px[:bh].reshape(-1, 3), px[-bh:].reshape(-1, 3),
                             px[:, :bw].reshape(-1, 3), px[:, -bw:].reshape(-1, 3)])
    border_names = Counter(colour_names(border).tolist())
    background, n = border_names.most_common(1)[0]
    share = n / len(border)
    names = Counter(colour_names(flat).tolist())
    colours = {name: round(c / len(flat), 2) for name, c in names.most_common(4) if c / len(flat) >= 0.02}
    chroma = px.max(axis=2).astype(np.int16) - px.min(axis=2)
    grey = float((chroma <= GREY_CHROMA).mean())
    return {"style": "drawing" if flat_share >= DRAWING_SHARE else "photograph", "flat_share": flat_share,
            "tone": "black and white" if grey >= GREY_SHARE else "colour",
            "background": background if share >= BACKGROUND_SHARE else "mixed",
            "background_share": round(share, 3), "colours": colours}


def things_by_kind(labels: list[str]) -> list[Things]:
    """Detected labels grouped by kind, the kind with most objects first (unknown labels: "other objects")."""
    groups: dict[str, Counter[str]] = {}
    for label in labels:
        canon = canonical_label(label)
        groups.setdefault(KIND_OF.get(canon, "other objects"), Counter())[canon] += 1
    # most objects first; between equals, the order of KINDS (people before the ties they wear)
    rank = {kind: i for i, kind in enumerate(KINDS)}
    ordered = sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), rank.get(kv[0], len(rank))))
    return [Things(kind=kind, counts=dict(counts)) for kind, counts in ordered]


class PictureTool(Tool[PictureInput, PictureOutput]):
    """Facts about the whole picture: size, drawing or photograph, background colour, main colours, and what
    kinds of things it shows (from the detector). Use it for questions about the image itself rather than
    about particular objects."""

    name = "picture"
    input_model = PictureInput
    output_model = PictureOutput

    def __init__(self, settings: Settings, *, detector: DetectTool | None = None, scene_graph: Any = None):
        super().__init__(settings)
        self.detector = detector
        self.scene_graph = scene_graph  # a SceneGraphTool: its objects (people cross-checked) are what it shows

    def _ready_detector(self) -> DetectTool | None:
        """The detector when it is wired and can run, else ``None``."""
        return self.detector if self.detector is not None and self.detector.availability().available else None

    def prefetch(self, args: PictureInput, ctx: RunContext) -> None:
        detector = self._ready_detector()
        if detector is None:
            return
        if self.scene_graph is not None:
            self.scene_graph.prefetch(self.scene_graph.input_model(image=args.image), ctx)
        else:
            detector.prefetch(DetectInput(image=args.image), ctx)

    def labels_shown(self, image_id: str, ctx: RunContext) -> list[str]:
        """The labels of the things the picture shows: the scene graph's objects (people counted with faces;
        faces are parts of people, not things of their own) where it is wired, else the detector's."""
        detector = self._ready_detector()
        if detector is None:
            return []
        if self.scene_graph is not None:
            return [o.label for o in self.scene_graph.scene_objects(image_id, ctx) if o.label != "face"]
        return [d.label for d in detector.run(DetectInput(image=image_id), ctx).detections]

    def run(self, args: PictureInput, ctx: RunContext) -> PictureOutput:
        try:
            stored = ctx.images.get(args.image)
        except Exception as exc:  # an unknown id or an unreadable image: the LLM sees why
            raise ToolError(str(exc)) from None
        things = things_by_kind(self.labels_shown(args.image, ctx))
        return PictureOutput(image=args.image, size=stored.size, things=things, **pixel_facts(stored.pil))
