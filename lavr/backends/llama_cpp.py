"""The embedded LLM: a GGUF model run in-process by llama-cpp-python, with JSON-schema constrained output."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import BackendError, ContextFull
from ..schema import Usage
from ..settings import Settings
from .base import BackendProfile, LLMReply, Message
from .gguf import QWEN_CODER_1_5B, assemble
from .grammar_sampling import GrammarConstraint, greedy_constrained
from .prefix_state import PrefixReport, chat_prompt, prefix_key, prefix_tokens, restore_prefix

logger = logging.getLogger(__name__)

# llama.cpp's schema-to-grammar converter does not understand regex class escapes (an invalid grammar crashes
# the process), so patterns are rewritten with explicit character sets.
_PATTERN_ESCAPES = {r"\d": "[0-9]", r"\w": "[a-zA-Z0-9_]", r"\s": "[ ]"}


def cpu_reports_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU says it has AMX tiles. ggml then puts the weights in its AMX buffer, and a build with
    ``-march=native`` (pip's default build of llama-cpp-python) was seen dying with SIGILL at the first
    ``tilezero`` in a Firecracker VM whose CPU reports AMX."""
    try:
        with cpuinfo.open(encoding="ascii", errors="replace") as fh:
            return any(line.startswith("flags") and " amx_tile" in line for line in fh)
    except OSError:
        return False


@contextlib.contextmanager
def weight_repacking(enabled: bool) -> Iterator[None]:
    """Load models with llama.cpp's extra (repacking, AMX) weight buffers on or off. llama-cpp-python does not
    expose ``use_extra_bufts``: its default-parameter factory is wrapped while a model loads (under
    ``_MODELS_LOCK``, so no other load sees the change)."""
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as low

    default = low.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        low.llama_model_default_params = default


# llama-cpp-python's converter writes a string's ``maxLength: N`` as N nested optional groups; llama.cpp's grammar
# sampler recurses through them and crashed (SIGSEGV) on the caption tool's 300. Longer bounds are left to the
# pydantic model that parses the reply.
GRAMMAR_MAX_LENGTH = 32


