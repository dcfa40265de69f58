"""Scenes of the synthetic shapes set: flat drawings of coloured shapes, described exactly (see
``lavr.eval.synthetic``).

Geometry is chosen so that questions about a scene have one exact answer: objects never overlap, object centres
differ by at least ``MIN_DX`` pixels horizontally (left/right of is never borderline), vertical relations are
asked only when centres differ by at least ``MIN_DY`` pixels, and "small" and "large" sizes do not overlap in box
or drawn area (a large triangle's drawn area exceeds a small square's).
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel

__all__ = ["BACKGROUNDS", "COLORS", "HEIGHT", "MATERIALS", "MIN_DX", "MIN_DY", "ORACLE", "SHAPES", "SIZES", "WIDTH",
           "Obj", "DrawnScene", "make_scene", "render"]

WIDTH, HEIGHT = 160, 120
SHAPES = ("circle", "square", "triangle")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 205, 30),
    "purple": (140, 60, 190),
}
SIZES: dict[str, tuple[int, int]] = {"small": (7, 9), "large": (15, 18)}  # half-extent in pixels, inclusive
MATERIALS = ("rubber", "metal")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"white": (255, 255, 255), "black": (15, 15, 15),
                                                 "gray": (128, 128, 128)}
MIN_DX = 8  # pixels between any two object centres, horizontally
MIN_DY = 8  # pixels between centres for a vertical relation to be asked about
GAP = 3  # pixels between any two boxes
MIN_OBJECTS, MAX_OBJECTS = 3, 6
ORACLE = "oracle"


class Obj(BaseModel):
    """One object of a scene: what it is and where it is drawn (pixels; the box is ``cx +- r``, ``cy +- r``)."""

    shape: str
    color: str
    size: str
    material: str
    cx: int
    cy: int
    r: int

    def attr(self, key: str) -> str:
        return str(getattr(self, key))

    @property
    def box_px(self) -> tuple[int, int, int, int]:
        return self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r

    def box(self, width: int = WIDTH, height: int = HEIGHT) -> list[float]:
        """The box in the box convention: ``[x1, y1, x2, y2]`` normalised, origin top-left."""
        x1, y1, x2, y2 = self.box_px
        return [round(x1 / width, 4), round(y1 / height, 4), round(x2 / width, 4), round(y2 / height, 4)]


class DrawnScene(BaseModel):
    """A flat scene: background colour and objects, in left-to-right order."""

    index: int
    background: str
    objects: list[Obj]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def name(self) -> str:
        return f"scene_{self.index:03d}"

    def detections(self) -> dict[str, Any]:
        """The oracle ``detect`` output, as ``precomputed`` rows carry it."""
        dets = [{"label": o.shape, "confidence": 1.0, "box": o.box(self.width, self.height),
                 "attributes": {"shape": o.shape, "color": o.color, "size": o.size, "material": o.material}}
                for o in self.objects]
        return {"detections": dets, "labels": list(SHAPES), "model": ORACLE}


def _separated(candidate: Obj, placed: list[Obj]) -> bool:
    x1, y1, x2, y2 = candidate.box_px
    for other in placed:
        ox1, oy1, ox2, oy2 = other.box_px
        apart = x2 + GAP <= ox1 or ox2 + GAP <= x1 or y2 + GAP <= oy1 or oy2 + GAP <= y1
        if not apart or abs(candidate.cx - other.cx) < MIN_DX:
            return False
    return True


def make_scene(index: int, rng: random.Random) -> DrawnScene:
    """A random scene whose geometry meets the module's guarantees (retries until one fits)."""
    while True:
        n = rng.randint(MIN_OBJECTS, MAX_OBJECTS)
        placed: list[Obj] = []
        for _ in range(n):
            size = rng.choice(list(SIZES))
            r = rng.randint(*SIZES[size])
            traits = {"shape": rng.choice(SHAPES), "color": rng.choice(list(COLORS)), "size": size,
                      "material": rng.choice(MATERIALS), "r": r}
            for _attempt in range(200):
                obj = Obj(cx=rng.randint(r + 2, WIDTH - r - 3), cy=rng.randint(r + 2, HEIGHT - r - 3), **traits)
                if _separated(obj, placed):
                    placed.append(obj)
                    break
            else:
                break  # no room left: draw a new scene
        if len(placed) == n:
            placed.sort(key=lambda o: o.cx)
            return DrawnScene(index=index, background=rng.choice(list(BACKGROUNDS)), objects=placed)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(c * factor))) for c in rgb)  # type: ignore[return-value]


def render(scene: DrawnScene) -> Any:
    """The scene as a PIL image. Metal objects get a dark rim and a small highlight; rubber ones are flat."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (scene.width, scene.height), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(img)
    for o in scene.objects:
        fill = COLORS[o.color]
        rim = _shade(fill, 0.55) if o.material == "metal" else None
        width = 2 if rim else 0
        x1, y1, x2, y2 = o.box_px
        if o.shape == "circle":
            draw.ellipse((x1, y1, x2, y2), fill=fill, outline=rim, width=width)
        elif o.shape == "square":
            draw.rectangle((x1, y1, x2, y2), fill=fill, outline=rim, width=width)
        else:
            draw.polygon([(x1, y2), (x2, y2), (o.cx, y1)], fill=fill, outline=rim, width=width)
        if o.material == "metal":
            hx, hy = (o.cx - o.r // 3, o.cy + o.r // 3) if o.shape == "triangle" else (o.cx - o.r // 2, o.cy - o.r // 2)
            h = max(1, o.r // 5)
            draw.ellipse((hx - h, hy - h, hx + h, hy + h), fill=(255, 255, 255))
    return img
