"""What a person's body keypoints say: posture, raised arms, which way they face. Pure geometry, no weights.

Keypoints are the 17 of COCO (MoveNet's order, ``KEYPOINTS``), each ``(x, y, score)`` with x, y normalised to
the image (the box convention: origin top-left, y down). Angles are measured in pixels, so the image size is
needed. A keypoint counts only when its score is at least ``min_score``; an attribute whose deciding keypoints
are not all seen is absent, never guessed (a portrait shows no legs: no posture).

The rules (geometry, not fitted; angles from the vertical, in degrees):
- posture ``lying``: the torso (hips' middle to shoulders' middle) is within ``LYING_TORSO`` of horizontal,
  or the shoulders are below the hips, and no seen thigh stands upright.
- posture ``standing``: every seen thigh (hip to knee) points down within ``UPRIGHT_LIMB`` of vertical and is
  at least ``LONG_THIGH`` of the torso's length (a thigh pointing at the camera looks short), its shin (knee to
  ankle), where seen, too, and the torso is not lying.
- posture ``sitting``: the torso is within ``UPRIGHT_TORSO`` of vertical and every seen thigh is within
  ``SEATED_THIGH`` of horizontal (seen from the side), or shorter than ``SHORT_THIGH`` of the torso with its shin
  seen pointing down (seen from the front: the thigh points at the camera).
  Anything else (kneeling, crouching, a bent-over torso without legs) gives no posture.
- arms ``raised``: a seen wrist above the nose (or, without a nose, above the shoulders by a third of the torso);
  ``down``: both wrists seen and neither raised.
- facing ``camera``: nose and both eyes seen and the person's left shoulder on the image's right of their right
  shoulder (a mirror view); ``away``: both shoulders seen but neither the nose nor an eye, or the shoulders in
  the other order with no eye seen; ``side``: the nose seen, the shoulders' width under ``SIDE_WIDTH`` of the
  torso's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)
INDEX = {name: i for i, name in enumerate(KEYPOINTS)}

MIN_SCORE = 0.3  # MoveNet's own keypoint threshold in the upstream library is 0.3
LYING_TORSO = 30.0  # torso within this many degrees of horizontal: lying
UPRIGHT_TORSO = 40.0  # torso within this many degrees of vertical: upright enough to sit
UPRIGHT_LIMB = 30.0  # thigh or shin within this many degrees of vertical, pointing down: standing
SEATED_THIGH = 35.0  # thigh within this many degrees of horizontal: sitting
LONG_THIGH = 0.6  # a standing thigh is at least this share of the torso's length (it is about 0.8-1.0)
SHORT_THIGH = 0.4  # a thigh shorter than this share of the torso points at the camera
SIDE_WIDTH = 0.35  # shoulder width under this share of the torso length: seen from the side

Posture = Literal["standing", "sitting", "lying"]
Arms = Literal["raised", "down"]
Facing = Literal["camera", "away", "side"]
POSTURES: tuple[str, ...] = ("standing", "sitting", "lying")
ARMS: tuple[str, ...] = ("raised", "down")
FACINGS: tuple[str, ...] = ("camera", "away", "side")

Point = tuple[float, float]
ScoredPoint = tuple[float, float, float]
Corners = Sequence[float]  # a box as x1, y1, x2, y2


class Body:
    """One person's keypoints in pixels, with the ones seen confidently."""

    def __init__(self, keypoints: Sequence[ScoredPoint], image_size: tuple[int, int], *, min_score: float = MIN_SCORE):
        if len(keypoints) != len(KEYPOINTS):
            raise ValueError(f"expected {len(KEYPOINTS)} keypoints, got {len(keypoints)}")
        w, h = image_size
        self.points = {name: (x * w, y * h) for name, (x, y, _) in zip(KEYPOINTS, keypoints)}
        self.seen = {name for name, (_, _, s) in zip(KEYPOINTS, keypoints) if s >= min_score}

    def get(self, name: str) -> Point | None:
        return self.points[name] if name in self.seen else None

    def middle(self, a: str, b: str) -> Point | None:
        """The middle of a pair when both are seen, else the one seen, else None."""
        pa, pb = self.get(a), self.get(b)
        if pa and pb:
            return ((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)
        return pa or pb

    def torso(self) -> tuple[Point, Point] | None:
        """(hips' middle, shoulders' middle) when at least one of each is seen."""
        hip, shoulder = self.middle("left_hip", "right_hip"), self.middle("left_shoulder", "right_shoulder")
        return (hip, shoulder) if hip and shoulder else None


def angle_from_vertical(start: Point, end: Point) -> float:
    """Degrees between the segment and the vertical (0: straight up or down, 90: horizontal)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    if dx == 0 and dy == 0:
        return 0.0
    return math.degrees(math.atan2(abs(dx), abs(dy)))


def _limbs(body: Body) -> list[tuple[Point, Point, Point | None]]:
    """(hip, knee, ankle or None) for each side whose hip and knee are seen."""
    out = []
    for side in ("left", "right"):
        hip, knee = body.get(f"{side}_hip"), body.get(f"{side}_knee")
        if hip and knee:
            out.append((hip, knee, body.get(f"{side}_ankle")))
    return out


def _upright_leg(hip: Point, knee: Point, ankle: Point | None, torso_length: float | None) -> bool:
    down = knee[1] > hip[1] and angle_from_vertical(hip, knee) <= UPRIGHT_LIMB
    if torso_length:
        down = down and math.dist(hip, knee) >= LONG_THIGH * torso_length
    if ankle is not None:
        down = down and ankle[1] > knee[1] and angle_from_vertical(knee, ankle) <= UPRIGHT_LIMB
    return down


def _seated_leg(hip: Point, knee: Point, ankle: Point | None, torso_length: float) -> bool:
    if angle_from_vertical(hip, knee) >= 90 - SEATED_THIGH:
        return True  # seen from the side
    shin_down = ankle is not None and ankle[1] > knee[1] and angle_from_vertical(knee, ankle) <= UPRIGHT_LIMB
    return shin_down and math.dist(hip, knee) < SHORT_THIGH * torso_length  # seen from the front


def posture(body: Body) -> Posture | None:
    """standing, sitting or lying, or None when the keypoints that decide it are not seen (module docstring)."""
    torso = body.torso()
    limbs = _limbs(body)
    torso_angle = angle_from_vertical(*torso) if torso else None
    torso_length = math.dist(*torso) if torso else None
    upside_down = torso is not None and torso[1][1] > torso[0][1]
    upright_legs = [leg for leg in limbs if _upright_leg(*leg, torso_length)]
    if torso_angle is not None and (torso_angle >= 90 - LYING_TORSO or upside_down) and not upright_legs:
        return "lying"
    if upright_legs and len(upright_legs) == len(limbs):
        return "standing"
    if torso_angle is not None and torso_length and torso_angle <= UPRIGHT_TORSO and limbs and not upright_legs:
        if all(_seated_leg(*leg, torso_length) for leg in limbs):
            return "sitting"
    return None


def arms(body: Body) -> Arms | None:
    """raised when a seen wrist is above the head, down when both wrists are seen below it, else None."""
    nose = body.get("nose")
    if nose is not None:
        line = nose[1]
    else:
        torso = body.torso()
        if torso is None:
            return None
        (hx, hy), (sx, sy) = torso
        line = sy - math.dist((hx, hy), (sx, sy)) / 3
    wrists = [body.get("left_wrist"), body.get("right_wrist")]
    if any(w is not None and w[1] < line for w in wrists):
        return "raised"
    if all(w is not None for w in wrists):
        return "down"
    return None


def facing(body: Body) -> Facing | None:
    """camera, away or side, or None (module docstring)."""
    ls, rs = body.get("left_shoulder"), body.get("right_shoulder")
    nose = body.get("nose")
    eyes = [e for e in (body.get("left_eye"), body.get("right_eye")) if e is not None]
    torso = body.torso()
    if ls and rs and torso:
        length = math.dist(*torso)
        width = math.dist(ls, rs)
        if nose and length > 0 and width < SIDE_WIDTH * length:
            return "side"
        mirrored = ls[0] > rs[0]
        if nose and len(eyes) == 2 and mirrored:
            return "camera"
        if not nose and not eyes:
            return "away"
        if not mirrored and not eyes:
            return "away"
    return None


def body_attributes(keypoints: Sequence[ScoredPoint], image_size: tuple[int, int], *,
                    min_score: float = MIN_SCORE) -> dict[str, str]:
    """The attributes the keypoints decide: any of ``posture``, ``arms``, ``facing``."""
    body = Body(keypoints, image_size, min_score=min_score)
    found = {"posture": posture(body), "arms": arms(body), "facing": facing(body)}
    return {k: v for k, v in found.items() if v is not None}


# Matching bodies to person boxes ---------------------------------------------------------------------------

MIN_INSIDE = 0.7  # share of a body's seen keypoints that must lie in the person box (grown by MARGIN)
MIN_IOU = 0.3  # IoU of the body's own box with the person box
MARGIN = 0.05  # a box is grown by this share of its size on each side before the containment test


def keypoints_inside(keypoints: Sequence[ScoredPoint], box: Corners, *,
                     min_score: float = MIN_SCORE) -> float:
    """Share of the seen keypoints inside ``box`` (x1, y1, x2, y2, normalised) grown by ``MARGIN``; 0 if none."""
    x1, y1, x2, y2 = box
    mx, my = MARGIN * (x2 - x1), MARGIN * (y2 - y1)
    seen = [(x, y) for x, y, s in keypoints if s >= min_score]
    if not seen:
        return 0.0
    return sum(x1 - mx <= x <= x2 + mx and y1 - my <= y <= y2 + my for x, y in seen) / len(seen)


def box_iou(a: Corners, b: Corners) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_bodies(persons: Sequence[Corners],
                 bodies: Sequence[tuple[Corners, Sequence[ScoredPoint]]], *,
                 min_score: float = MIN_SCORE) -> dict[int, int]:
    """Person box index -> body index, one body per box: a pair qualifies when at least ``MIN_INSIDE`` of the
    body's seen keypoints lie in the box and the boxes overlap by ``MIN_IOU``; among the matchings with the most
    pairs, the one with the greatest total (containment + IoU) wins."""
    import networkx as nx

    graph = nx.Graph()
    for i, person in enumerate(persons):
        for j, (body_box, keypoints) in enumerate(bodies):
            inside = keypoints_inside(keypoints, person, min_score=min_score)
            iou = box_iou(person, body_box)
            if inside >= MIN_INSIDE and iou >= MIN_IOU:
                graph.add_edge(("p", i), ("b", j), weight=inside + iou)
    pairs = {}
    for a, b in nx.max_weight_matching(graph, maxcardinality=True):
        (_, i), (_, j) = (a, b) if a[0] == "p" else (b, a)
        pairs[i] = j
    return pairs
