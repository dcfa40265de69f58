"""The step-by-step (ReAct-style) planner: each LLM turn either calls tools or answers."""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
from typing import Any

from ..backends.base import ImagePart, LLMBackend, Message
from ..images import content_hash, load_image
from ..prompts import render
from ..prompts.examples import Example, load_examples, select_examples
from ..schema import BOX_CONVENTION, Step, ToolCall
from ..tools.base import Tool
from .base import ImageInfo, PlanOutcome, PlanRequest
from .parsing import Decision, InvalidReply, decision_from_obj, parse_decision

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


def describe_args(schema: dict[str, Any]) -> str:
    """Compact argument list for the prompt: ``image (string, default "img_0"): Image id...``."""
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [p.get("type", "any") for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        kind = "/".join(str(k) for k in kinds) or "any"
        if "enum" in prop:
            kind = "one of " + "|".join(prop["enum"])
        elif any("enum" in p for p in prop.get("anyOf", [])):
            kind = "one of " + "|".join(next(p["enum"] for p in prop["anyOf"] if "enum" in p))
        default = f", default {json.dumps(prop['default'])}" if "default" in prop else ""
        optional = "" if name in schema.get("required", []) or default else ", optional"
        desc = f": {prop['description']}" if prop.get("description") else ""
        parts.append(f"{name} ({kind}{default}{optional}){desc}")
    return "; ".join(parts) or "none"


def decision_schema(tools: list[Tool], *, force_answer: bool = False) -> dict[str, Any]:
    """JSON schema of a reply; constrained decoders (llama.cpp) use it as a grammar."""
    answer = {
        "type": "object",
        "properties": {"thought": {"type": "string"}, "answer": {"type": "string"},
                       "rationale": {"type": "string"}},
        "required": ["thought", "answer", "rationale"],
        "additionalProperties": False,
    }
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
                       "tool_calls": {"type": "array", "items": {"anyOf": variants}, "minItems": 1, "maxItems": 4}},
        "required": ["thought", "tool_calls"],
        "additionalProperties": False,
    }
    return {"anyOf": [call, answer]}


def image_data_url(pil: Any, *, side: int = 768) -> str:
    img = pil.copy()
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


@functools.cache
def example_image(example_id: str) -> tuple[str, str] | None:
    """(content hash, data URL) of an example's image, or None when its package is not installed."""
    example = next(e for e in load_examples() if e.id == example_id)
    path = example.image.resolve()
    if path is None:
        return None
    pil, _ = load_image(path)
    return content_hash(pil), image_data_url(pil, side=512)


def examples_for(request: PlanRequest, k: int) -> list[Example]:
    """The k examples most similar to the question, with available tools, never about the question's image."""
    if k == 0:
        return []
    shas = {e.id: info[0] for e in load_examples() if (info := example_image(e.id))}
    return select_examples(request.question, {t.name for t in request.tools}, k,
                           exclude_images={i.sha256 for i in request.images}, image_sha=shas)


def with_history(text: str, history: list[tuple[str, str]]) -> str:
    """Prefix a question with the earlier turns of a conversation, if any."""
    if not history:
        return text
    earlier = "\n".join(f"Q: {q}\nA: {a}" for q, a in history)
    return f"Earlier in this conversation:\n{earlier}\n\n{text}"


def attached_images(backend: LLMBackend, examples: list[Example], images: list[ImageInfo]) -> list[ImagePart]:
    """Image parts for vision backends: the examples' images, then the question's; none for text-only ones."""
    if not getattr(backend, "supports_images", False):
        return []
    parts = [ImagePart(image_id=f"example {e.id}", data_url=info[1]) for e in examples if (info := example_image(e.id))]
    return parts + [ImagePart(image_id=i.id, data_url=i.data_url) for i in images if i.data_url]


def _decision_json(d: Decision) -> str:
    if d.tool_calls:
        return json.dumps({"thought": d.thought,
                           "tool_calls": [{"tool": c.tool, "args": c.args} for c in d.tool_calls]})
    return json.dumps({"thought": d.thought, "answer": d.answer, "rationale": d.rationale})


