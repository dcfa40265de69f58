"""The LLM seam: one small protocol every backend implements, and the profile that declares what it can do."""

from __future__ import annotations

from dataclasses import dataclass
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


ToolProfileName = Literal["full", "compact"]
PlannerName = Literal["query", "react"]


@dataclass(frozen=True)
class BackendProfile:
    """What a backend can do, declared once (as pydantic-ai's ``ModelProfile``): planners and ``make_planner``
    read it, never ``getattr`` or ``isinstance`` on the backend.

    Attributes:
        supports_native_tools: honours ``tools`` (native function calling); else tools are offered in the prompt
            and chosen in a JSON reply.
        supports_images: image parts are sent to the model (a vision model).
        supports_grammar: ``grammar`` (a llama.cpp GBNF grammar) constrains the reply.
        supports_prefill: ``prefill`` starts the reply with that text.
        can_prime_prefix: ``prime(prefix)`` keeps a static prompt prefix's state (llama.cpp's KV state, saved to
            disk), so prompts that begin with it evaluate only the rest.
        tool_profile: the tools ReAct offers it by default (``lavr.planners.tool_profile``): ``compact`` for a
            small model that picks worse from more, ``full`` otherwise.
        default_planner: the mode ``auto`` picks: ``query`` where the grammar, prefill and a primed prefix make
            one constrained call cheap, else ``react``.
    """

    supports_native_tools: bool = False
    supports_images: bool = False
    supports_grammar: bool = False
    supports_prefill: bool = False
    can_prime_prefix: bool = False
    tool_profile: ToolProfileName = "full"
    default_planner: PlannerName = "react"


@runtime_checkable
class LLMBackend(Protocol):
    """Generate one reply. ``json_schema`` asks for JSON matching it; ``tools`` offers native function calling.

    What a backend honours is declared in its ``profile``: a backend without native tool calling ignores
    ``tools`` and must honour ``json_schema`` as well as it can; ``grammar`` and ``prefill`` are honoured where
    the profile says so, ignored elsewhere (the caller then reads the text tolerantly). ``repeat_penalty`` (None:
    the backend's default) is honoured where the backend has one (llama.cpp); others ignore it. ``prime`` keeps a
    prompt prefix's state where ``profile.can_prime_prefix``; elsewhere it does nothing.
    """

    name: str
    profile: BackendProfile

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

    def prime(self, prefix: list[Message]) -> Any: ...
