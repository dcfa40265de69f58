"""The typed trace: one record type per kind of step, each able to render itself for a prompt and for HTML.

A run's trace is a list of steps (``Answer.steps``): the planner's turns (``PlanStep``), the tools it ran
(``ToolStep``), rejected replies (``RetryStep``), tool calls that were refused (``RefusalStep``: over the
per-turn limit, or asked for when only an answer was allowed) and answers (``AnswerStep``; a scripted
pipeline's intermediate LLM steps are answers too, with ``final=False``). The union is discriminated by
``kind``, so a trace round-trips through JSON (checkpoints, eval records, ``--json``) as the same types.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter

from .schema import ToolCall, Usage

# What the trace keeps of free LLM text: enough to debug, bounded so a runaway reply is not re-sent to the LLM
# or stored a million times over.
MAX_THOUGHT_CHARS = 2000
MAX_REPLY_CHARS = 4000
MAX_RESULT_CHARS = 20000


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, marking the cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f" …[{len(text) - limit} more characters cut]"


Thought = Annotated[str | None, AfterValidator(lambda v: clip(v, MAX_THOUGHT_CHARS))]
RawReply = Annotated[str | None, AfterValidator(lambda v: clip(v, MAX_REPLY_CHARS))]
ResultText = Annotated[str | None, AfterValidator(lambda v: clip(v, MAX_RESULT_CHARS))]


def _esc(value: Any) -> str:
    return html.escape(str(value))


class StepBase(BaseModel):
    if TYPE_CHECKING:
        kind: str  # each step type declares its own Literal ``kind`` field (the trace union's discriminator)

    index: int
    seconds: float = 0.0
    usage: Usage | None = None

    def prompt_text(self) -> str:
        """How the step reads as plain text (logs, the chat ``/trace`` command, prompts of text planners)."""
        raise NotImplementedError

    def html_body(self) -> str:
        """The inner HTML of the step's section in the visual trace (the boxes are drawn by ``trace_html``)."""
        return f"<pre>{_esc(self.prompt_text())}</pre>"

    @property
    def title(self) -> str:
        return str(self.kind)


class PlanStep(StepBase):
    """A planner turn that asked for tool calls (a ReAct turn, a query program, a pipeline's tool steps)."""

    kind: Literal["plan"] = "plan"
    planner: str = ""
    thought: Thought = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list, description="Ids of the in-context examples shown.")
    raw_reply: RawReply = None
    program: str | list[dict[str, Any]] | None = Field(
        None, description="The program as written: a query program's text (a step list in traces of the removed "
                          "program mode).")


    def prompt_text(self) -> str:
        calls = "; ".join(f"{c.tool}({json.dumps(c.args)})" for c in self.tool_calls)
        return f"plan: {self.thought or ''} -> {calls}".strip()

    def html_body(self) -> str:
        parts = [f'<p class="thought">{_esc(self.thought)}</p>'] if self.thought else []
        if self.program:
            text = self.program if isinstance(self.program, str) else json.dumps(self.program, indent=1)
            parts.append(f"<pre class=program>{_esc(text)}</pre>")
        parts += [f"<pre class=args>{_esc(c.tool)} {_esc(json.dumps(c.args))}</pre>" for c in self.tool_calls]
        return "".join(parts)


class ToolStep(StepBase):
    """One tool run: its arguments, text result (what the LLM reads) and structured output, or its error."""

    kind: Literal["tool"] = "tool"
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = None
    result: ResultText = None
    data: dict[str, Any] | None = Field(None, description="The tool's structured output (JSON-safe).")
    error: str | None = None
    cached: bool = False


    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def title(self) -> str:
        return f"tool · {self.tool}"

    def observation(self) -> str:
        """What the LLM reads: the result, or the error prefixed with ``error:``."""
        return self.result or "" if self.error is None else f"error: {self.error}"

    def prompt_text(self) -> str:
        return f"{self.tool}({json.dumps(self.args)}) -> {self.observation()}"

    def html_body(self) -> str:
        parts = [f"<pre class=args>{_esc(json.dumps(self.args))}</pre>"]
        if self.result:
            parts.append(f"<pre>{_esc(self.result)}</pre>")
        if self.error:
            parts.append(f'<pre class="error">{_esc(self.error)}</pre>')
        return "".join(parts)


class RetryStep(StepBase):
    """A reply that could not be used; ``error`` is what was fed back to the LLM."""

    kind: Literal["retry"] = "retry"
    error: str
    problems: list[str] = Field(default_factory=list)
    raw_reply: RawReply = None


    def prompt_text(self) -> str:
        return f"rejected reply: {self.error}"

    def html_body(self) -> str:
        raw = f"<pre class=raw>{_esc((self.raw_reply or '')[:2000])}</pre>" if self.raw_reply else ""
        return f'<pre class="error">{_esc(self.error)}</pre>{raw}'


