"""The embedded LLM: a GGUF model run in-process by llama-cpp-python, with JSON-schema constrained output."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..schema import Usage
from ..settings import Settings
from .base import LLMReply, Message
from .gguf import QWEN_CODER_1_5B, assemble

logger = logging.getLogger(__name__)

# llama.cpp's schema-to-grammar converter does not understand regex class escapes (an invalid grammar crashes
# the process), so patterns are rewritten with explicit character sets.
_PATTERN_ESCAPES = {r"\d": "[0-9]", r"\w": "[a-zA-Z0-9_]", r"\s": "[ ]"}


def grammar_safe_schema(schema: Any) -> Any:
    """A copy of ``schema`` whose regex patterns use only constructs the grammar converter supports."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                for escape, charset in _PATTERN_ESCAPES.items():
                    value = value.replace(escape, charset)
            out[key] = grammar_safe_schema(value)
        return out
    if isinstance(schema, list):
        return [grammar_safe_schema(v) for v in schema]
    return schema


_MODELS: dict[tuple[str, int, int], Any] = {}  # loaded once per process and shared by every agent
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free llama.cpp models before interpreter teardown (its own finaliser fails once modules are gone)."""
    with _MODELS_LOCK:
        for llm in _MODELS.values():
            try:
                llm.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        _MODELS.clear()


class LlamaCppBackend:
    """Runs a local GGUF. Without ``model_path`` it assembles the default Qwen2.5-Coder-1.5B-Instruct.

    The model is loaded on the first ``generate`` call and shared across backends in the process.
    """

    supports_native_tools = False
    supports_images = False

    def __init__(self, settings: Settings | None = None, *, model_path: Path | None = None):
        self.settings = settings or Settings()
        self.model_path = Path(model_path).expanduser() if model_path else (
            self.settings.gguf_path.expanduser() if self.settings.gguf_path else None)
        if self.model_path is not None and not self.model_path.is_file():
            raise BackendError(f"{self.model_path}: no such GGUF file")
        self.name = f"local:{self.model_path.name}" if self.model_path else f"local:{QWEN_CODER_1_5B.filename}"
        self._lock = threading.Lock()
        self.load_seconds: float | None = None

    def _resolve_path(self) -> Path:
        if self.model_path is None:
            self.model_path = assemble(QWEN_CODER_1_5B, self.settings.subdir("models"))
        return self.model_path

    def _llama(self) -> Any:
        path = self._resolve_path()
        threads = self.settings.llm_threads or max(1, os.cpu_count() or 1)
        key = (str(path), self.settings.llm_context, threads)
        with _MODELS_LOCK:
            if key not in _MODELS:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:  # pragma: no cover - a declared dependency
                    raise BackendError("llama-cpp-python is not installed (pip install llama-cpp-python)") from exc
                start = time.perf_counter()
                try:
                    _MODELS[key] = Llama(model_path=str(path), n_ctx=self.settings.llm_context, n_threads=threads,
                                         seed=self.settings.llm_seed, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise BackendError(f"{path}: cannot load GGUF model ({exc})") from None
                self.load_seconds = time.perf_counter() - start
                logger.info("loaded %s in %.1f s", path.name, self.load_seconds)
            return _MODELS[key]

    def generate(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None) -> LLMReply:
        llm = self._llama()
        chat = [{"role": "user" if m.role == "tool" else m.role, "content": m.content} for m in messages]
        kwargs: dict[str, Any] = {
            "messages": chat,
            "temperature": self.settings.llm_temperature,
            "max_tokens": max_tokens or self.settings.llm_max_tokens,
            "seed": self.settings.llm_seed,
        }
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": grammar_safe_schema(json_schema)}
        with self._lock:  # a llama.cpp context is not safe to share between threads
            try:
                result = llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. the prompt does not fit the context
                raise BackendError(f"local LLM failed: {exc}") from None
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LLMReply(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0),
                        completion_tokens=usage.get("completion_tokens", 0), llm_calls=1),
        )
