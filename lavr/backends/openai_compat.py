"""Any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp server) through the ``openai`` package."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from ..errors import BackendError
from ..schema import ToolCall, Usage
from ..settings import Settings
from .base import LLMReply, Message

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
    mode and then to plain text when a server refuses ``response_format``.
    """

    def __init__(self, model: str, settings: Settings | None = None):
        if not model:
            raise BackendError("openai backend needs a model name: --llm openai:MODEL")
        self.settings = settings or Settings()
        self.model = model
        self.name = f"openai:{model}"
        self.supports_native_tools = self.settings.openai_tool_mode == "tools"
        self.supports_images = self.settings.openai_vision
        self._response_format_level = 2  # 2: json_schema, 1: json_object, 0: none
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
        if schema is None or self._response_format_level == 0:
            return None
        if self._response_format_level == 2:
            return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        return {"type": "json_object"}

    def generate(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None,
                 repeat_penalty: float | None = None) -> LLMReply:
        del repeat_penalty  # no OpenAI equivalent (frequency_penalty scales differently): the server's default
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages, images=self.supports_images),
            "temperature": self.settings.llm_temperature,
            "max_tokens": max_tokens or self.settings.llm_max_tokens,
            "seed": self.settings.llm_seed,
        }
        if tools and self.supports_native_tools:
            kwargs["tools"] = [{"type": "function", "function": t} for t in tools]
        elif json_schema is not None:
            rf = self._response_format(json_schema)
            if rf:
                kwargs["response_format"] = rf
        err = self._openai
        while True:
            try:
                response = self._client.chat.completions.create(**kwargs)
                break
            except err.APIConnectionError:
                raise BackendError(f"cannot reach the LLM server at {self.base_url}") from None
            except err.AuthenticationError:
                raise BackendError(f"the LLM server at {self.base_url} refused the API key") from None
            except err.NotFoundError as exc:
                raise BackendError(f"the LLM server has no model {self.model!r} ({_short(exc)})") from None
            except err.BadRequestError as exc:
                # Servers without structured output: step down json_schema -> json_object -> nothing.
                if "response_format" in kwargs and self._response_format_level > 0:
                    self._response_format_level -= 1
                    logger.info("server refused response_format; falling back (%s)", _short(exc))
                    rf = self._response_format(json_schema)
                    if rf:
                        kwargs["response_format"] = rf
                    else:
                        kwargs.pop("response_format")
                    continue
                raise BackendError(f"the LLM server refused the request: {_short(exc)}") from None
            except err.APIStatusError as exc:
                raise BackendError(f"the LLM server answered HTTP {exc.status_code}: {_short(exc)}") from None
        if not response.choices:
            raise BackendError("the LLM server returned no choices")
        choice = response.choices[0]
        calls = []
        for i, tc in enumerate(choice.message.tool_calls or []):
            try:
                args = json.loads(tc.function.arguments or "{}")
            except json.JSONDecodeError:
                args = {"__unparsed__": tc.function.arguments}
            calls.append(ToolCall(tool=tc.function.name, args=args if isinstance(args, dict) else {"value": args},
                                  id=tc.id or f"call_{i}"))
        usage = response.usage
        return LLMReply(
            text=choice.message.content or "",
            tool_calls=calls,
            finish_reason=choice.finish_reason,
            usage=Usage(prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                        completion_tokens=getattr(usage, "completion_tokens", 0) or 0, llm_calls=1,
                        cached_prompt_tokens=getattr(getattr(usage, "prompt_tokens_details", None),
                                                     "cached_tokens", 0) or 0),
        )


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text[:200]
