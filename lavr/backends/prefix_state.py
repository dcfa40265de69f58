"""Prompt-prefix KV states of the embedded LLM, evaluated once and kept on disk.

A static prompt prefix (system text, language description, worked examples) is evaluated once; its KV state is
saved with llama.cpp's own state file (``llama_state_save_file``: the used KV cells plus the last logits, ~28 KB
per token for Qwen2.5-1.5B) and later processes load it in a few hundredths of a second instead of re-reading
the prefix. ``Llama.save_state()`` is not used: it pickles a ``n_ctx x n_vocab`` float32 scores array (hundreds
of MB) along with the KV.

After a load, the ``Llama`` object's token bookkeeping (``input_ids``, ``n_tokens``) is set to the prefix, so
llama-cpp-python's own prefix matching in ``Llama.generate`` reuses it: a prompt that starts with the prefix
evaluates only its new tokens.

The file is ``<data_dir>/models/prefix-<key>.state``; the key hashes the model file's identity (name, size,
modification time), the context size, the llama-cpp-python version and the prefix's rendered text, so a changed
model, context or prompt never loads a stale state. Files are written to a temporary name and renamed, so
concurrent processes never read half a file; a file that fails to load is evaluated again and rewritten.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import time
import weakref
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import BackendError

logger = logging.getLogger(__name__)

__all__ = ["PrefixReport", "chat_prompt", "prefix_key", "prefix_tokens", "restore_prefix"]

# A user message rendered after the prefix, to learn which of the prefix's tokens every later prompt shares.
_PROBE = "?"


class PrefixReport(BaseModel):
    """What ``LlamaCppBackend.prime`` did with a prefix."""

    tokens: int
    source: Literal["memory", "file", "evaluated"]
    path: Path | None
    seconds: float
    file_bytes: int | None = None


# Per loaded model: its chat formatters (compiling the Jinja template took ~35 ms, three times a question) and the
# token prefixes already worked out (tokenising a 2,000-token prefix twice took ~80 ms a question)
_FORMATTERS: weakref.WeakKeyDictionary[Any, dict[bool, Any]] = weakref.WeakKeyDictionary()
_PREFIXES: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, list[int]]]] = weakref.WeakKeyDictionary()


def _memo(table: weakref.WeakKeyDictionary[Any, dict[Any, Any]], llm: Any) -> dict[Any, Any]:
    """``llm``'s entry of ``table``; a fresh dict (nothing kept) for an object that takes no weak reference."""
    try:
        return table.setdefault(llm, {})
    except TypeError:
        return {}


def _formatter(llm: Any, *, generation_prompt: bool) -> Any:
    """The GGUF's own chat template, as llama-cpp-python renders it for ``create_chat_completion``."""
    known = _memo(_FORMATTERS, llm)
    if generation_prompt not in known:
        known[generation_prompt] = _new_formatter(llm, generation_prompt=generation_prompt)
    return known[generation_prompt]


def _new_formatter(llm: Any, *, generation_prompt: bool) -> Any:
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if llm.chat_handler is not None or llm.chat_format != "chat_template.default" or not template:
        raise BackendError(f"prefix states need the GGUF's own chat template (this model uses chat format "
                           f"{llm.chat_format!r})")

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token != -1 else ""

    return llama_chat_format.Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()),
                                                 bos_token=text(llm.token_bos()),
                                                 add_generation_prompt=generation_prompt)


def _render(llm: Any, chat: list[dict[str, str]], *, generation_prompt: bool) -> tuple[Any, list[int]]:
    result = _formatter(llm, generation_prompt=generation_prompt)(messages=chat)
    return result, llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)


def _tokens(llm: Any, chat: list[dict[str, str]], *, generation_prompt: bool) -> tuple[str, list[int]]:
    result, tokens = _render(llm, chat, generation_prompt=generation_prompt)
    return result.prompt, tokens


def chat_prompt(llm: Any, chat: list[dict[str, str]]) -> tuple[list[int], list[str]]:
    """The prompt tokens (generation prompt included) and stop strings ``create_chat_completion`` uses for
    ``chat``.

    Raises:
        BackendError: the model does not use its GGUF's own chat template.
    """
    result, tokens = _render(llm, chat, generation_prompt=True)
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop is not None else []
    return tokens, stop


