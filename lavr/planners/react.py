"""The step-by-step (ReAct-style) planner: each LLM turn either calls tools or answers."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from ..backends.base import LLMBackend, Message
from ..prompts import render
from ..prompts.examples import Example
from ..schema import BOX_CONVENTION, ToolCall
from ..tools.base import Tool
from ..trace import PlanStep, ToolStep, named_objects
from .base import CallTools, Final, PlanOutcome, PlanRequest
from .messages import Replay, Turn
from .parsing import Decision, InvalidReply, decision_from_obj, parse_decision
from .prompting import ANSWER_SCHEMA, answer_schema, attached_images, describe_args, examples_for, with_history
from .tool_profile import FULL, ToolProfile

logger = logging.getLogger(__name__)

FINAL_ANSWER_TOOL = {
    "name": "final_answer",
    "description": "Give the final short answer (a number, yes/no or a few words) and a one-sentence rationale.",
    "parameters": {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "rationale": {"type": "string"}},
        "required": ["answer", "rationale"],
        "additionalProperties": False,
    },
}


def decision_schema(tools: list[Tool], *, force_answer: bool = False, max_calls: int = 4,
                    question: str | None = None, must_call: bool = False) -> dict[str, Any]:
    """JSON schema of a reply; constrained decoders (llama.cpp) use it as a grammar. With ``question``, the
    answer's form follows it (yes/no questions: yes, no or cannot tell). ``must_call``: tool calls only (the
    first turn of a question: the LLM cannot see the image, so an answer before any tool output is a guess)."""
    answer = ANSWER_SCHEMA if question is None else answer_schema(question)
    if force_answer or not tools:
        return answer
    variants = [
        {"type": "object", "properties": {"tool": {"const": t.name}, "args": t.parameters_schema()},
         "required": ["tool", "args"], "additionalProperties": False}
        for t in tools
    ]
    call = {
        "type": "object",
        "properties": {"thought": {"type": "string"},
                       "tool_calls": {"type": "array", "items": {"anyOf": variants}, "minItems": 1,
                                      "maxItems": max_calls}},
        "required": ["thought", "tool_calls"],
        "additionalProperties": False,
    }
    return call if must_call else {"anyOf": [call, answer]}


def _plan_json(plan: PlanStep) -> str:
    """An earlier turn as the JSON reply it was (the calls as the LLM wrote them, ids left out)."""
    return json.dumps({"thought": plan.thought or "",
                       "tool_calls": [{"tool": c.tool, "args": c.args} for c in plan.tool_calls]})


def _observation(turn: Turn, turns_left: int) -> str:
    obs = [{"tool": ts.tool, "error": ts.error is not None, "text": ts.error if ts.error is not None else ts.result}
           for ts in turn.results]
    obs += [{"tool": c.tool, "error": True, "text": r.reason} for r in turn.refusals for c in r.tool_calls]
    return render("observation", observations=obs, steps_left=turns_left)


class ReactPlanner:
    """Step by step: each LLM turn either calls tools or answers. The prompt is rebuilt from the trace each turn
    (the trace is the memory), with earlier turns rendered identically so llama.cpp reuses its KV cache."""

    name = "react"

    def __init__(self, *, num_examples: int = 3, max_tokens: int | None = None, calls_per_turn: int = 4,
                 tool_profile: ToolProfile = FULL):
        self.num_examples = num_examples
        self.max_tokens = max_tokens
        self.calls_per_turn = calls_per_turn
        self.tool_profile = tool_profile

    def offered(self, request: PlanRequest) -> PlanRequest:
        """The request with only the tools this planner's profile offers (prompt, grammar and examples follow)."""
        tools = self.tool_profile.offer(request.tools)
        return request if len(tools) == len(request.tools) else dataclasses.replace(request, tools=tools)

    # Prompt -------------------------------------------------------------------------------------
    def system_prompt(self, tools: list[Tool], *, native: bool = False) -> str:
        rows = [{"name": t.name, "description": t.description, "args": describe_args(t.parameters_schema())}
                for t in tools]
        return render("system", box_convention=BOX_CONVENTION, tools=rows, native_tools=native)

    def choose_examples(self, request: PlanRequest) -> list[Example]:
        return examples_for(request, self.num_examples)

    def render_example(self, number: int, e: Example) -> str:
        turns = [{"reply": json.dumps({"thought": t.thought,
                                       "tool_calls": [{"tool": c.tool, "args": c.args} for c in t.tool_calls]}),
                  "observations": t.observations} for t in e.turns]
        final = json.dumps({"thought": e.final_thought, "answer": e.answer, "rationale": e.rationale})
        image_line = f"Image img_0: {e.image_size[0]}x{e.image_size[1]} pixels."
        return render("example", number=number, image_line=image_line, question=e.question, turns=turns,
                      final_reply=final)

    def question_message(self, request: PlanRequest, examples: list[Example], llm: LLMBackend) -> Message:
        blocks = [render("examples_header")] + [self.render_example(i + 1, e) for i, e in enumerate(examples)]
        text = render("question", examples="\n".join(blocks) if examples else "",
                      image_line=" ".join(i.line() for i in request.images), question=request.question)
        return Message(role="user", content=with_history(text, request.history),
                       images=attached_images(llm, examples, request.images))

    def messages(self, request: PlanRequest, examples: list[Example], llm: LLMBackend) -> list[Message]:
        native = llm.profile.supports_native_tools
        replay = Replay(native=native, plan_reply=_plan_json, observation=_observation,
                        rejected=lambda r, left: render("invalid_reply", detail=r.error, retries_left=left))
        msgs = [Message(role="system", content=self.system_prompt(request.tools, native=native)),
                self.question_message(request, examples, llm)]
        msgs += replay.messages(request.steps, turns_left=request.steps_left, retries_left=request.retries_left)
        if request.force_answer:
            msgs.append(Message(role="user", content=render("force_answer")))
        return msgs

    # Decide -------------------------------------------------------------------------------------
    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        request = self.offered(request)
        examples = self.choose_examples(request)
        msgs = self.messages(request, examples, llm)
        tools = [] if request.force_answer else request.tools
        native = llm.profile.supports_native_tools
        if native:
            specs = [t.spec() for t in tools] + [FINAL_ANSWER_TOOL]
            reply = llm.generate(msgs, tools=specs, max_tokens=self.max_tokens)
        else:
            # no tool output yet for this question: it must be looked at first (a small model otherwise
            # answered "2" for the bus photo, copying a worked example)
            must_call = not any(isinstance(s, ToolStep) for s in request.steps)
            schema = decision_schema(tools, force_answer=request.force_answer, max_calls=self.calls_per_turn,
                                     question=request.question, must_call=must_call)
            reply = llm.generate(msgs, json_schema=schema, max_tokens=self.max_tokens)
        raw = reply.text
        if raw == "" and reply.tool_calls:
            raw = json.dumps([c.model_dump() for c in reply.tool_calls])
        outcome = PlanOutcome(move=None, raw_reply=raw, usage=reply.usage, example_ids=[e.id for e in examples])
        try:
            decision = self._to_decision(reply.text, reply.tool_calls, native=native)
        except InvalidReply as exc:
            outcome.error = str(exc)
            return outcome
        if decision.is_final:
            outcome.move = Final(answer=decision.answer or "", rationale=decision.rationale, thought=decision.thought,
                                 evidence=named_objects(f"{decision.answer or ''} {decision.rationale}", request.steps))
        else:
            outcome.move = CallTools(calls=decision.tool_calls, thought=decision.thought)
        return outcome

    @staticmethod
    def _to_decision(text: str, native_calls: list[ToolCall], *, native: bool) -> Decision:
        if native_calls:
            final = [c for c in native_calls if c.tool == "final_answer"]
            if final:
                args = final[0].args
                return decision_from_obj({"thought": text, "answer": args.get("answer"),
                                          "rationale": args.get("rationale", "")})
            return Decision(thought=text, tool_calls=native_calls)
        if native and text.strip() and "{" not in text:
            return Decision(thought="", answer=text.strip().splitlines()[0], rationale=text.strip())
        return parse_decision(text)