class RefusalStep(StepBase):
    """Tool calls the runner refused to run, and why (over the per-turn limit, or after the budget ran out)."""

    kind: Literal["refusal"] = "refusal"
    reason: str
    tool_calls: list[ToolCall] = Field(default_factory=list)

    def prompt_text(self) -> str:
        return f"refused {len(self.tool_calls)} tool call(s): {self.reason}"


class AnswerStep(StepBase):
    """An answer: the run's final one, or (``final=False``) an intermediate LLM step of a scripted pipeline."""

    kind: Literal["answer"] = "answer"
    answer: str
    rationale: str = ""
    thought: Thought = None
    final: bool = True
    call_id: str | None = Field(None, description="The pipeline step id, for pipeline LLM steps.")
    evidence: list[str] = Field(default_factory=list, description="Object ids the answer rests on, if known.")
    examples: list[str] = Field(default_factory=list)
    prompt: str | None = None
    error: str | None = None
    raw_reply: RawReply = None


    def prompt_text(self) -> str:
        return f"answer: {self.answer} ({self.rationale})" if self.rationale else f"answer: {self.answer}"

    def html_body(self) -> str:
        parts = [f'<p class="thought">{_esc(self.thought)}</p>'] if self.thought else []
        parts.append(f"<pre>{_esc(self.answer)}</pre>")
        if self.rationale:
            parts.append(f"<p>{_esc(self.rationale)}</p>")
        if self.error:
            parts.append(f'<pre class="error">{_esc(self.error)}</pre>')
        return "".join(parts)


Step = Annotated[PlanStep | ToolStep | RetryStep | RefusalStep | AnswerStep, Field(discriminator="kind")]
STEPS = TypeAdapter(list[Step])


def tool_steps(steps: list[Any]) -> list[ToolStep]:
    return [s for s in steps if isinstance(s, ToolStep)]


OBJECT_ID = re.compile(r"\bobj_\d+\b")


def reported_objects(steps: list[Any]) -> set[str]:
    """The object ids the tools of a trace reported (every ``id`` in their structured outputs)."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("id"), str) and OBJECT_ID.fullmatch(node["id"]):
                found.add(node["id"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for s in steps:
        if isinstance(s, ToolStep) and s.error is None and s.data:
            visit(s.data)
    return found


def named_objects(text: str, steps: list[Any]) -> list[str]:
    """The object ids ``text`` names (in its order) that a tool of the trace reported: the evidence of an answer
    an LLM wrote ("obj_1 is left of obj_0")."""
    reported = reported_objects(steps)
    return [i for i in dict.fromkeys(OBJECT_ID.findall(text)) if i in reported]


def evidence_of(steps: list[Any]) -> list[str]:
    """The object ids a trace's final answer rests on: its final ``AnswerStep``'s evidence (what the planner's
    ``Final`` said). Traces written before every planner stated it: the last successful query's evidence, else
    the ids the answer's rationale names."""
    final = next((s for s in reversed(steps) if isinstance(s, AnswerStep) and s.final), None)
    if final is not None and final.evidence:
        return list(final.evidence)
    for s in reversed(steps):
        evidence = (s.data or {}).get("evidence") if isinstance(s, ToolStep) and s.tool == "query" and s.ok else None
        if evidence and isinstance(evidence, list):
            return [str(i) for i in evidence]
    if final is not None:
        return list(dict.fromkeys(OBJECT_ID.findall(f"{final.answer} {final.rationale}")))
    return []


def total_usage(steps: list[Any]) -> Usage:
    usage = Usage()
    for s in steps:
        if s.usage:
            usage = usage.add(s.usage)
    return usage


class Answer(BaseModel):
    """The result of a question: a short answer plus everything that led to it."""

    question: str
    image: str = Field(description="Image id the question was about (img_0).")
    images: list[str] = Field(default_factory=list, description="Every image id the question could use.")
    answer: str = Field(description="Short answer, no reasoning.")
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list, description="Object ids the answer rests on, as the planner "
                                "stated them (a query's exact objects, the ids a ReAct answer names).")
    steps: list[Step] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    retries: int = 0
    finished: Literal["answered", "budget_exhausted", "failed"] = "answered"
    mode: str = Field("", description="The planner that answered: query, react, pipeline, naive.")
    llm: str = ""
    thread_id: str | None = None

    def to_json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())
