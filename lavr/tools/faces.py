"""``faces``: a face detector (MTCNN) as a second expert on people, independent of the person detector."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from ..errors import ToolError, WeightsMissing
from ..schema import Box, Detection
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput

if TYPE_CHECKING:  # pragma: no cover
    from .mtcnn import MTCNN

logger = logging.getLogger(__name__)

FACE_LABEL = "face"
WEIGHTS_FIX = (
    "pip install facenet-pytorch==2.5.3 (part of lavr's `models` extra; only its weight files are used), or set "
    "LAVR_FACE_WEIGHTS_DIR to a folder holding pnet.pt, rnet.pt and onet.pt from any facenet-pytorch wheel "
    "(e.g. `pip download --no-deps facenet-pytorch==2.6.0` and unzip facenet_pytorch/data/)"
)
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
FACE_WEIGHTS_PACKAGE = "facenet_pytorch"
NET_FILES = ("pnet.pt", "rnet.pt", "onet.pt")
# sha256 of the three files in facenet-pytorch 2.5.3 and 2.6.0 (identical in both releases).
NET_SHA256 = {
    "pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}


def packaged_weights_dir() -> Path | None:
    """``facenet_pytorch/data`` of the installed wheel, found without importing that package's code."""
    spec = importlib.util.find_spec(FACE_WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return folder if all((folder / name).is_file() for name in NET_FILES) else None


def weights_digest(folder: Path) -> str:
    """sha256 over the three files, in order: the weights' identity (part of every cache key)."""
    h = hashlib.sha256()
    for name in NET_FILES:
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def check_weights(folder: Path) -> str | None:
    """``None`` if the folder holds the three known files, else what is wrong."""
    for name in NET_FILES:
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != NET_SHA256[name]:
            return f"{path} is not the known MTCNN file (sha256 {digest[:12]}...)"
    return None


def resolve_face_weights(settings: Settings) -> tuple[Path | None, str | None]:
    """The folder with the three MTCNN state dicts, or ``(None, why not)``."""
    folder = settings.face_weights_dir or packaged_weights_dir()
    if folder is None:
        return None, "MTCNN weights not found: facenet-pytorch is not installed and LAVR_FACE_WEIGHTS_DIR is unset"
    problem = check_weights(folder)
    return (None, problem) if problem else (folder, None)


def weights_source(folder: Path) -> str:
    """Where the weights come from, for ``lavr tools``: the wheel and its version, or the folder."""
    if folder == packaged_weights_dir():
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"the facenet-pytorch {version('facenet-pytorch')} wheel ({folder})"
        except PackageNotFoundError:
            pass
    return str(folder)


class FacesInput(ImageArg):
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Drop faces below this score (default: the threshold chosen on data)."
    )


class RawFaceRecord(BaseModel):
    box: Box
    confidence: float
    landmarks: dict[str, tuple[float, float]]  # normalised (x, y) per landmark name


class RawFaces(BaseModel):
    """What the cascade found on one image, before the confidence filter: this is what the cache stores."""

    faces: list[RawFaceRecord]


class FacesOutput(ToolOutput):
    image: str
    image_size: tuple[int, int]
    faces: list[Detection]
    landmarks: dict[str, dict[str, tuple[float, float]]]  # face id -> landmark name -> normalised (x, y)
    count: int
    min_confidence: float
    min_face_px: int

    def to_text(self) -> str:
        w, h = self.image_size
        lines = [f"{self.image} {w}x{h}: {self.count} faces with confidence >= {self.min_confidence:.2f} "
                 f"(faces smaller than {self.min_face_px} px, turned away or hidden are not found)."]
        lines += [d.render() for d in self.faces]
        return "\n".join(lines)


class FacesTool(Tool[FacesInput, FacesOutput]):
    """Find human faces (MTCNN face detector): boxes and confidences, each with an id (obj_N, label face).

    A second expert on people, independent of detect: a face confirms a person; a person seen from behind
    has no face. Use the `people` tool to combine both.
    """

    name = "faces"
    input_model = FacesInput
    output_model = FacesOutput

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._mtcnn: MTCNN | None = None
        self._identity: str | None = None

    def availability(self) -> Availability:
        folder, reason = resolve_face_weights(self.settings)
        if folder is None:
            return Availability(available=False, weights="MTCNN (P/R/O-net)", reason=reason, fix=WEIGHTS_FIX)
        return Availability(available=True, weights=f"MTCNN P/R/O-net state dicts from {weights_source(folder)}")

    def identity(self) -> str:
        if self._identity is None:
            folder, _ = resolve_face_weights(self.settings)
            digest = weights_digest(folder)[:16] if folder is not None else "missing"
            self._identity = f"mtcnn:{digest}:min{self.settings.face_min_size}"
        return self._identity

    def setup(self) -> None:
        folder, reason = resolve_face_weights(self.settings)
        if folder is None:
            raise WeightsMissing(f"{reason}; fix: {WEIGHTS_FIX}")
        from .mtcnn import MTCNN, CascadeConfig, load_nets  # torch: imported on first use only

        device = self.settings.resolved_device()
        device = device if device in ("cpu", "cuda") else "cpu"  # small nets: mps gains nothing
        nets = load_nets((folder / NET_FILES[0], folder / NET_FILES[1], folder / NET_FILES[2]), device)
        self._mtcnn = MTCNN(nets, config=CascadeConfig(min_face=self.settings.face_min_size),
                            device=device)
        logger.info("MTCNN loaded from %s on %s", folder, device)

    def detect(self, pil: Any) -> RawFaces:
        """Run the cascade on one RGB PIL image."""
        self.ensure_ready()
        assert self._mtcnn is not None
        w, h = pil.size
        records = []
        for face in self._mtcnn.detect(np.asarray(pil.convert("RGB"))):
            records.append(RawFaceRecord(
                box=Box.from_pixels(face.box, w, h), confidence=round(face.score, 4),
                landmarks={name: (round(min(1.0, max(0.0, x / w)), 4), round(min(1.0, max(0.0, y / h)), 4))
                           for name, (x, y) in zip(LANDMARK_NAMES, face.landmarks)},
            ))
        records.sort(key=lambda r: (r.box.x1, r.box.y1))
        return RawFaces(faces=records)

    def faces_raw(self, image_id: str, ctx: RunContext) -> RawFaces:
        try:
            stored = ctx.images.get(image_id)
        except Exception as exc:
            raise ToolError(str(exc)) from None
        value, _ = ctx.memo(tool=self.name, image=stored, params={}, identity=self.identity(), model=RawFaces,
                            compute=lambda: self.detect(stored.pil))
        return value

    def prefetch(self, args: FacesInput, ctx: RunContext) -> None:
        self.faces_raw(args.image, ctx)

    def run(self, args: FacesInput, ctx: RunContext) -> FacesOutput:
        threshold = self.settings.face_confidence if args.min_confidence is None else args.min_confidence
        raw = self.faces_raw(args.image, ctx)
        faces, landmarks = [], {}
        for record in raw.faces:
            if record.confidence < threshold:
                continue
            det = ctx.register_object(image=args.image, label=FACE_LABEL, confidence=record.confidence,
                                      box=record.box)
            faces.append(det)
            landmarks[det.id] = record.landmarks
        return FacesOutput(image=args.image, image_size=ctx.images.get(args.image).size, faces=faces,
                           landmarks=landmarks, count=len(faces), min_confidence=threshold,
                           min_face_px=self.settings.face_min_size)
