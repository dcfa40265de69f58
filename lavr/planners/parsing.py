"""Tolerant parsing of LLM replies into a ``Decision``: small models wrap JSON in prose or fences, or use
neighbouring shapes (``name``/``arguments``, a single call at top level, ``action``/``action_input``)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..schema import ToolCall

FINAL_ACTIONS = {"final_answer", "answer", "finish", "final"}


class Decision(BaseModel):
    """One planning turn: a thought, then either tool calls or an answer."""

    thought: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    answer: str | None = None
    rationale: str = ""

    @property
    def is_final(self) -> bool:
        return self.answer is not None and not self.tool_calls


class InvalidReply(ValueError):
    """The reply could not be turned into a decision; ``str()`` says why, for the LLM to fix."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON value in ``text`` (object preferred), ignoring code fences and surrounding prose."""
    text = text.strip()
    if not text:
        raise InvalidReply("the reply was empty")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in [i for i, ch in enumerate(candidate) if ch == "{"][:20]:
            try:
                value, _ = decoder.raw_decode(candidate[start:])
                return value
            except json.JSONDecodeError:
                continue
    raise InvalidReply("the reply was not valid JSON; reply with one JSON object only")


def _as_call(item: Any, index: int) -> ToolCall:
    if not isinstance(item, dict):
        raise InvalidReply(f"tool_calls[{index}] must be an object with 'tool' and 'args'")
    name = item.get("tool") or item.get("name") or item.get("function") or item.get("action")
    if isinstance(name, dict):  # OpenAI style {"function": {"name", "arguments"}}
        item = {**item, **name}
        name = name.get("name")
    args = item.get("args", item.get("arguments", item.get("parameters", item.get("action_input", {}))))
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            raise InvalidReply(f"tool_calls[{index}].args is a string that is not JSON") from None
    if not isinstance(name, str) or not name:
        raise InvalidReply(f"tool_calls[{index}] has no tool name")
    if not isinstance(args, dict):
        raise InvalidReply(f"tool_calls[{index}].args must be an object")
    return ToolCall(tool=name.strip(), args=args, id=str(item.get("id") or f"call_{index}"))


def decision_from_obj(obj: Any) -> Decision:
    if not isinstance(obj, dict):
        raise InvalidReply("the reply must be a JSON object")
    thought = obj.get("thought") or obj.get("reasoning") or obj.get("thoughts") or ""
    if not isinstance(thought, str):
        thought = json.dumps(thought)
    calls_raw = obj.get("tool_calls", obj.get("calls"))
    action = obj.get("action")
    answer = obj.get("answer", obj.get("final_answer"))
    if isinstance(action, str) and action.lower() in FINAL_ACTIONS and answer is None:
        answer = obj.get("action_input")
        if isinstance(answer, dict):
            answer = answer.get("answer")
    calls: list[ToolCall] = []
    if calls_raw:
        if isinstance(calls_raw, dict):
            calls_raw = [calls_raw]
        if not isinstance(calls_raw, list):
            raise InvalidReply("tool_calls must be a list")
        calls = [_as_call(c, i) for i, c in enumerate(calls_raw)]
    elif ("tool" in obj or (isinstance(action, str) and action.lower() not in FINAL_ACTIONS)) and answer is None:
        calls = [_as_call(obj, 0)]
    if calls:
        return Decision(thought=thought, tool_calls=calls)
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise InvalidReply("the reply has neither tool_calls nor an answer")
    if isinstance(answer, (int, float, bool)):
        answer = str(answer).lower() if isinstance(answer, bool) else str(answer)
    if not isinstance(answer, str):
        raise InvalidReply("answer must be a short string")
    rationale = obj.get("rationale") or obj.get("explanation") or ""
    try:
        return Decision(thought=thought, answer=answer.strip(), rationale=str(rationale))
    except ValidationError as exc:  # pragma: no cover - fields are coerced above
        raise InvalidReply(str(exc)) from None


def parse_decision(text: str) -> Decision:
    """Parse a reply into a ``Decision`` or raise ``InvalidReply`` with a message meant for the LLM."""
    return decision_from_obj(extract_json(text))
