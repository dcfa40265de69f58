"""One settings object for the whole package (environment prefix ``LAVR_``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user data folder: ``$XDG_DATA_HOME/lavr`` or ``~/.local/share/lavr``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lavr"


class Settings(BaseSettings):
    """Everything configurable, read from ``LAVR_*`` environment variables or passed explicitly.

    Example: ``LAVR_DATA_DIR=/tmp/lavr LAVR_OPENAI_BASE_URL=http://localhost:8000/v1``.
    """

    model_config = SettingsConfigDict(env_prefix="LAVR_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Caches, assembled models, chat threads.")
    device: Literal["cpu", "cuda", "mps", "auto"] = "auto"

    # LLM
    llm: str = Field("local", description="'local', 'openai:MODEL', a .gguf path, or 'scripted'.")
    gguf_path: Path | None = Field(None, description="Use this GGUF instead of assembling the default one.")
    llm_context: int = 8192
    llm_threads: int | None = None
    llm_max_tokens: int = 512
    llm_temperature: float = 0.0
    llm_seed: int = 0
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_timeout_s: float = 60.0
    openai_tool_mode: Literal["tools", "json"] = Field(
        "tools", description="'tools' uses native function calling; 'json' asks for a JSON reply."
    )
    openai_vision: bool = Field(False, description="Attach images as image parts (vision models only).")

    # Agent
    max_steps: int = Field(6, ge=1, le=50, description="LLM planning turns before a forced answer.")
    max_retries: int = Field(3, ge=0, le=20, description="Malformed replies tolerated per question.")
    tool_timeout_s: float = 120.0
    max_parallel_tools: int = Field(4, ge=1, le=64, description="Tool calls of one move prefetched at once.")
    max_tool_calls_per_turn: int = Field(4, ge=1, le=16, description="Tool calls one ReAct turn may start.")
    num_examples: int = Field(3, ge=0, le=20, description="In-context examples shown to the planner.")

    # Experts
    detector_weights: str | None = Field(
        None, description="YOLO weights: a path or a name ultralytics resolves (e.g. yolo11n.pt)."
    )
    # The four thresholds below were chosen on the photos that ship inside packages by
    # scripts/choose_thresholds.py, which prints the choice, its count errors and every alternative; rerun it
    # when a detector, its post-processing or the photos change. Person detector alone: count error 3 on 11
    # photos, any value in (0.40, 0.52] is equivalent. Faces: error 0, gap (0.815, 0.999]. People rule: error 0.
    detector_confidence: float = 0.46
    face_weights_dir: Path | None = Field(
        None, description="Folder with MTCNN's pnet.pt, rnet.pt, onet.pt; default: the installed facenet-pytorch's."
    )
    face_min_size: int = Field(20, ge=12, description="Smallest face the face detector looks for, in pixels.")
    face_confidence: float = Field(0.91, ge=0.0, le=1.0, description="Face score threshold (chosen on data).")
    person_alone_confidence: float = Field(
        0.46, ge=0.0, le=1.0, description="A person box without a face counts as a person from this score..."
    )
    person_alone_min_aspect: float = Field(
        1.33, ge=0.0, description="... when its height is at least this many times its width (in pixels)."
    )
    allow_downloads: bool = Field(
        False, description="Let model libraries fetch missing weights (needs network; off by default)."
    )
    caption_model: str = Field(
        "Salesforce/blip-image-captioning-base",
        description="Image-to-text model: a local folder or a hub id already in the local HF cache (BLIP, GIT, "
        "Florence-2 families).",
    )
    region_model: Literal["resnet50_fpn_v2", "mobilenet_v3"] = "resnet50_fpn_v2"
    region_weights: Path | None = Field(
        None, description="Faster R-CNN state dict (.pth); default: torchvision's file in the torch hub cache."
    )
    max_image_pixels: int = Field(40_000_000, description="Larger images are refused.")
    work_image_side: int = Field(2048, description="Images are downscaled to this longest side for experts.")

    cache_max_bytes: int = Field(2_000_000_000, description="Size bound of the on-disk expert cache.")

    # Files the CLI/API may read images from; the LLM itself never names paths.
    allowed_roots: list[Path] = Field(default_factory=list)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    def resolved_device(self) -> str:
        """The torch device to use: ``auto`` picks cuda, then mps, then cpu."""
        if self.device != "auto":
            return self.device
        try:
            import torch

            if torch.cuda.is_available():
                return "cuda"
            if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                return "mps"
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        return "cpu"

    def subdir(self, name: str) -> Path:
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path
