"""Thread images kept on disk by content hash, so a thread's images survive a restart.

Images are stored as lossless PNG of the decoded RGB pixels: reading one back gives the same pixels, hence the
same ``content_hash`` and the same expert-cache keys as when it was attached.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from ..errors import ThreadStateError
from ..images import content_hash, save_image_atomically

SHA = re.compile(r"^[0-9a-f]{64}$")


class ImageBlobs:
    """A folder of ``<sha[:2]>/<sha>.png`` files; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not SHA.match(sha256):
            raise ThreadStateError(f"bad image hash {sha256[:80]!r} in thread state")
        return self.root / sha256[:2] / f"{sha256}.png"

    def put(self, pil: Image.Image) -> str:
        """Store an RGB image; returns its content hash (the same one ``lavr.images.content_hash`` gives)."""
        sha = content_hash(pil)
        path = self.path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image_atomically(pil, path, format="PNG", compress_level=1)
        return sha

    def get(self, sha256: str) -> Image.Image:
        path = self.path(sha256)
        try:
            with Image.open(path) as img:
                pil = img.convert("RGB")
        except FileNotFoundError:
            raise ThreadStateError(f"thread image {sha256[:12]} is missing from {self.root}") from None
        except OSError as exc:
            raise ThreadStateError(f"thread image {path} is unreadable ({exc})") from None
        return pil