class ReactPlanner:
    """Builds the prompt from the trace each turn (the trace is the memory) and asks the backend for a move."""

    name = "react"

    def __init__(self, backend: LLMBackend, *, num_examples: int = 3, max_tokens: int | None = None):
        self.backend = backend
        self.num_examples = num_examples
        self.max_tokens = max_tokens
        self.native = bool(getattr(backend, "supports_native_tools", False))

    # Prompt -------------------------------------------------------------------------------------
    def system_prompt(self, tools: list[Tool]) -> str:
        rows = [{"name": t.name, "description": t.description, "args": describe_args(t.parameters_schema())}
                for t in tools]
        return render("system", box_convention=BOX_CONVENTION, tools=rows, native_tools=self.native)

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

    def question_message(self, request: PlanRequest, examples: list[Example]) -> Message:
        blocks = [render("examples_header")] + [self.render_example(i + 1, e) for i, e in enumerate(examples)]
        text = render("question", examples="\n".join(blocks) if examples else "",
                      image_line=" ".join(i.line() for i in request.images), question=request.question)
        return Message(role="user", content=with_history(text, request.history),
                       images=attached_images(self.backend, examples, request.images))

    def messages(self, request: PlanRequest, examples: list[Example]) -> list[Message]:
        msgs = [Message(role="system", content=self.system_prompt(request.tools)),
                self.question_message(request, examples)]
        steps = request.steps
        # Numbers shown in earlier turns are fixed per turn so the prompt prefix stays identical between calls
        # (llama.cpp then reuses its KV cache instead of re-reading the whole prompt).
        total_turns = request.steps_left + sum(1 for s in steps if s.kind == "plan")
        total_retries = request.retries_left + sum(1 for s in steps if s.kind == "retry")
        plans_seen = retries_seen = 0
        i = 0
        while i < len(steps):
            step = steps[i]
            if step.kind == "plan":
                calls = [ToolCall.model_validate(c) for c in (step.data or {}).get("tool_calls", [])]
                j = i + 1
                tool_steps: list[Step] = []
                while j < len(steps) and steps[j].kind == "tool":
                    tool_steps.append(steps[j])
                    j += 1
                if self.native:
                    msgs.append(Message(role="assistant", content=step.thought or "", tool_calls=calls))
                    for ts in tool_steps:
                        msgs.append(Message(role="tool", tool_call_id=ts.call_id,
                                            content=ts.result if ts.error is None else f"error: {ts.error}"))
                else:
                    msgs.append(Message(role="assistant", content=_decision_json(
                        Decision(thought=step.thought or "", tool_calls=calls))))
                    plans_seen += 1
                    steps_left = total_turns - plans_seen
                    obs = [{"tool": ts.tool, "error": ts.error is not None,
                            "text": ts.error if ts.error is not None else ts.result} for ts in tool_steps]
                    msgs.append(Message(role="user", content=render("observation", observations=obs,
                                                                    steps_left=steps_left)))
                i = j
            elif step.kind == "retry":
                retries_seen += 1
                msgs.append(Message(role="assistant", content=(step.raw_reply or "")[:800]))
                msgs.append(Message(role="user", content=render(
                    "invalid_reply", detail=step.error or "", retries_left=total_retries - retries_seen)))
                i += 1
            else:
                i += 1
        if request.force_answer:
            msgs.append(Message(role="user", content=render("force_answer")))
        return msgs

    # Decide -------------------------------------------------------------------------------------
    def decide(self, request: PlanRequest) -> PlanOutcome:
        examples = self.choose_examples(request)
        msgs = self.messages(request, examples)
        tools = [] if request.force_answer else request.tools
        if self.native:
            specs = [t.spec() for t in tools] + [FINAL_ANSWER_TOOL]
            reply = self.backend.generate(msgs, tools=specs, max_tokens=self.max_tokens)
        else:
            reply = self.backend.generate(msgs, json_schema=decision_schema(tools, force_answer=request.force_answer),
                                          max_tokens=self.max_tokens)
        outcome = PlanOutcome(decision=None, raw_reply=reply.text, usage=reply.usage,
                              example_ids=[e.id for e in examples])
        try:
            outcome.decision = self._to_decision(reply.text, reply.tool_calls)
            if request.force_answer and not outcome.decision.is_final:
                raise InvalidReply("tools are no longer available; give the answer")
        except InvalidReply as exc:
            outcome.error = str(exc)
        if outcome.raw_reply == "" and reply.tool_calls:
            outcome.raw_reply = json.dumps([c.model_dump() for c in reply.tool_calls])
        return outcome

    def _to_decision(self, text: str, native_calls: list[ToolCall]) -> Decision:
        if native_calls:
            final = [c for c in native_calls if c.tool == "final_answer"]
            if final:
                args = final[0].args
                return decision_from_obj({"thought": text, "answer": args.get("answer"),
                                          "rationale": args.get("rationale", "")})
            return Decision(thought=text, tool_calls=native_calls)
        if self.native and text.strip() and "{" not in text:
            return Decision(thought="", answer=text.strip().splitlines()[0], rationale=text.strip())
        return parse_decision(text)
