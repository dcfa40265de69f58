"""Pieces shared by program mode and scripted pipelines: running planned tool steps (references resolved, safe
steps in parallel), asking the LLM for a JSON answer with bounded retries, and assembling the ``Answer``."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ..backends.base import LLMBackend, Message
from ..planners.parsing import Decision, InvalidReply, parse_decision
from ..programs import ProgramStep, RefError, find_refs, parse_ref, substitute
from ..prompts import render_program
from ..schema import Answer, Step, ToolCall
from ..tools.base import RunContext
from ..tools.registry import ToolExecutor
from .graph import evidence_for, total_usage

logger = logging.getLogger(__name__)


def _image_of(executor: ToolExecutor, tool: str, args: dict[str, Any]) -> str | None:
    """The image a call works on (its ``image`` argument or that field's default); None if it has none."""
    if tool not in executor.registry:
        return None
    field = executor.registry.get(tool).input_model.model_fields.get("image")
    if field is None:
        return None
    value = args.get("image", field.default)
    return value if isinstance(value, str) else None


def execute_steps(steps: list[ProgramStep], executor: ToolExecutor, ctx: RunContext, *, first_index: int,
                  outputs: dict[str, Any]) -> list[Step]:
    """Run planned tool steps in order and return their trace steps.

    References are substituted from ``outputs`` (step id -> the tool's JSON output, None when it failed), which
    is filled in as steps finish. A step whose references cannot be resolved (an earlier step failed, a list was
    shorter than the index) is recorded as a tool step with an error and not run.

    Consecutive steps run in parallel (``executor.run_many``) only when they do not reference each other and
    work on different images: tools share per-image state in the ``RunContext`` (a scene graph reads the objects
    a detector registered), so steps on the same image, or on no image argument, keep the program's order.
    """
    trace: list[Step] = []
    group: list[tuple[ProgramStep, ToolCall, str]] = []

    def flush() -> None:
        if not group:
            return
        done = executor.run_many([call for _, call, _ in group], ctx, first_index=first_index + len(trace))
        for (planned, _, _), step in zip(group, done):
            outputs[planned.id] = step.data if step.error is None else None
        trace.extend(done)
        group.clear()

    for planned in steps:
        needs = {parse_ref(text).step for _, text in find_refs(planned.args)}
        if needs & {g.id for g, _, _ in group}:
            flush()
        try:
            args = substitute(planned.args, outputs)
        except RefError as exc:
            flush()
            trace.append(Step(index=first_index + len(trace), kind="tool", tool=planned.tool, args=planned.args,
                              call_id=planned.id, error=f"not run: {exc}"))
            outputs[planned.id] = None
            logger.info("step %s not run: %s", planned.id, exc)
            continue
        image = _image_of(executor, planned.tool, args)
        if image is None or image in {img for _, _, img in group}:
            flush()
        group.append((planned, ToolCall(tool=planned.tool, args=args, id=planned.id), image or ""))
        if image is None:
            flush()
    flush()
    return trace


def request_answer(backend: LLMBackend, messages: list[Message], *, schema: dict[str, Any], reply_format: str,
                   attempts: int, max_tokens: int | None, first_index: int) -> tuple[Decision | None, list[Step]]:
    """Ask for a JSON answer; a malformed reply is fed back and asked again, at most ``attempts`` calls in all.

    Returns:
        The decision (None when every attempt failed) and the trace steps: one ``retry`` step per rejected
        reply, then the ``answer`` step (``result`` the answer, ``data['rationale']``).
    """
    steps: list[Step] = []
    msgs = list(messages)
    for n in range(max(1, attempts)):
        start = time.perf_counter()
        reply = backend.generate(msgs, json_schema=schema, max_tokens=max_tokens)
        seconds = round(time.perf_counter() - start, 4)
        try:
            decision = parse_decision(reply.text)
            if not decision.is_final:
                raise InvalidReply("tools cannot be called now; reply with the answer")
        except InvalidReply as exc:
            steps.append(Step(index=first_index + len(steps), kind="retry", raw_reply=reply.text, error=str(exc),
                              usage=reply.usage, seconds=seconds))
            left = max(1, attempts) - n - 1
            payload = json.dumps({"error": "invalid_reply", "detail": str(exc), "retries_left": left})
            msgs += [Message(role="assistant", content=reply.text[:800]),
                     Message(role="user", content=render_program("invalid_answer", error_json=payload,
                                                                 reply_format=reply_format))]
            logger.info("unusable answer reply (%s)", exc)
            continue
        steps.append(Step(index=first_index + len(steps), kind="answer", thought=decision.thought or None,
                          result=decision.answer, raw_reply=reply.text, usage=reply.usage, seconds=seconds,
                          data={"rationale": decision.rationale}))
        return decision, steps
    return None, steps


def make_answer(*, question: str, image: str, answer: str, rationale: str, steps: list[Step], start: float,
                finished: str, backend: Any, evidence: list[int] | None = None) -> Answer:
    """The ``Answer`` record, built the same way as the ReAct agent's."""
    return Answer(
        question=question, image=image, answer=answer, rationale=rationale,
        evidence=evidence_for(answer, steps) if evidence is None else evidence, steps=steps,
        usage=total_usage(steps), seconds=round(time.perf_counter() - start, 3),
        retries=sum(1 for s in steps if s.kind == "retry"), finished=finished,  # type: ignore[arg-type]
        llm=getattr(backend, "name", type(backend).__name__),
    )
