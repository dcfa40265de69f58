"""LLM backends behind one protocol, and ``make_backend``, the one factory that builds one from a spec string.

Specs: ``local`` (the embedded GGUF), ``openai:MODEL`` (any OpenAI-compatible server), a path to a ``.gguf``
file, and ``scripted:<file.json>``: a ``ScriptedBackend`` replaying the replies in a JSON file, either a list of
replies or ``{"replies": [...], "repeat_last": true, "native_tools": false, "tool_profile": "compact"}``. Each
reply is a string or an object (sent as JSON text). Handy for testing pipelines and for dry runs of an eval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..settings import Settings
from .base import BackendProfile, ImagePart, LLMBackend, LLMReply, Message, ToolProfileName
from .scripted import ScriptedBackend, tool_call_reply

__all__ = ["BackendProfile", "ImagePart", "LLMBackend", "LLMReply", "Message", "ScriptedBackend", "make_backend",
           "scripted_backend_from_file", "tool_call_reply"]

SCRIPTED_PREFIX = "scripted:"


def make_backend(spec: str, settings: Settings) -> LLMBackend:
    """Build a backend from a spec (see the module docstring); ``BackendError`` for an unknown one."""
    spec = (spec or "").strip()
    if spec.startswith(SCRIPTED_PREFIX):
        return scripted_backend_from_file(spec[len(SCRIPTED_PREFIX):])
    if spec == "local":
        from .llama_cpp import LlamaCppBackend

        return LlamaCppBackend(settings)
    if spec.startswith("openai:"):
        from .openai_compat import OpenAIBackend

        return OpenAIBackend(spec.split(":", 1)[1], settings)
    if spec.endswith(".gguf") or Path(spec).expanduser().is_file():
        from .llama_cpp import LlamaCppBackend

        return LlamaCppBackend(settings, model_path=Path(spec))
    raise BackendError(f"unknown LLM {spec!r}: use 'local', 'openai:MODEL', a path to a .gguf file or "
                       "'scripted:FILE.json'")


def scripted_backend_from_file(path: Path | str) -> LLMBackend:
    """A ``ScriptedBackend`` from a JSON file (format in the module docstring).

    Raises:
        BackendError: The file is missing or not a list/object of replies.
    """
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackendError(f"scripted LLM: cannot read {path} ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise BackendError(f"scripted LLM: {path} is not valid JSON ({exc.msg})") from None
    options: dict[str, Any] = {}
    profile: ToolProfileName | None = None
    if isinstance(data, dict):
        options = {k: bool(data[k]) for k in ("repeat_last", "native_tools", "images") if k in data}
        profile = data.get("tool_profile")
        if profile not in (None, "full", "compact"):
            raise BackendError(f"scripted LLM: {path}: tool_profile must be 'full' or 'compact', not {profile!r}")
        data = data.get("replies")
    if not isinstance(data, list) or not all(isinstance(r, (str, dict)) for r in data):
        raise BackendError(f"scripted LLM: {path} must hold a list of replies (strings or objects)")
    return ScriptedBackend(data, native_tools=options.get("native_tools", False),
                           images=options.get("images", False), repeat_last=options.get("repeat_last", False),
                           tool_profile=profile)