def prefix_tokens(llm: Any, chat: list[dict[str, str]]) -> tuple[str, list[int]]:
    """The rendered text of ``chat`` and the tokens every prompt continuing it starts with.

    The tokens are the common part of the prefix alone and the prefix followed by a question, so a tokenizer
    merge across the boundary can never make the saved state disagree with a later prompt.
    """
    key = json.dumps(chat, sort_keys=True)
    known = _memo(_PREFIXES, llm)
    if key not in known:
        known.clear()  # one prefix at a time is the rule: keep the memory of one
        known[key] = _prefix_tokens(llm, chat)
    text, tokens = known[key]
    return text, list(tokens)


def _prefix_tokens(llm: Any, chat: list[dict[str, str]]) -> tuple[str, list[int]]:
    text, alone = _tokens(llm, chat, generation_prompt=False)
    _, probed = _tokens(llm, [*chat, {"role": "user", "content": _PROBE}], generation_prompt=True)
    common = 0
    for a, b in zip(alone, probed):
        if a != b:
            break
        common += 1
    if common == 0:
        raise BackendError("the chat template renders nothing of this prefix at the start of later prompts")
    return text, alone[:common]


def prefix_key(model_path: Path, n_ctx: int, text: str) -> str:
    """Hex key of a prefix state: model file identity, context size, llama-cpp-python version, prefix text."""
    import llama_cpp

    stat = model_path.stat()
    identity = {"model": model_path.name, "size": stat.st_size, "mtime": int(stat.st_mtime), "n_ctx": n_ctx,
                "llama_cpp": llama_cpp.__version__, "prefix": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def _holds(llm: Any, tokens: list[int]) -> bool:
    n = len(tokens)
    return llm.n_tokens >= n and llm.input_ids[:n].tolist() == tokens


def _set_tokens(llm: Any, tokens: list[int]) -> None:
    """Tell the ``Llama`` object that its KV holds exactly ``tokens`` (llama-cpp-python's prefix matching reads
    ``input_ids[:n_tokens]``); its logits are not live, so the next prompt re-evaluates at least one token."""
    n = len(tokens)
    llm.input_ids[:n] = tokens
    llm.n_tokens = n
    llm._requires_eval = True


def _load(llm: Any, path: Path, tokens: list[int]) -> bool:
    """Load a saved state; False (and a clean context) when it is unreadable or holds other tokens."""
    import llama_cpp

    capacity = llm.n_ctx()
    out = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    ok = llama_cpp.llama_state_load_file(llm._ctx.ctx, str(path).encode(), out, capacity, ctypes.byref(count))
    if ok and list(out[: count.value]) == tokens:
        _set_tokens(llm, tokens)
        return True
    logger.warning("prefix state %s is unusable (%s); evaluating the prefix again", path,
                   "other tokens" if ok else "load failed")
    llm.reset()
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    return False


def _save(llm: Any, path: Path, tokens: list[int]) -> int:
    """Write the context's state (its KV must hold exactly ``tokens``) atomically; returns the file size."""
    import llama_cpp

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    array = (llama_cpp.llama_token * len(tokens))(*tokens)
    try:
        if not llama_cpp.llama_state_save_file(llm._ctx.ctx, str(tmp).encode(), array, len(tokens)):
            raise BackendError(f"llama.cpp could not write the prefix state {tmp}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.stat().st_size


def restore_prefix(llm: Any, tokens: list[int], path: Path | None) -> PrefixReport:
    """Make ``llm``'s KV start with ``tokens``: already there, loaded from ``path``, or evaluated (and saved).

    The caller holds the model's lock.
    """
    start = time.perf_counter()
    n = len(tokens)

    def report(source: Literal["memory", "file", "evaluated"], size: int | None = None) -> PrefixReport:
        return PrefixReport(tokens=n, source=source, path=path, seconds=round(time.perf_counter() - start, 4),
                            file_bytes=size)

    if n >= llm.n_ctx():
        raise BackendError(f"the prompt prefix ({n} tokens) does not fit the context ({llm.n_ctx()} tokens)")
    on_disk = path is not None and path.is_file()
    if _holds(llm, tokens) and (on_disk or path is None):
        return report("memory")
    if on_disk and path is not None and _load(llm, path, tokens):
        return report("file", path.stat().st_size)
    if _holds(llm, tokens):
        llm._ctx.kv_cache_seq_rm(-1, n, -1)  # keep the prefix, drop what followed it, so the file holds only it
        _set_tokens(llm, tokens)
    else:
        llm.reset()
        llm.eval(tokens)
        llm._requires_eval = True
    size = _save(llm, path, tokens) if path is not None else None
    return report("evaluated", size)
