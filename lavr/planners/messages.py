"""The one place a trace becomes chat messages for planners that replay their steps to the LLM (ReAct's turns, a
pipeline's LLM step), and the one place the budgets shown in those messages are counted.

A planning turn becomes the assistant's reply and its tools' results: native tool messages for a backend with
native tool calling, else one user message of observations. A rejected reply becomes the assistant's reply
(clipped) and a user message saying what was wrong and how many retries are left. The numbers shown are fixed
per turn: each is counted from the budget the question started with, never from what is left now, so an earlier
turn renders the same on every call, the prompt prefix stays byte-identical and llama.cpp reuses its KV cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..backends.base import Message
from ..trace import PlanStep, RefusalStep, RetryStep, Step, ToolStep

REJECTED_REPLY_CHARS = 800  # what a rejected reply shows of itself when it is fed back


@dataclass
class Turn:
    """A planning turn and what its calls gave: tool results and refused calls."""

    plan: PlanStep
    results: list[ToolStep] = field(default_factory=list)
    refusals: list[RefusalStep] = field(default_factory=list)


def left_after_each(done: int, left_now: int) -> list[int]:
    """What was left of a budget after each of the ``done`` uses so far, given what is ``left_now``: the n-th use
    (from 0) left ``left_now + done - n - 1``."""
    return [left_now + done - n - 1 for n in range(done)]


@dataclass(frozen=True)
class Replay:
    """How a planner's turns and rejected replies read as messages.

    Args:
        native: the backend calls tools natively: a turn is an assistant message with tool calls and one ``tool``
            message per result.
        plan_reply: a turn as the assistant's text reply (text tool calling).
        observation: the user message after a turn (text tool calling), given the turn and the planning turns
            left after it.
        rejected: the user message after a rejected reply, given the step and the retries left after it.
    """

    rejected: Callable[[RetryStep, int], str]
    plan_reply: Callable[[PlanStep], str] = lambda plan: plan.thought or ""
    observation: Callable[[Turn, int], str] | None = None
    native: bool = False

    def messages(self, steps: Sequence[Step], *, turns_left: int, retries_left: int) -> list[Message]:
        """The messages of ``steps`` (turns and rejected replies; other steps are skipped), with the budgets that
        are left now (``turns_left``, ``retries_left``)."""
        items = group_turns(steps)
        turns = [i for i in items if isinstance(i, Turn)]
        retries = [i for i in items if isinstance(i, RetryStep)]
        turns_after = iter(left_after_each(len(turns), turns_left))
        retries_after = iter(left_after_each(len(retries), retries_left))
        out: list[Message] = []
        for item in items:
            if isinstance(item, RetryStep):
                out += [Message(role="assistant", content=(item.raw_reply or "")[:REJECTED_REPLY_CHARS]),
                        Message(role="user", content=self.rejected(item, next(retries_after)))]
            elif self.native:
                out += self._native_turn(item)
            else:
                out.append(Message(role="assistant", content=self.plan_reply(item.plan)))
                if self.observation is not None:
                    out.append(Message(role="user", content=self.observation(item, next(turns_after))))
        return out

    @staticmethod
    def _native_turn(turn: Turn) -> list[Message]:
        out = [Message(role="assistant", content=turn.plan.thought or "", tool_calls=turn.plan.tool_calls)]
        out += [Message(role="tool", tool_call_id=r.call_id, content=r.observation()) for r in turn.results]
        out += [Message(role="tool", tool_call_id=c.id, content=f"error: {r.reason}")
                for r in turn.refusals for c in r.tool_calls]
        return out


def group_turns(steps: Sequence[Step]) -> list[Turn | RetryStep]:
    """The trace as planning turns (a plan and the tool and refusal steps right after it) and rejected replies."""
    items: list[Turn | RetryStep] = []
    turn: Turn | None = None  # the turn whose results may follow
    for step in steps:
        if isinstance(step, ToolStep) and turn is not None:
            turn.results.append(step)
            continue
        if isinstance(step, RefusalStep) and turn is not None:
            turn.refusals.append(step)
            continue
        turn = Turn(plan=step) if isinstance(step, PlanStep) else None
        if turn is not None:
            items.append(turn)
        elif isinstance(step, RetryStep):
            items.append(step)
    return items