def grammar_safe_schema(schema: Any) -> Any:
    """A copy of ``schema`` the grammar converter handles safely: regex patterns use only constructs it supports,
    and string lengths above ``GRAMMAR_MAX_LENGTH`` are not bounded by the grammar."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key in ("maxLength", "minLength") and isinstance(value, int) and value > GRAMMAR_MAX_LENGTH:
                continue
            if key == "pattern" and isinstance(value, str):
                for escape, charset in _PATTERN_ESCAPES.items():
                    value = value.replace(escape, charset)
            out[key] = grammar_safe_schema(value)
        return out
    if isinstance(schema, list):
        return [grammar_safe_schema(v) for v in schema]
    return schema


DEFAULT_REPEAT_PENALTY = 1.1  # llama-cpp-python's chat-completion default

_MODELS: dict[tuple[str, int, int], Any] = {}  # loaded once per process and shared by every agent
# One lock per loaded model: backends that share a model share its context (KV state, token bookkeeping).
_MODEL_LOCKS: dict[tuple[str, int, int], threading.Lock] = {}
_MODELS_LOCK = threading.Lock()


def llm_failed(exc: ValueError) -> BackendError:
    """llama-cpp-python's error as lavr's: ``ContextFull`` where the prompt outgrew the context window (the agent
    then answers "cannot tell" instead of failing the question), ``BackendError`` otherwise."""
    if "exceed context window" in str(exc):
        return ContextFull(f"the prompt no longer fits the model's context window ({exc})")
    return BackendError(f"local LLM failed: {exc}")


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
    Greedy generation under a JSON schema runs its own decode loop (``lavr.backends.grammar_sampling``), which
    gives llama-cpp-python's output faster; ``fast_grammar=False`` keeps llama-cpp-python's sampler throughout.
    """

    # A small model run in-process: grammar-constrained and prefilled replies, a primed prompt prefix, so query
    # mode's one constrained call is cheap; offered fewer tools, it picks better.
    profile = BackendProfile(supports_grammar=True, supports_prefill=True, can_prime_prefix=True,
                             tool_profile="compact", default_planner="query")

    def __init__(self, settings: Settings, *, model_path: Path | None = None,
                 fast_grammar: bool = True):
        self.settings = settings
        self.fast_grammar = fast_grammar
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
                    repack = self.settings.llm_weight_repacking
                    with weight_repacking(repack if repack is not None else not cpu_reports_amx()):
                        _MODELS[key] = Llama(model_path=str(path), n_ctx=self.settings.llm_context,
                                             n_threads=threads, seed=self.settings.llm_seed, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise BackendError(f"{path}: cannot load GGUF model ({exc})") from None
                self.load_seconds = time.perf_counter() - start
                logger.info("loaded %s in %.1f s", path.name, self.load_seconds)
            self._lock = _MODEL_LOCKS.setdefault(key, threading.Lock())
            return _MODELS[key]

    def prime(self, prefix: list[Message]) -> PrefixReport:
        """Make the KV state of a static prompt prefix ready, so prompts that start with it evaluate only the rest.

        The prefix (messages every later prompt begins with, byte-identical) is evaluated once and its state
        saved under ``<data_dir>/models/prefix-<key>.state``; a later process loads that file instead (see
        ``lavr.backends.prefix_state``). Cheap when the prefix is already in the KV.

        Raises:
            BackendError: the model's chat template cannot render a prefix, or it does not fit the context.
        """
        llm = self._llama()
        chat = _chat(prefix)
        with self._lock:
            text, tokens = prefix_tokens(llm, chat)
            key = prefix_key(self._resolve_path(), llm.n_ctx(), text)
            path = self.settings.subdir("models") / f"prefix-{key}.state"
            report = restore_prefix(llm, tokens, path)
        logger.info("prompt prefix of %d tokens: %s in %.2f s (%s)", report.tokens, report.source, report.seconds,
                    path.name)
        return report

    def read_ahead(self, messages: list[Message], prefill: str = "") -> int:
        """Evaluate the prompt a coming ``generate(messages, prefill=...)`` will have, so that call only samples:
        query mode knows its question's prompt before the image's scene graph (which bounds the reply) is ready.
        Returns the tokens evaluated. If the call's prompt then differs, llama.cpp keeps what the two share."""
        from .grammar_sampling import evaluate_prompt

        llm = self._llama()
        with self._lock:
            prompt, _ = chat_prompt(llm, _chat(messages))
            prompt = prompt + (llm.tokenize(prefill.encode("utf-8"), add_bos=False, special=False) if prefill else [])
            return evaluate_prompt(llm, prompt)

    def generate(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 grammar: str | None = None, prefill: str | None = None,
                 tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None,
                 repeat_penalty: float | None = None) -> LLMReply:
        """One chat completion. ``repeat_penalty`` defaults to llama-cpp-python's 1.1; JSON programs want 1.0
        (the penalty pushes the model away from the keys and brackets JSON repeats). With ``grammar`` (GBNF) or
        ``prefill`` the reply is a text completion of the chat prompt followed by ``prefill``."""
        llm = self._llama()
        max_tokens = max_tokens or self.settings.llm_max_tokens
        penalty = DEFAULT_REPEAT_PENALTY if repeat_penalty is None else repeat_penalty
        if grammar is not None or prefill is not None:
            return self._complete(llm, messages, grammar, prefill or "", max_tokens, penalty)
        schema = grammar_safe_schema(json_schema) if json_schema is not None else None
        if schema is not None and self.fast_grammar and self.settings.llm_temperature == 0:
            reply = self._generate_greedy(llm, messages, schema, max_tokens, penalty)
            if reply is not None:
                return reply
        kwargs: dict[str, Any] = {
            "messages": _chat(messages),
            "temperature": self.settings.llm_temperature,
            "max_tokens": max_tokens,
            "seed": self.settings.llm_seed,
            "repeat_penalty": penalty,
        }
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:  # a llama.cpp context is not safe to share between threads
            evals = _eval_sizes(llm)
            evals.clear()
            try:
                result = llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. the prompt does not fit the context
                raise llm_failed(exc) from None
            # The first evaluation of a call is the prompt's part that its KV state did not already hold.
            evaluated = evals[0] if evals else 0
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        prompt = usage.get("prompt_tokens", 0)
        return LLMReply(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage(prompt_tokens=prompt, completion_tokens=usage.get("completion_tokens", 0), llm_calls=1,
                        cached_prompt_tokens=max(0, prompt - evaluated)),
        )

    def _complete(self, llm: Any, messages: list[Message], grammar: str | None, prefill: str, max_tokens: int,
                  penalty: float) -> LLMReply:
        """The chat prompt, then ``prefill`` as the start of the reply, completed under a GBNF ``grammar``:
        greedily on the fast path, else with llama-cpp-python's own sampler."""
        from llama_cpp import LlamaGrammar

        with self._lock:
            prompt, stop = chat_prompt(llm, _chat(messages))  # BackendError: not the GGUF's own chat template
            prompt = prompt + (llm.tokenize(prefill.encode("utf-8"), add_bos=False, special=False) if prefill else [])
            if grammar is not None and self.fast_grammar and self.settings.llm_temperature == 0:
                try:
                    parsed = LlamaGrammar.from_string(grammar, verbose=False)
                    constraint = GrammarConstraint(llm._model.vocab, parsed._grammar, parsed._root, llm.n_vocab())
                except ValueError as exc:
                    raise BackendError(f"the grammar is not valid GBNF: {exc}") from None
                try:
                    result = greedy_constrained(llm, prompt, constraint, max_tokens=max_tokens,
                                                repeat_penalty=penalty, stop=stop)
                except ValueError as exc:
                    raise llm_failed(exc) from None
                finally:
                    constraint.close()
                return LLMReply(text=result.text, finish_reason=result.finish_reason,
                                usage=Usage(prompt_tokens=result.prompt_tokens,
                                            completion_tokens=result.completion_tokens, llm_calls=1,
                                            cached_prompt_tokens=result.prompt_tokens - result.evaluated))
            evals = _eval_sizes(llm)
            evals.clear()
            try:
                result = llm.create_completion(prompt, max_tokens=max_tokens, temperature=self.settings.llm_temperature,
                                               seed=self.settings.llm_seed, repeat_penalty=penalty, stop=stop,
                                               grammar=LlamaGrammar.from_string(grammar, verbose=False)
                                               if grammar is not None else None)
            except ValueError as exc:
                raise llm_failed(exc) from None
            evaluated = evals[0] if evals else 0
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens", len(prompt))
        return LLMReply(text=choice.get("text") or "", finish_reason=choice.get("finish_reason"),
                        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=usage.get("completion_tokens", 0),
                                    llm_calls=1, cached_prompt_tokens=max(0, prompt_tokens - evaluated)))

    def _generate_greedy(self, llm: Any, messages: list[Message], schema: dict[str, Any], max_tokens: int,
                         penalty: float) -> LLMReply | None:
        """Greedy decoding under ``schema``'s grammar with the grammar checked on the chosen token first; the
        same reply as ``create_chat_completion``. None (nothing done) where that path cannot be reproduced: a
        chat format other than the GGUF's template, or a schema the grammar converter rejects (llama-cpp-python
        then falls back to plain JSON)."""
        import json

        from llama_cpp import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        except Exception:  # noqa: BLE001 - any converter failure means llama-cpp-python's fallback grammar
            return None
        with self._lock:
            try:
                prompt, stop = chat_prompt(llm, _chat(messages))
                constraint = GrammarConstraint(llm._model.vocab, grammar._grammar, grammar._root, llm.n_vocab())
            except (BackendError, ValueError):
                return None
            try:
                result = greedy_constrained(llm, prompt, constraint, max_tokens=max_tokens, repeat_penalty=penalty,
                                            stop=stop)
            except ValueError as exc:  # the prompt does not fit the context
                raise llm_failed(exc) from None
            finally:
                constraint.close()
        return LLMReply(
            text=result.text, finish_reason=result.finish_reason,
            usage=Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens, llm_calls=1,
                        cached_prompt_tokens=result.prompt_tokens - result.evaluated),
        )


def _chat(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": "user" if m.role == "tool" else m.role, "content": m.content} for m in messages]


def _eval_sizes(llm: Any) -> list[int]:
    """The token counts of each ``llm.eval`` call since the list was last cleared.

    llama-cpp-python reports only the prompt's length; its ``generate`` evaluates the part of the prompt that the
    KV state does not hold in one ``eval`` call, then one call per generated token, so the first count of a
    completion is the number of newly evaluated prompt tokens.
    """
    sizes = getattr(llm, "_lavr_eval_sizes", None)
    if sizes is None:
        sizes = []
        original = llm.eval

        def counted(tokens: Any) -> None:
            sizes.append(len(tokens))
            original(tokens)

        llm.eval = counted
        llm._lavr_eval_sizes = sizes
    return sizes
