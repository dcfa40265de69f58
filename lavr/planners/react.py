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
from ..trace import PlanStep, RefusalStep, RetryStep, ToolStep, named_objects
from .base import CallTools, Final, PlanOutcome, PlanRequest
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


def _decision_json(d: Decision) -> str:
    if d.tool_calls:
        return json.dumps({"thought": d.thought,
                           "tool_calls": [{"tool": c.tool, "args": c.args} for c in d.tool_calls]})
    return json.dumps({"thought": d.thought, "answer": d.answer, "rationale": d.rationale})


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
        msgs = [Message(role="system", content=self.system_prompt(request.tools, native=native)),
                self.question_message(request, examples, llm)]
        steps = request.steps
        # Numbers shown in earlier turns are fixed per turn so the prompt prefix stays identical between calls
        # (llama.cpp then reuses its KV cache instead of re-reading the whole prompt).
        total_turns = request.steps_left + sum(1 for s in steps if isinstance(s, PlanStep))
        total_retries = request.retries_left + sum(1 for s in steps if isinstance(s, RetryStep))
        plans_seen = retries_seen = 0
        i = 0
        while i < len(steps):
            step = steps[i]
            if isinstance(step, PlanStep):
                j = i + 1
                results: list[ToolStep | RefusalStep] = []
                while j < len(steps) and isinstance(steps[j], (ToolStep, RefusalStep)):
                    results.append(steps[j])  # type: ignore[arg-type]
                    j += 1
                tool_results = [r for r in results if isinstance(r, ToolStep)]
                refusals = [r for r in results if isinstance(r, RefusalStep)]
                if native:
                    msgs.append(Message(role="assistant", content=step.thought or "", tool_calls=step.tool_calls))
                    for ts in tool_results:
                        msgs.append(Message(role="tool", tool_call_id=ts.call_id, content=ts.observation()))
                    for r in refusals:
                        msgs += [Message(role="tool", tool_call_id=c.id, content=f"error: {r.reason}")
                                 for c in r.tool_calls]
                else:
                    msgs.append(Message(role="assistant", content=_decision_json(
                        Decision(thought=step.thought or "", tool_calls=step.tool_calls))))
                    plans_seen += 1
                    obs = [{"tool": ts.tool, "error": ts.error is not None,
                            "text": ts.error if ts.error is not None else ts.result} for ts in tool_results]
                    obs += [{"tool": c.tool, "error": True, "text": r.reason} for r in refusals for c in r.tool_calls]
                    msgs.append(Message(role="user", content=render("observation", observations=obs,
                                                                    steps_left=total_turns - plans_seen)))
                i = j
            elif isinstance(step, RetryStep):
                retries_seen += 1
                msgs.append(Message(role="assistant", content=(step.raw_reply or "")[:800]))
                msgs.append(Message(role="user", content=render(
                    "invalid_reply", detail=step.error, retries_left=total_retries - retries_seen)))
                i += 1
            else:
                i += 1
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
