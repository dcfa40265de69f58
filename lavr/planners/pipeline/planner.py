"""Scripted pipelines as a planner: the moves are the pipeline's own steps, in order; no LLM decides anything.

Consecutive tool steps go to the runner as one move (its executor resolves references and runs them); an LLM
step renders its template from what earlier steps produced and asks the LLM for ``{"answer", "rationale"}``
(an ``LlmStep``; the last step's reply is the ``Final`` answer); when every step has run the pipeline answers
with its last LLM step's answer, or the text of its last tool step. Where the pipeline stands is read from the trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ...backends.base import ImagePart, LLMBackend, Message
from ...prompts import TemplateFile
from ...schema import BOX_CONVENTION, ToolCall
from ...tools.registry import ToolRegistry
from ...trace import AnswerStep, RefusalStep, ToolStep
from ..base import CANNOT_TELL, CallTools, Failure, Final, LlmStep, PlanOutcome, PlanRequest
from ..messages import Replay
from ..prompting import read_answer
from .model import LLM_OUTPUT_SCHEMA, LlmStepSpec, Pipeline, ToolStepSpec
from .model import TEMPLATES as STEP_TEMPLATES

logger = logging.getLogger(__name__)

PROMPTS = TemplateFile(__package__, "prompts.yaml")
REPLY_FORMAT = '{"answer": "<short answer>", "rationale": "..."}'
REPLAY = Replay(rejected=lambda r, left: PROMPTS.render(
    "invalid_answer", reply_format=REPLY_FORMAT,
    error_json=json.dumps({"error": "invalid_reply", "detail": r.error, "retries_left": left})))


@dataclass
class StepView:
    """What a template sees of an earlier step: ``{{ dets.text }}``, ``{{ dets.data.counts.person }}``."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __str__(self) -> str:
        return self.text


def _views(steps: list[Any]) -> dict[str, StepView]:
    views: dict[str, StepView] = {}
    for s in steps:
        if isinstance(s, ToolStep) and s.call_id:
            views[s.call_id] = StepView(text=f"error: {s.error}", error=s.error) if s.error is not None \
                else StepView(text=s.result or "", data=s.data or {})
        elif isinstance(s, AnswerStep) and s.call_id:
            data = {} if s.error else {"answer": s.answer, "rationale": s.rationale}
            views[s.call_id] = StepView(text=s.answer or CANNOT_TELL, data=data, error=s.error)
    return views


class PipelinePlanner:
    """Runs one fixed ``Pipeline`` (checked against the tools when the agent is built)."""

    name = "pipeline"

    def __init__(self, pipeline: Pipeline | str | Path | Mapping[str, Any], *, max_tokens: int | None = None):
        self.pipeline = Pipeline.load(pipeline)
        self.max_tokens = max_tokens
        self.calls_per_turn = max(1, len(self.pipeline.steps))

    def check_tools(self, registry: ToolRegistry) -> None:
        """``PipelineError`` listing every problem of the pipeline against the available tools."""
        self.pipeline.check(registry)

    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        done = {s.call_id for s in request.steps if isinstance(s, (ToolStep, AnswerStep)) and s.call_id}
        done |= {c.id for s in request.steps if isinstance(s, RefusalStep) for c in s.tool_calls}
        pending = [spec for spec in self.pipeline.steps if spec.id not in done]
        if not pending:
            return PlanOutcome(move=self._final(request))
        if isinstance(pending[0], ToolStepSpec):
            calls = []
            for spec in pending:
                if not isinstance(spec, ToolStepSpec):
                    break
                calls.append(ToolCall(tool=spec.tool, args=spec.args, id=spec.id))
            return PlanOutcome(move=CallTools(calls=calls, thought=f"pipeline {self.pipeline.name}"))
        return self._llm_step(pending[0], request, llm)

    def _llm_step(self, spec: LlmStepSpec, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        image_ids = [i.id for i in request.images]
        is_last = spec is self.pipeline.steps[-1]
        try:
            prompt = STEP_TEMPLATES.from_string(spec.llm).render(question=request.question, image=image_ids[0],
                                                                 images=image_ids, **_views(request.steps))
        except jinja2.TemplateError as exc:
            logger.info("pipeline step %s: template error: %s", spec.id, exc)
            broken = LlmStep(step_id=spec.id, answer=CANNOT_TELL, error=f"template error: {exc}")
            final = Final(answer=CANNOT_TELL, step=broken, failure=Failure("broken", broken.error or ""))
            return PlanOutcome(move=final if is_last else broken)
        if request.force_answer:  # the retry budget is spent on this step
            spent = LlmStep(step_id=spec.id, answer=CANNOT_TELL, prompt=prompt)
            return PlanOutcome(move=Final(answer=CANNOT_TELL, step=spent,
                                          failure=Failure("retries", "no usable reply within the retry budget")))
        parts = [ImagePart(image_id=i.id, data_url=i.data_url) for i in request.images if i.data_url]
        messages = [Message(role="system", content=PROMPTS.render("pipeline_system", box_convention=BOX_CONVENTION)),
                    Message(role="user", content=prompt, images=parts)]
        last_done = max((s.index for s in request.steps if isinstance(s, (ToolStep, AnswerStep))), default=-1)
        this_step = [s for s in request.steps if s.index > last_done]  # the rejected replies to this step
        messages += REPLAY.messages(this_step, turns_left=0, retries_left=request.retries_left)
        reply = llm.generate(messages, json_schema=LLM_OUTPUT_SCHEMA, max_tokens=spec.max_tokens or self.max_tokens)
        outcome, decision = read_answer(reply)
        if decision is not None:
            step = LlmStep(step_id=spec.id, answer=decision.answer or CANNOT_TELL, rationale=decision.rationale,
                           thought=decision.thought, prompt=prompt)
            outcome.move = Final(answer=step.answer, rationale=step.rationale, thought=step.thought, step=step) \
                if is_last else step
        return outcome

    def _final(self, request: PlanRequest) -> Final:
        """Every step has run: the last LLM step's answer, else the last tool step's text."""
        answers = [s for s in request.steps if isinstance(s, AnswerStep) and s.call_id]
        if answers:
            last = answers[-1]
            return Final(answer=last.answer or CANNOT_TELL, rationale=last.rationale,
                         failure=None if last.error is None else Failure("broken", last.error))
        runs = [s for s in request.steps if isinstance(s, ToolStep)]
        if not runs or runs[-1].error is not None:
            detail = f"step {runs[-1].call_id} failed: {runs[-1].error}" if runs else "no step ran"
            return Final(answer=CANNOT_TELL, rationale=detail, failure=Failure("broken", detail))
        last_run = runs[-1]
        return Final(answer=last_run.result or "", rationale=f"the output of step {last_run.call_id} ({last_run.tool})",
                     verbatim=True)
