"""The naive baseline: paste every expert's output into one prompt and ask once (PICa style).

No LLM chooses a tool: the first move runs the experts (``detect``, ``scene_graph`` and ``picture`` by default,
those that are available) on the image with their default arguments; the second pastes their text outputs into one
prompt after a short instruction and asks one LLM call for a short answer. It is the yardstick the planning modes must
beat with the same LLM on the same machine. The question comes last, so several questions about one image share
the prompt's expert context and llama.cpp reuses its KV state.
"""

from __future__ import annotations

from ...backends.base import LLMBackend, Message
from ...prompts import TemplateFile
from ...schema import BOX_CONVENTION, ToolCall
from ...trace import ToolStep
from ..base import CANNOT_TELL, CallTools, Final, PlanOutcome, PlanRequest

PROMPTS = TemplateFile(__package__, "prompts.yaml")
DEFAULT_EXPERTS = ("detect", "scene_graph", "picture")
MAX_ANSWER_TOKENS = 16


def naive_messages(question: str, runs: list[ToolStep]) -> list[Message]:
    """The one prompt: the instruction, then every expert's output and the question."""
    experts = [{"tool": s.tool, "error": s.error is not None, "text": s.observation()} for s in runs]
    return [Message(role="system", content=PROMPTS.render("system", box_convention=BOX_CONVENTION)),
            Message(role="user", content=PROMPTS.render("user", experts=experts, question=question))]


def first_line(text: str) -> str:
    """A reply's first non-empty line without a trailing period (small models add explanations below)."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line.rstrip(".").strip()


class NaivePlanner:
    """Runs the experts once, then answers with one LLM call over all their outputs.

    Args:
        experts: the tools that run, in this order, each on the first image with its default arguments.
        max_tokens: the answer's token budget.
    """

    name = "naive"

    def __init__(self, experts: tuple[str, ...] = DEFAULT_EXPERTS, *, max_tokens: int = MAX_ANSWER_TOKENS):
        self.experts = experts
        self.max_tokens = max_tokens
        self.calls_per_turn = max(1, len(experts))

    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        runs = [s for s in request.steps if isinstance(s, ToolStep)]
        if not runs and not request.force_answer:
            available = {t.name for t in request.tools}
            image = request.images[0].id
            calls = [ToolCall(tool=name, args={"image": image}, id=f"n{i + 1}")
                     for i, name in enumerate(n for n in self.experts if n in available)]
            if calls:
                return PlanOutcome(move=CallTools(calls=calls, thought="run every expert once"))
        reply = llm.generate(naive_messages(request.question, runs), max_tokens=self.max_tokens)
        used = [s.tool for s in runs if s.error is None]
        answer = first_line(reply.text) or CANNOT_TELL
        return PlanOutcome(move=Final(answer=answer, rationale=f"one LLM call over the outputs of "
                                      f"{', '.join(used) or 'no expert'}", thought="answer from the pasted outputs"),
                           raw_reply=reply.text, usage=reply.usage)
