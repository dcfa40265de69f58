"""Any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp server) through the ``openai`` package."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import BackendError
from ..schema import ToolCall, Usage
from ..settings import Settings
from .base import BackendProfile, LLMReply, Message
from .llama_cpp import grammar_safe_schema

logger = logging.getLogger(__name__)


def to_openai_messages(messages: list[Message], *, images: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
            continue
        msg: dict[str, Any] = {"role": m.role}
        if images and m.images and m.role == "user":
            msg["content"] = [{"type": "text", "text": m.content}] + [
                {"type": "image_url", "image_url": {"url": p.data_url}} for p in m.images
            ]
        else:
            msg["content"] = m.content
        if m.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id or f"call_{i}", "type": "function",
                 "function": {"name": c.tool, "arguments": json.dumps(c.args)}}
                for i, c in enumerate(m.tool_calls)
            ]
        out.append(msg)
    return out


class OpenAIBackend:
    """Chat completions against ``base_url`` (default: the ``openai`` package's, or ``OPENAI_BASE_URL``).

    Native tool calling when ``openai_tool_mode == 'tools'``; JSON-schema output otherwise, degrading to JSON
    mode with a schema (llama-cpp-python's server), plain JSON mode and then plain text when a server refuses
    ``response_format``.
    """

    def __init__(self, model: str, settings: Settings):
        if not model:
            raise BackendError("openai backend needs a model name: --llm openai:MODEL")
        self.settings = settings
        self.model = model
        self.name = f"openai:{model}"
        self.profile = BackendProfile(supports_native_tools=self.settings.openai_tool_mode == "tools",
                                      supports_images=self.settings.openai_vision)
        # 3: json_schema, 2: json_object with a schema, 1: json_object, 0: none
        self._response_format_level = 3
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise BackendError("the openai package is not installed") from exc
        self._openai = openai
        base_url = self.settings.openai_base_url or os.environ.get("OPENAI_BASE_URL")
        api_key = self.settings.openai_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.base_url = base_url or "https://api.openai.com/v1"
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=self.settings.openai_timeout_s,
                                     max_retries=1)

    def _response_format(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        level = self._response_format_level
        if schema is None or level == 0:
            return None
        if level == 3:
            return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        if level == 2:
            # llama-cpp-python's server (and Anyscale's) constrain json_object to a "schema" given beside it;
            # its grammar converter needs the same pattern rewriting as the embedded backend.
            return {"type": "json_object", "schema": grammar_safe_schema(schema)}
        return {"type": "json_object"}

    def prime(self, prefix: list[Message]) -> None:
        """Nothing to keep: a remote server holds no prefix state for lavr (``profile.can_prime_prefix`` is off)."""

    def generate(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 grammar: str | None = None, prefill: str | None = None,
                 tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None,
                 repeat_penalty: float | None = None) -> LLMReply:
        # No GBNF, no assistant prefill and no repeat penalty in the OpenAI API: the caller reads the reply
        # tolerantly (the profile declares neither).
        del repeat_penalty, grammar, prefill
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages, images=self.profile.supports_images),
            "temperature": self.settings.llm_temperature,
            "max_tokens": max_tokens or self.settings.llm_max_tokens,
            "seed": self.settings.llm_seed,
        }
        if tools and self.profile.supports_native_tools:
            kwargs["tools"] = [{"type": "function", "function": t} for t in tools]
        elif json_schema is not None:
            rf = self._response_format(json_schema)
            if rf:
                kwargs["response_format"] = rf
        body = self._post(kwargs, json_schema)
        try:
            completion = _Completion.model_validate_json(body)
        except ValidationError:
            raise BackendError(f"the LLM server at {self.base_url} answered with something that is not a chat "
                               f"completion: {_excerpt(body)}") from None
        if not completion.choices:
            raise BackendError("the LLM server returned no choices")
        choice = completion.choices[0]
        calls = []
        for i, tc in enumerate(choice.message.tool_calls or []):
            calls.append(ToolCall(tool=tc.function.name, args=_arguments(tc.function.arguments),
                                  id=tc.id or f"call_{i}"))
        usage = completion.usage or _Usage()
        cached = (usage.prompt_tokens_details or _PromptDetails()).cached_tokens or 0
        return LLMReply(
            text=unescape_entity_json(choice.message.content or ""),
            tool_calls=calls,
            finish_reason=choice.finish_reason,
            usage=Usage(prompt_tokens=usage.prompt_tokens or 0, completion_tokens=usage.completion_tokens or 0,
                        llm_calls=1, cached_prompt_tokens=cached),
        )

    def _post(self, kwargs: dict[str, Any], json_schema: dict[str, Any] | None) -> str:
        """Send the request, stepping ``response_format`` down while the server refuses it; the raw body."""
        err = self._openai
        level_before = self._response_format_level
        while True:
            try:
                raw = self._client.chat.completions.with_raw_response.create(**kwargs)
                return raw.http_response.text
            except err.APIConnectionError:
                raise BackendError(f"cannot reach the LLM server at {self.base_url}") from None
            except err.AuthenticationError:
                raise BackendError(f"the LLM server at {self.base_url} refused the API key") from None
            except err.NotFoundError as exc:
                raise BackendError(f"the LLM server has no model {self.model!r} ({_short(exc)})") from None
            except err.APIStatusError as exc:
                # Servers refuse a response_format they lack in different ways: 400 or 422 from most, 500 from
                # llama-cpp-python's server (its request validation knows only text and json_object, and its
                # error handler answers 500). Step down json_schema -> json_object+schema -> json_object ->
                # nothing; a server that fails the plain request too is reported below with its own status.
                if exc.status_code in _REFUSES_FORMAT and "response_format" in kwargs:
                    self._response_format_level -= 1
                    logger.info("server refused response_format (HTTP %s); stepping down: %s",
                                exc.status_code, _short(exc))
                    rf = self._response_format(json_schema)
                    if rf:
                        kwargs["response_format"] = rf
                    else:
                        kwargs.pop("response_format")
                    continue
                if "response_format" not in kwargs:
                    # Refused with no response_format either: the format was not the cause (an overlong prompt,
                    # a broken server), so the next request starts from the best format again.
                    self._response_format_level = level_before
                if isinstance(exc, err.BadRequestError):
                    raise BackendError(f"the LLM server refused the request: {_short(exc)}") from None
                raise BackendError(f"the LLM server answered HTTP {exc.status_code}: {_short(exc)}") from None


# Statuses with which servers refuse a response_format they do not support.
_REFUSES_FORMAT = {400, 422, 500}


class _Function(BaseModel):
    name: str
    arguments: str | dict[str, Any] | None = None


class _ToolCallOut(BaseModel):
    id: str | None = None
    function: _Function


class _ReplyMessage(BaseModel):
    content: str | None = None
    tool_calls: list[_ToolCallOut] | None = None


class _Choice(BaseModel):
    message: _ReplyMessage
    finish_reason: str | None = None


class _PromptDetails(BaseModel):
    cached_tokens: int | None = 0


class _Usage(BaseModel):
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: _PromptDetails | None = None


class _Completion(BaseModel):
    """The part of a chat completion lavr reads; the server's body is checked against it, as data."""

    choices: list[_Choice]
    usage: _Usage | None = None


def _arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    text = unescape_entity_json(arguments or "")
    try:
        args = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"__unparsed__": arguments}
    return args if isinstance(args, dict) else {"value": args}


_QUOTE_ENTITY = re.compile(r"&(?:#34|#x22|quot);", re.IGNORECASE)


def unescape_entity_json(text: str) -> str:
    """Undo HTML escaping of a reply that is entity-escaped JSON, leave any other reply exactly as it is.

    llama-cpp-python's ``chatml-function-calling`` format renders messages with HTML autoescaping, so the model
    sees ``{&#34;thought&#34;: ...}`` in its prompt and imitates it. Such a reply has no literal double quote at
    all (JSON needs one for every key), so that is the test: a reply that has one is never touched, and
    unescaping only turns entities into the characters they stand for (the text stays data, never markup).
    """
    if '"' in text or not _QUOTE_ENTITY.search(text):
        return text
    return html.unescape(text)


def _excerpt(body: str, limit: int = 80) -> str:
    text = " ".join(body.split())
    if not text:
        return "an empty body"
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text[:200]
