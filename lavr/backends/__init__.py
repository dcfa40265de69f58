"""LLM backends behind one protocol, and ``make_backend`` to build one from a spec string."""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendError
from ..settings import Settings
from .base import ImagePart, LLMBackend, LLMReply, Message
from .scripted import ScriptedBackend, tool_call_reply

__all__ = ["ImagePart", "LLMBackend", "LLMReply", "Message", "ScriptedBackend", "make_backend", "tool_call_reply"]


def make_backend(spec: str, settings: Settings | None = None) -> LLMBackend:
    """Build a backend from ``local``, ``openai:MODEL`` or a path to a ``.gguf`` file."""
    settings = settings or Settings()
    spec = (spec or "").strip()
    if spec == "local":
        from .llama_cpp import LlamaCppBackend

        return LlamaCppBackend(settings)
    if spec.startswith("openai:"):
        from .openai_compat import OpenAIBackend

        return OpenAIBackend(spec.split(":", 1)[1], settings)
    if spec.endswith(".gguf") or Path(spec).expanduser().is_file():
        from .llama_cpp import LlamaCppBackend

        return LlamaCppBackend(settings, model_path=Path(spec))
    raise BackendError(f"unknown LLM {spec!r}: use 'local', 'openai:MODEL' or a path to a .gguf file")
