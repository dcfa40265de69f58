"""Loading and holding images. The LLM only ever sees ids (``img_0``, ``crop_1``); pixels stay here."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .schema import Box

ImageInput = str | Path | bytes | bytearray | Image.Image

MIN_SIDE = 4
# Pillow's decompression-bomb guard (Image.MAX_IMAGE_PIXELS, ~89 Mpx) is a process-wide global; lavr has its own
# bound, max_pixels (LAVR_MAX_IMAGE_PIXELS), checked from the header before any pixel is decoded, so Pillow's is
# lifted while lavr parses a header: otherwise a 90 Mpx photo is "not an image" whatever the setting says.
_BOMB_GUARD_LOCK = threading.Lock()
# ultralytics replaces PIL.Image.open with a wrapper that tries to pip-install a HEIF plugin when a file is not
# recognised; lavr keeps Pillow's own function so a bad file is just a bad file.
_PIL_OPEN = Image.open


def _pil_open(fp: io.BytesIO) -> Image.Image:
    """Parse the header (no pixels are decoded) with Pillow's own guard lifted; the caller checks the size."""
    opener = _PIL_OPEN
    if getattr(opener, "__module__", "PIL.Image") != "PIL.Image":  # patched before lavr was imported
        import sys

        opener = getattr(sys.modules.get(opener.__module__), "_image_open", opener)
    with _BOMB_GUARD_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return opener(fp)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@dataclass(frozen=True)
class StoredImage:
    """An RGB image with its content hash and where it came from.

    ``sha256`` hashes the pixels the experts see (after downscaling to the working size): it keys the expert
    cache. ``original_sha256`` hashes the decoded image before downscaling, so it does not depend on
    ``LAVR_WORK_IMAGE_SIDE``: it is what "the same image" means when comparing with in-context examples.
    """

    id: str
    pil: Image.Image
    sha256: str
    source: str
    parent: str | None = None
    box: Box | None = None
    original_sha256: str = ""

    @property
    def size(self) -> tuple[int, int]:
        return self.pil.size


def check_allowed(path: Path, allowed_roots: list[Path]) -> None:
    if not allowed_roots:
        return
    resolved = path.resolve()
    for root in allowed_roots:
        try:
            resolved.relative_to(Path(root).expanduser().resolve())
            return
        except ValueError:
            continue
    raise ImageError(f"{path}: outside the allowed folders ({', '.join(str(r) for r in allowed_roots)})")


def load_image(
    source: ImageInput,
    *,
    max_pixels: int = 40_000_000,
    work_side: int = 2048,
    allowed_roots: list[Path] | None = None,
) -> tuple[Image.Image, str]:
    """Open any supported input as an RGB PIL image and return it with a short description of its source.

    Handles greyscale, palette, RGBA (composited on white), CMYK, 16-bit, animated (first frame) and
    EXIF-rotated images; refuses missing, non-image, truncated, tiny and over-large ones with ``ImageError``.
    The image is downscaled to ``work_side`` (longest side).
    """
    img, name = decode_image(source, max_pixels=max_pixels, allowed_roots=allowed_roots)
    return fit_work_side(img, work_side), name


def fit_work_side(img: Image.Image, work_side: int) -> Image.Image:
    """A copy downscaled to ``work_side`` (longest side), or ``img`` itself when it already fits."""
    if max(img.size) > work_side:
        img = img.copy()
        img.thumbnail((work_side, work_side), Image.Resampling.LANCZOS)
    return img


