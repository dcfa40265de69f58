"""The Python API: ``Agent(...).ask(image, question) -> Answer``."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from ..backends import LLMBackend, make_backend
from ..errors import InputError
from ..images import ImageInput
from ..planners.base import ImageInfo
from ..planners.react import ReactPlanner, image_data_url
from ..schema import Answer
from ..settings import Settings
from ..tools import RunContext, Tool, ToolExecutor, ToolRegistry, default_tools
from .graph import CANNOT_TELL, build_graph, evidence_for, final_decision, total_usage

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


def open_cache(settings: Settings) -> Any:
    from ..cache import ExpertCache

    return ExpertCache(settings.subdir("cache") / "experts.sqlite", max_bytes=settings.cache_max_bytes)


class Agent:
    """Answers questions about images with an LLM planner and expert tools.

    Args:
        llm: a backend, or a spec: ``"local"`` (embedded Qwen2.5-Coder-1.5B), ``"openai:MODEL"``, a ``.gguf`` path.
        settings: configuration; defaults are read from ``LAVR_*`` environment variables.
        tools: the experts; defaults to ``default_tools(settings)``.
        cache: keep expert outputs in the on-disk per-image cache (``False`` to bypass, or an ``ExpertCache``).
        checkpointer: a LangGraph checkpointer, for resumable runs and persistent threads.
    """

    mode = "react"

    def __init__(self, llm: LLMBackend | str | None = None, *, settings: Settings | None = None,
                 tools: list[Tool] | None = None, cache: Any = True, checkpointer: Any = None):
        self.settings = settings or Settings()
        self.backend = make_backend(llm or self.settings.llm, self.settings) if (llm is None or isinstance(llm, str)) \
            else llm
        self.registry = ToolRegistry(tools if tools is not None else default_tools(self.settings))
        self.executor = ToolExecutor(self.registry, timeout_s=self.settings.tool_timeout_s,
                                     max_parallel=self.settings.max_parallel_tools)
        self.planner = ReactPlanner(self.backend, num_examples=self.settings.num_examples,
                                    max_tokens=self.settings.llm_max_tokens)
        self.cache = open_cache(self.settings) if cache is True else (cache or None)
        self.graph = build_graph(self.planner, self.registry, self.executor, max_steps=self.settings.max_steps,
                                 max_retries=self.settings.max_retries, checkpointer=checkpointer)

    def new_context(self) -> RunContext:
        return RunContext(self.settings, cache=self.cache)

    def ask(self, image: ImageInput, question: str, *, context: RunContext | None = None,
            history: list[tuple[str, str]] | None = None, thread_id: str | None = None) -> Answer:
        """Answer ``question`` about ``image`` (a path, bytes or a PIL image).

        Raises:
            ImageError: the image is missing, unreadable, not an image or outside the allowed folders.
            InputError: the question is empty or too long.
        """
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        start = time.perf_counter()
        ctx = context or self.new_context()
        stored = ctx.images.add(image) if not isinstance(image, str) or image not in ctx.images \
            else ctx.images.get(image)
        return self._run(ctx, [stored.id], question, history or [], start, thread_id)

    def _image_infos(self, ctx: RunContext, ids: list[str]) -> list[dict[str, Any]]:
        infos = []
        for image_id in ids:
            stored = ctx.images.get(image_id)
            url = image_data_url(stored.pil) if self.backend.supports_images else None
            infos.append(ImageInfo(id=image_id, width=stored.size[0], height=stored.size[1], sha256=stored.sha256,
                                   data_url=url).__dict__)
        return infos

    def _run(self, ctx: RunContext, image_ids: list[str], question: str, history: list[tuple[str, str]],
             start: float, thread_id: str | None) -> Answer:
        state_in = {"question": question, "images": self._image_infos(ctx, image_ids), "history": history,
                    "steps": [], "pending": [], "turns": 0, "retries": 0, "decision": None, "finished": None,
                    "error": None}
        config = {"configurable": {"lavr_context": ctx, "thread_id": thread_id or uuid.uuid4().hex},
                  "recursion_limit": 4 * (self.settings.max_steps + self.settings.max_retries) + 10}
        state = self.graph.invoke(state_in, config)
        steps = state.get("steps", [])
        decision = final_decision(state)
        finished = state.get("finished") or "budget_exhausted"
        if state.get("error"):
            from ..errors import BackendError

            raise BackendError(state["error"])
        if decision is None:
            answer, rationale = CANNOT_TELL, "the planner gave no usable answer within its budget"
            finished = "budget_exhausted"
        else:
            answer, rationale = decision.answer or CANNOT_TELL, decision.rationale
        return Answer(
            question=question, image=image_ids[0], answer=answer, rationale=rationale,
            evidence=evidence_for(answer, steps), steps=steps, usage=total_usage(steps),
            seconds=round(time.perf_counter() - start, 3), retries=state.get("retries", 0), finished=finished,
            llm=getattr(self.backend, "name", type(self.backend).__name__),
        )


def ask(image: ImageInput | Path, question: str, **kwargs: Any) -> Answer:
    """One-shot helper: ``lavr.ask("bus.jpg", "How many people?")``."""
    return Agent(**kwargs).ask(image, question)
