"""The LLM seam: one small protocol every backend implements."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from ..schema import ToolCall, Usage


class ImagePart(BaseModel):
    """An image attached to a message, as a data URL (only sent to backends that accept images)."""

    image_id: str
    data_url: str


class Message(BaseModel):
    """One chat message in a backend-neutral form."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[ImagePart] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class LLMReply(BaseModel):
    """What a backend returns: text (possibly JSON), native tool calls if any, and token usage."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


@runtime_checkable
class LLMBackend(Protocol):
    """Generate one reply. ``json_schema`` asks for JSON matching it; ``tools`` offers native function calling.

    A backend that has no native tool calling ignores ``tools`` and must honour ``json_schema`` as well as it can.
    ``grammar`` (a llama.cpp GBNF grammar) constrains a text reply where ``supports_grammar``; ``prefill`` starts
    the reply with that text (the reply returned is what follows it) where ``supports_prefill``; other backends
    ignore both and the caller reads the text tolerantly. ``repeat_penalty`` (None: the backend's default) is
    honoured where the backend has one (llama.cpp); others ignore it.
    """

    name: str
    supports_native_tools: bool
    supports_images: bool
    supports_grammar: bool
    supports_prefill: bool

    def generate(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        prefill: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        repeat_penalty: float | None = None,
    ) -> LLMReply: ...
