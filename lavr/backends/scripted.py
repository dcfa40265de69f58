"""A scripted LLM that replays given replies: for tests and for users testing their own pipelines."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..schema import ToolCall, Usage
from .base import BackendProfile, LLMReply, Message, ToolProfileName

Script = str | dict[str, Any] | LLMReply | Callable[[list[Message]], str | dict[str, Any] | LLMReply]


class ScriptedBackend:
    """Replays ``replies`` in order; each is a string, a dict (sent as JSON), an ``LLMReply`` or a function of the
    messages. Every request is recorded in ``requests`` so tests can assert on the prompts.

    When the script runs out it raises ``IndexError`` unless ``repeat_last`` is set. What it stands in for is its
    ``profile``: by default a text model that honours grammars and prefills (the script is the model: whatever a
    grammar would allow it is given); ``native_tools``, ``images`` and ``tool_profile`` (``"compact"`` stands in
    for a small embedded model, ``lavr.planners.tool_profile``) change it, or ``profile`` gives it whole.
    """

    name = "scripted"

    def __init__(self, replies: Iterable[Script], *, native_tools: bool = False, images: bool = False,
                 repeat_last: bool = False, tool_profile: ToolProfileName | None = None,
                 profile: BackendProfile | None = None):
        self._replies = list(replies)
        self.profile = profile or BackendProfile(supports_native_tools=native_tools, supports_images=images,
                                                 supports_grammar=True, supports_prefill=True,
                                                 tool_profile=tool_profile or "full")
        self.repeat_last = repeat_last
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def prime(self, prefix: list[Message]) -> None:
        """Nothing to keep (a script has no KV state); a subclass that stands in for llama.cpp overrides it."""

    def generate(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 grammar: str | None = None, prefill: str | None = None,
                 tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None,
                 repeat_penalty: float | None = None) -> LLMReply:
        with self._lock:
            self.requests.append({"messages": messages, "json_schema": json_schema, "grammar": grammar,
                                  "prefill": prefill, "tools": tools, "max_tokens": max_tokens,
                                  "repeat_penalty": repeat_penalty})
            n = len(self.requests) - 1
            if n >= len(self._replies):
                if not (self.repeat_last and self._replies):
                    raise IndexError(f"scripted LLM has only {len(self._replies)} replies; request {n + 1} asked")
                n = len(self._replies) - 1
            item = self._replies[n]
        if callable(item) and not isinstance(item, LLMReply):
            item = item(messages)
        if isinstance(item, LLMReply):
            return item
        text = item if isinstance(item, str) else json.dumps(item)
        prompt_chars = sum(len(m.content) for m in messages)
        return LLMReply(text=text, usage=Usage(prompt_tokens=prompt_chars // 4, completion_tokens=len(text) // 4,
                                               llm_calls=1))


def tool_call_reply(*calls: tuple[str, dict[str, Any]], text: str = "") -> LLMReply:
    """A native tool-call reply for scripts: ``tool_call_reply(("detect", {"image": "img_0"}))``."""
    return LLMReply(text=text, tool_calls=[ToolCall(tool=t, args=a, id=f"call_{i}") for i, (t, a) in enumerate(calls)],
                    usage=Usage(llm_calls=1))
