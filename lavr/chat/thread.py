"""The chat view of a thread (built from the graph's checkpointed state) and how earlier turns become the
prompt's history: the thread's images and objects first, then the newest whole turns that fit the budget."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..schema import Detection
from .models import ChatTurn, ThreadImage, ThreadInfo, utcnow

# Rough size of a token for budgeting history (text-only prompts of English and ids).
CHARS_PER_TOKEN = 4
MAX_OBJECTS_SHOWN = 40


class ThreadState(BaseModel):
    id: str
    title: str = ""
    created: str = Field(default_factory=utcnow)
    updated: str = Field(default_factory=utcnow)
    prior: list[tuple[str, str]] = Field(default_factory=list,
                                         description="(question, answer) pairs a client brought from elsewhere.")
    images: list[ThreadImage] = Field(default_factory=list)
    objects: list[Detection] = Field(default_factory=list)
    turns: list[ChatTurn] = Field(default_factory=list)

    def info(self) -> ThreadInfo:
        return ThreadInfo(id=self.id, title=self.title, turns=len(self.turns), images=list(self.images),
                          updated=self.updated)

    def next_image_id(self) -> str:
        return f"img_{len(self.images)}"


def turn_pairs(state: ThreadState) -> list[tuple[str, str]]:
    """Earlier questions about the images as (question, answer) pairs that name the images attached and the
    objects found. Conversation, help and small-talk turns are left out: "why did you say 2?" between two
    questions must not become the context a follow-up's "them" is read against."""
    pairs = list(state.prior)
    for turn in state.turns:
        if turn.kind != "scene":
            if turn.images:  # the images still arrived with it
                pairs.append((f"[attached {', '.join(turn.images)}]", "-"))
            continue
        q = turn.text + (f" [attached {', '.join(turn.images)}]" if turn.images else "")
        a = turn.answer.answer
        if turn.answer.rationale:
            a += f" ({turn.answer.rationale})"
        pairs.append((q, a))
    return pairs


def objects_line(state: ThreadState) -> str:
    """The thread's known objects, so follow-ups can name them ("the one on the left" -> obj_1)."""
    if not state.objects:
        return ""
    shown = state.objects[-MAX_OBJECTS_SHOWN:]
    more = len(state.objects) - len(shown)
    head = f"Objects found so far ({more} older ones not listed): " if more else "Objects found so far: "
    return head + "; ".join(o.render() for o in shown)


def _tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def trim_history(pairs: list[tuple[str, str]], budget_tokens: int) -> tuple[list[tuple[str, str]], int]:
    """Keep the newest whole turns that fit the budget; returns them and how many older turns were dropped.

    Turns are never cut in the middle: a half question would mislead the planner more than a missing one.
    """
    kept: list[tuple[str, str]] = []
    used = 0
    for q, a in reversed(pairs):
        cost = _tokens(q) + _tokens(a) + 4
        if used + cost > budget_tokens:
            break
        kept.append((q, a))
        used += cost
    kept.reverse()
    return kept, len(pairs) - len(kept)


def prompt_history(state: ThreadState, budget_tokens: int, *, attached: list[str] | None = None
                   ) -> list[tuple[str, str]]:
    """History for the planner: the thread's images and objects first (as one pair), then the newest turns that
    fit ``budget_tokens``; dropped turns are counted in a note so the LLM knows there were more."""
    context: list[str] = []
    if len(state.images) > 1 or attached and state.turns:
        context.append("Images in this thread: " + ", ".join(f"{i.id} ({i.width}x{i.height})" for i in state.images)
                       + (f"; {', '.join(attached)} attached with the question below" if attached else ""))
    line = objects_line(state)
    if line:
        context.append(line)
    head = ("(thread context)", "\n".join(context)) if context else None
    budget = budget_tokens - (_tokens(head[1]) + 8 if head else 0)
    kept, dropped = trim_history(turn_pairs(state), max(0, budget))
    out: list[tuple[str, str]] = []
    if head:
        out.append(head)
    if dropped:
        out.append((f"({dropped} earlier turns omitted)", "-"))
    return out + kept
