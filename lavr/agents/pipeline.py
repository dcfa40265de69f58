"""Running scripted pipelines (``lavr.pipelines``) with an agent's tools, executor, LLM backend and cache."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import jinja2

from ..backends.base import ImagePart, Message
from ..errors import InputError
from ..images import ImageInput
from ..pipelines import LLM_OUTPUT_SCHEMA, TEMPLATES, LLMStep, Pipeline, ToolStep
from ..planners.react import image_data_url
from ..programs import ProgramStep
from ..prompts import render_program
from ..schema import BOX_CONVENTION, Answer, Step
from ..tools.base import RunContext
from .agent import MAX_QUESTION_CHARS, Agent
from .graph import CANNOT_TELL
from .runtime import execute_steps, make_answer, request_answer

logger = logging.getLogger(__name__)

REPLY_FORMAT = '{"answer": "<short answer>", "rationale": "..."}'


@dataclass
class StepView:
    """What a template sees of an earlier step: ``{{ dets.text }}``, ``{{ dets.data.counts.person }}``."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __str__(self) -> str:
        return self.text


def _tool_view(step: Step) -> StepView:
    if step.error is not None:
        return StepView(text=f"error: {step.error}", error=step.error)
    return StepView(text=step.result or "", data=step.data or {})


class PipelineRunner:
    """Runs pipelines with ``agent``'s registry, executor, backend, settings and cache (one ``RunContext`` per
    question, so expert outputs are shared and cached exactly as in the agent's own runs)."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def run(self, pipeline: Pipeline | str | Path | Mapping[str, Any], image: ImageInput, question: str, *,
            context: RunContext | None = None) -> Answer:
        """Run ``pipeline`` on ``image`` for ``question``.

        Raises:
            PipelineError: the pipeline is malformed or does not fit the available tools (nothing ran).
            InputError: the question is empty or too long; ImageError: the image cannot be used.
        """
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        pipeline = Pipeline.load(pipeline)
        pipeline.check(self.agent.registry)
        start = time.perf_counter()
        ctx = context or self.agent.new_context()
        stored = ctx.images.add(image) if not isinstance(image, str) or image not in ctx.images \
            else ctx.images.get(image)
        return self.run_ids(pipeline, ctx, [stored.id], question, start=start)

    def run_ids(self, pipeline: Pipeline, ctx: RunContext, image_ids: list[str], question: str, *,
                start: float) -> Answer:
        """Run a checked pipeline on images already in ``ctx``."""
        steps: list[Step] = []
        outputs: dict[str, Any] = {}
        views: dict[str, StepView] = {}
        pending: list[ProgramStep] = []

        def run_pending() -> None:
            new = execute_steps(pending, self.agent.executor, ctx, first_index=len(steps), outputs=outputs)
            steps.extend(new)
            views.update({s.call_id or "": _tool_view(s) for s in new})
            pending.clear()

        for spec in pipeline.steps:
            if isinstance(spec, ToolStep):
                pending.append(ProgramStep(id=spec.id, tool=spec.tool, args=spec.args))
                continue
            run_pending()
            step = self._llm_step(spec, ctx, image_ids, question, views, steps)
            outputs[spec.id] = None if step.error else {"answer": step.result, "rationale": step.data["rationale"]}
            views[spec.id] = StepView(text=step.result or CANNOT_TELL, data=outputs[spec.id] or {}, error=step.error)
        run_pending()
        return self._answer(pipeline, question, image_ids[0], steps, start)

    def _llm_step(self, spec: LLMStep, ctx: RunContext, image_ids: list[str], question: str,
                  views: dict[str, StepView], steps: list[Step]) -> Step:
        """Render the template, ask for JSON ``{answer, rationale}``; append retry and answer steps."""
        settings = self.agent.settings
        try:
            prompt = TEMPLATES.from_string(spec.llm).render(question=question, image=image_ids[0],
                                                            images=list(image_ids), **views)
        except jinja2.TemplateError as exc:
            step = Step(index=len(steps), kind="answer", call_id=spec.id, result=CANNOT_TELL,
                        error=f"template error: {exc}", data={"rationale": "", "failed": "template"})
            steps.append(step)
            logger.info("pipeline step %s: template error: %s", spec.id, exc)
            return step
        backend = self.agent.backend
        parts = [ImagePart(image_id=i, data_url=image_data_url(ctx.images.get(i).pil)) for i in image_ids] \
            if getattr(backend, "supports_images", False) else []
        messages = [Message(role="system", content=render_program("pipeline_system", box_convention=BOX_CONVENTION)),
                    Message(role="user", content=prompt, images=parts)]
        used = sum(1 for s in steps if s.kind == "retry")
        decision, new = request_answer(backend, messages, schema=LLM_OUTPUT_SCHEMA, reply_format=REPLY_FORMAT,
                                       attempts=settings.max_retries + 1 - used,
                                       max_tokens=spec.max_tokens or settings.llm_max_tokens, first_index=len(steps))
        for s in new:
            s.call_id = spec.id
        if decision is None:
            new.append(Step(index=len(steps) + len(new), kind="answer", call_id=spec.id, result=CANNOT_TELL,
                            error="no usable reply within the retry budget",
                            data={"rationale": "", "failed": "retries"}))
        new[-1].data = {**(new[-1].data or {}), "prompt": prompt}
        steps.extend(new)
        return new[-1]

    def _answer(self, pipeline: Pipeline, question: str, image: str, steps: list[Step], start: float) -> Answer:
        common: dict[str, Any] = {"question": question, "image": image, "steps": steps, "start": start,
                                  "backend": self.agent.backend}
        final = next((s for s in reversed(steps) if s.kind == "answer"), None)
        if final is not None:
            failed = (final.data or {}).get("failed")
            finished = "answered" if failed is None else "budget_exhausted" if failed == "retries" else "failed"
            return make_answer(answer=final.result or CANNOT_TELL, rationale=(final.data or {}).get("rationale", ""),
                               finished=finished, **common)
        last = steps[-1]  # a pipeline has at least one step, and every step leaves a trace step
        if last.error is not None:
            return make_answer(answer=CANNOT_TELL, rationale=f"step {last.call_id} failed: {last.error}",
                               finished="failed", evidence=[], **common)
        return make_answer(answer=last.result or "", rationale=f"the output of step {last.call_id} ({last.tool})",
                           finished="answered", evidence=[last.index], **common)


def run_pipeline(pipeline: Pipeline | str | Path | Mapping[str, Any], agent: Agent, image: ImageInput,
                 question: str, *, context: RunContext | None = None) -> Answer:
    """Run a scripted pipeline with ``agent``'s tools, LLM and cache: ``PipelineRunner(agent).run(...)``."""
    return PipelineRunner(agent).run(pipeline, image, question, context=context)


class PipelineAgent(Agent):
    """An ``Agent`` that answers every question with one fixed pipeline (for the eval runner and the CLI).

    Args:
        llm: as for ``Agent``; the backend the pipeline's LLM steps use.
        pipeline: a ``Pipeline``, a dict, or a path to a YAML/JSON file; checked against the tools at once.
        **kwargs: the other ``Agent`` options (``settings``, ``tools``, ``cache``, ...).
    """

    mode = "pipeline"

    def __init__(self, llm: Any = None, *, pipeline: Pipeline | str | Path | Mapping[str, Any], **kwargs: Any):
        super().__init__(llm, **kwargs)
        self.pipeline = Pipeline.load(pipeline)
        self.pipeline.check(self.registry)

    def _run(self, ctx: RunContext, image_ids: list[str], question: str, history: list[tuple[str, str]],
             start: float, thread_id: str | None) -> Answer:
        return PipelineRunner(self).run_ids(self.pipeline, ctx, image_ids, question, start=start)
