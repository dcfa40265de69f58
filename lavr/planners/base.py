"""The planner seam: given the question, the tools and the trace so far, decide the next move.

Every planning mode (query, ReAct, pipeline, naive) is a ``Planner`` behind this one protocol, run by the same
LangGraph graph (``lavr.agents.graph``). The trace is the memory: a planner derives where it stands from
``request.steps`` (its earlier plans, the tools' results, rejected replies), so a run can be checkpointed and
resumed, and chat threads work for every mode alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

# CANNOT_TELL is re-exported: planners and their callers name the abstention answer from this seam.
from ..answers import CANNOT_TELL as CANNOT_TELL
from ..backends.base import ImagePart, LLMBackend
from ..schema import ToolCall, Usage
from ..tools.base import Tool
from ..trace import AnswerStep, Step


@dataclass
class ImageInfo:
    id: str
    width: int
    height: int
    sha256: str
    data_url: str | None = None  # only filled when the backend accepts images

    def line(self) -> str:
        return f"Image {self.id}: {self.width}x{self.height} pixels."


@dataclass
class PlanRequest:
    question: str
    images: list[ImageInfo]
    tools: list[Tool]
    steps: list[Step]
    steps_left: int
    retries_left: int
    force_answer: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (question, answer) turns of a chat
    # The program each earlier question of the thread ran, by question: a follow-up's prompt continues the
    # earlier exchanges as they were, so llama.cpp reuses their KV state.
    programs: dict[str, str] = field(default_factory=dict)

    def answers(self) -> list[AnswerStep]:
        return [s for s in self.steps if isinstance(s, AnswerStep)]


@dataclass
class CallTools:
    """Run these tool calls, then plan again. Call ids may be referenced by later calls (``$s1.counts.person``)."""

    calls: list[ToolCall]
    thought: str = ""
    program: str | None = None  # the program as written, for the trace (query mode)
    kind: Literal["call_tools"] = "call_tools"


@dataclass
class LlmStep:
    """An intermediate LLM result of a scripted pipeline: a named step later steps may use. It is recorded in the
    trace and the planner is asked again; it never ends the question."""

    step_id: str
    answer: str
    rationale: str = ""
    thought: str = ""
    prompt: str | None = None
    error: str | None = None
    kind: Literal["llm_step"] = "llm_step"


@dataclass
class Failure:
    """Why a ``Final`` carries no real answer: the retry budget was spent (``retries``), the steps filled the
    LLM's context window (``context``), or a scripted pipeline broke (``broken``: a template error, a failed
    step). ``detail`` goes to the trace."""

    reason: Literal["retries", "context", "broken"]
    detail: str


@dataclass
class Final:
    """The answer: it ends the question.

    ``evidence`` is the object ids the answer rests on, as the planner knows them (a query's exact objects, the ids
    a ReAct answer names); ``verbatim``: the answer is data (a computed result, a pipeline's tool text), not an LLM
    reply to shorten; ``step``: the pipeline LLM step that gave the answer (its id and prompt go in the trace)."""

    answer: str
    rationale: str = ""
    thought: str = ""
    evidence: list[str] = field(default_factory=list)
    verbatim: bool = False
    failure: Failure | None = None
    step: LlmStep | None = None
    kind: Literal["final"] = "final"


Move = CallTools | LlmStep | Final


@dataclass
class PlanOutcome:
    """A move (``CallTools``, ``LlmStep`` or ``Final``), or no move and the reason the reply was unusable
    (recorded as a retry and fed back to the LLM). The graph records it; where the run goes next, and how the
    question ends, the graph decides (``lavr.agents.graph``)."""

    move: Move | None
    raw_reply: str = ""
    usage: Usage | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    example_ids: list[str] = field(default_factory=list)
    images: list[ImagePart] = field(default_factory=list)

    @property
    def used_llm(self) -> bool:
        return bool(self.usage and self.usage.llm_calls)


class Planner(Protocol):
    """One planning strategy. ``calls_per_turn`` bounds the tool calls one move may start (the executor
    enforces it for every backend)."""

    name: str
    calls_per_turn: int

    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome: ...