def decode_image(
    source: ImageInput,
    *,
    max_pixels: int = 40_000_000,
    allowed_roots: list[Path] | None = None,
) -> tuple[Image.Image, str]:
    """``load_image`` without the downscaling: the RGB image at its own size, and its source's description."""
    name: str
    if isinstance(source, Image.Image):
        img, name = source, "<PIL image>"
    else:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise ImageError("empty image bytes")
            data, name = bytes(source), f"<{len(source)} bytes>"
        else:
            path = Path(source).expanduser()
            name = str(path)
            check_allowed(path, allowed_roots or [])
            if not path.exists():
                raise ImageError(f"{path}: no such file")
            if not path.is_file():
                raise ImageError(f"{path}: not a file")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
            if not data:
                raise ImageError(f"{path}: empty file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = _pil_open(io.BytesIO(data))
                if img.width * img.height > max_pixels:
                    raise ImageError(
                        f"{name}: {img.width}x{img.height} is more than {max_pixels:,} pixels "
                        "(set LAVR_MAX_IMAGE_PIXELS to allow it)"
                    )
                img.load()
        except ImageError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError):
            raise ImageError(f"{name}: not an image lavr can read") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None

    if img.width * img.height > max_pixels:
        raise ImageError(f"{name}: {img.width}x{img.height} is more than {max_pixels:,} pixels")
    if min(img.size) < MIN_SIDE:
        raise ImageError(f"{name}: {img.width}x{img.height} is too small (at least {MIN_SIDE} pixels a side)")
    if getattr(img, "is_animated", False):
        img.seek(0)
    img = ImageOps.exif_transpose(img) or img
    return to_rgb(img), name


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any mode to RGB; transparent pixels become white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.split()[-1])
        return canvas
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = img.point(lambda v: v * (1 / 256)).convert("L")
        return arr.convert("RGB")
    return img.convert("RGB")


def content_hash(img: Image.Image) -> str:
    digest = hashlib.sha256()
    digest.update(f"{img.mode}:{img.width}x{img.height}:".encode())
    digest.update(img.tobytes())
    return digest.hexdigest()


class ImageStore:
    """Holds the images of one question (or one chat thread) by id. Thread-safe."""

    def __init__(self, *, max_pixels: int = 40_000_000, work_side: int = 2048, allowed_roots: list[Path] | None = None):
        self._images: dict[str, StoredImage] = {}
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self.max_pixels = max_pixels
        self.work_side = work_side
        self.allowed_roots = allowed_roots or []

    def _next_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0)
        self._counters[prefix] = n + 1
        return f"{prefix}_{n}"

    def add(self, source: ImageInput, *, image_id: str | None = None) -> StoredImage:
        full, name = decode_image(source, max_pixels=self.max_pixels, allowed_roots=self.allowed_roots)
        original = content_hash(full)
        work = fit_work_side(full, self.work_side)
        return self.add_pil(work, source=name, image_id=image_id, original_sha256=original,
                            sha256=original if work is full else None)

    def add_pil(self, pil: Image.Image, *, source: str, image_id: str | None = None,
                original_sha256: str | None = None, sha256: str | None = None) -> StoredImage:
        """Store an already decoded RGB image; ``original_sha256`` defaults to its own hash (not downscaled)."""
        digest = sha256 or content_hash(pil)
        with self._lock:
            image_id = image_id or self._next_id("img")
            stored = StoredImage(id=image_id, pil=pil, sha256=digest, source=source,
                                 original_sha256=original_sha256 or digest)
            self._images[image_id] = stored
            return stored

    def crop(self, image_id: str, box: Box) -> StoredImage:
        """Cut a region out of an image and store it as ``crop_N``."""
        parent = self.get(image_id)
        if box.width <= 0 or box.height <= 0:
            raise ImageError(f"box {box.render()} is empty (zero width or height)")
        w, h = parent.size
        x1, y1, x2, y2 = box.to_pixels(w, h)
        x2, y2 = min(x2, w), min(y2, h)
        if x2 - x1 < 1 or y2 - y1 < 1:
            raise ImageError(f"box {box.render()} is empty inside {image_id}")
        with self._lock:
            for existing in self._images.values():  # the same region asked for again keeps its id
                if existing.parent == image_id and existing.box == box:
                    return existing
        pil = parent.pil.crop((x1, y1, x2, y2))
        digest = content_hash(pil)
        with self._lock:
            crop_id = self._next_id("crop")
            stored = StoredImage(
                id=crop_id, pil=pil, sha256=digest, source=f"{image_id}{box.render()}",
                parent=image_id, box=box, original_sha256=digest,
            )
            self._images[crop_id] = stored
            return stored

    def get(self, image_id: str) -> StoredImage:
        try:
            return self._images[image_id]
        except KeyError:
            known = ", ".join(sorted(self._images)) or "none"
            raise ImageError(f"unknown image id {image_id!r}; known images: {known}") from None

    def ids(self) -> list[str]:
        return list(self._images)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._images


def save_image_atomically(pil: Image.Image, path: Path, **save: object) -> None:
    """Write ``pil`` to ``path`` (``save``: PIL's format and options) so that a reader never sees half a file:
    a temporary file in the same folder, renamed over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pil.save(fh, **save)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
