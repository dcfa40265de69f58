"""The Python API: ``Agent(planner=..., llm=..., tools=...).ask(image, question) -> Answer``.

One ``Agent`` serves every planning mode: it composes a planner strategy with an LLM backend and the tools, owns
the run context (images, object ids, the expert cache), the budgets, the one tool executor and the one place an
``Answer`` is assembled.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from ..backends import LLMBackend, make_backend
from ..cache import open_cache
from ..errors import BackendError, InputError
from ..images import ImageInput
from ..planners import ImageInfo, Planner, make_planner
from ..planners.prompting import image_data_url
from ..settings import Settings
from ..tools import RunContext, Tool, ToolRegistry, default_tools
from ..trace import Answer, Step, evidence_of, total_usage
from .events import EventCallback, emit, events_of_update, planning
from .executor import ToolExecutor
from .graph import build_graph, new_question

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


def check_question(question: Any) -> str:
    """The question, stripped; ``InputError`` when it is not a non-empty string of bounded length."""
    if not isinstance(question, str):
        raise InputError(f"the question must be a string, not {type(question).__name__}")
    question = question.strip()
    if not question:
        raise InputError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return question


def check_image(image: Any) -> None:
    if not isinstance(image, (str, Path, bytes, bytearray, Image.Image)):
        raise InputError(f"the image must be a path, bytes or a PIL image, not {type(image).__name__}")


def answer_from_record(record: dict[str, Any], *, steps: list[Step], mode: str, llm: str, seconds: float,
                       thread_id: str | None = None) -> Answer:
    """The ``Answer`` of a finished question's record (written by the graph's ``finish`` node: question, images,
    final, finished): ``Agent.run`` and a chat thread's stored turns build their answers here alike. Its evidence
    is the planner's own (``Final.evidence``: object ids)."""
    final = record["final"]
    ids = [i["id"] for i in record.get("images", [])]
    return Answer(question=record["question"], image=ids[0] if ids else "", images=ids, answer=final["answer"],
                  rationale=final.get("rationale") or "", evidence=[str(i) for i in final.get("evidence") or []],
                  steps=steps, usage=total_usage(steps), seconds=seconds,
                  retries=sum(1 for s in steps if s.kind == "retry"), finished=record.get("finished") or "answered",
                  mode=mode, llm=llm, thread_id=thread_id)


def evidence_for(answer: str, steps: list[Step]) -> list[str]:
    """The object ids an answer rests on, from its trace (``lavr.trace.evidence_of``). Kept for
    ``lavr.chat.service`` until it builds its answers with ``answer_from_record``; ``answer`` is not used."""
    return evidence_of(steps)


class Agent:
    """Answers questions about images with a planner strategy, an LLM backend and expert tools.

    Args:
        llm: a backend, or a spec: ``"local"`` (embedded Qwen2.5-Coder-1.5B), ``"openai:MODEL"``, a ``.gguf``
            path, ``"scripted:FILE"``; default ``settings.llm``.
        planner: a ``Planner`` or a mode name (``"query"``, ``"react"``, ``"naive"``, ``"pipeline:FILE"``; see
            ``lavr.planners.make_planner``); default ``"auto"``: query with the embedded LLM, else react.
        settings: configuration; defaults are read from ``LAVR_*`` environment variables.
        tools: the experts; defaults to ``default_tools(settings)``.
        cache: keep expert outputs in the on-disk per-image cache (``False`` to bypass, or an ``ExpertCache``).
        checkpointer: a LangGraph checkpointer, for resumable runs and persistent threads.
    """

    def __init__(self, llm: LLMBackend | str | None = None, *, planner: Planner | str | None = None,
                 settings: Settings | None = None, tools: list[Tool] | None = None, cache: Any = True,
                 checkpointer: Any = None):
        self.settings = settings or Settings()
        self.backend: LLMBackend = make_backend(llm or self.settings.llm, self.settings) \
            if (llm is None or isinstance(llm, str)) else llm
        self.registry = ToolRegistry(tools if tools is not None else default_tools(self.settings))
        self.planner: Planner = make_planner(planner or "auto", self.settings, llm=self.backend) \
            if (planner is None or isinstance(planner, str)) else planner
        check_tools = getattr(self.planner, "check_tools", None)
        if check_tools is not None:
            check_tools(self.registry)
        self.executor = ToolExecutor(self.registry, timeout_s=self.settings.tool_timeout_s,
                                     max_parallel=self.settings.max_parallel_tools)
        self.cache = open_cache(self.settings) if cache is True else (cache or None)
        self.checkpointer = checkpointer
        self.graph = build_graph(self.planner, self.backend, self.registry, self.executor,
                                 max_steps=self.settings.max_steps, max_retries=self.settings.max_retries,
                                 checkpointer=checkpointer)

    def with_planner(self, planner: Planner | str) -> Agent:
        """An agent that shares this one's LLM, tools (loaded weights), cache and settings, with another planner:
        e.g. ``agent.with_planner(make_planner("pipeline", agent.settings, pipeline=path))``."""
        return Agent(self.backend, planner=planner, settings=self.settings, tools=list(self.registry.tools()),
                     cache=self.cache or False, checkpointer=self.checkpointer)

    def warm_up(self, question: str | None = None) -> None:
        """Start loading what the planner's first LLM call needs (the embedded model and its prompt prefix, and
        the prompt of ``question`` where it is the first question about one image), in the background; planners
        with nothing to load ignore it."""
        warm_up = getattr(self.planner, "warm_up", None)
        if warm_up is not None:
            warm_up(self.backend, question)

    @property
    def mode(self) -> str:
        return self.planner.name

    def new_context(self) -> RunContext:
        return RunContext(self.settings, cache=self.cache)

    def ask(self, image: ImageInput | list[ImageInput], question: str, *, context: RunContext | None = None,
            history: list[tuple[str, str]] | None = None, thread_id: str | None = None) -> Answer:
        """Answer ``question`` about ``image`` (a path, bytes, a PIL image, or the id of an image in ``context``),
        or about several images (a list: the question is about the first unless it names another; they are
        numbered img_0, img_1, ... in the order given).

        Raises:
            ImageError: the image is missing, unreadable, not an image or outside the allowed folders.
            InputError: the question or image is of the wrong type, the question empty or too long.
            BackendError: the LLM could not be reached or answered with something that is not a reply.
        """
        question = check_question(question)
        images = list(image) if isinstance(image, list) else [image]
        if not images:
            raise InputError("no image given")
        for one in images:
            check_image(one)
        start = time.perf_counter()
        ctx = context or self.new_context()
        ids = [(ctx.images.get(one) if isinstance(one, str) and one in ctx.images else ctx.images.add(one)).id
               for one in images]
        return self.run(ctx, list(dict.fromkeys(ids)), question, history=history, thread_id=thread_id, start=start)

    def image_infos(self, ctx: RunContext, ids: list[str]) -> list[dict[str, Any]]:
        infos = []
        for image_id in ids:
            stored = ctx.images.get(image_id)
            url = image_data_url(stored.pil) if self.backend.profile.supports_images else None
            # The original's hash: the example-leakage guard must not depend on the working size.
            infos.append(ImageInfo(id=image_id, width=stored.size[0], height=stored.size[1],
                                   sha256=stored.original_sha256 or stored.sha256,
                                   data_url=url).__dict__)
        return infos

    def run(self, ctx: RunContext, image_ids: list[str], question: str, *,
            history: list[tuple[str, str]] | None = None, thread_id: str | None = None,
            start: float | None = None, durability: Literal["sync", "async", "exit"] | None = None,
            on_event: EventCallback | None = None) -> Answer:
        """Run the graph for one question about images already in ``ctx``; the one place an ``Answer`` is built.

        With a checkpointer and a ``thread_id``, the thread's earlier turns are kept in the graph's state and
        reach the planner as history (``history`` then replaces them only when given). ``durability`` is
        LangGraph's checkpoint mode (chat threads use ``"exit"``: one checkpoint, written when the question ends).
        ``on_event`` sees each step as its node ends and a ``Progress`` before the planner or tools start
        (``lavr.agents.events``)."""
        start = time.perf_counter() if start is None else start
        config = {"configurable": {"lavr_context": ctx, "thread_id": thread_id or uuid.uuid4().hex},
                  "recursion_limit": 4 * (self.settings.max_steps + self.settings.max_retries) + 10
                  + 2 * self.planner.calls_per_turn}
        start_input = new_question(question, self.image_infos(ctx, image_ids), history)
        if on_event is None:
            state = self.graph.invoke(start_input, config, durability=durability)
        else:
            state = self._streamed(start_input, config, durability, on_event)
        if state.get("error"):
            raise BackendError(state["error"])
        steps = list(state.get("steps", []))
        return answer_from_record(state["answers"][-1], steps=steps, mode=self.mode, llm=self.backend.name,
                                  seconds=round(time.perf_counter() - start, 3), thread_id=thread_id)

    def _streamed(self, start_input: dict[str, Any], config: dict[str, Any], durability: Any,
                  on_event: EventCallback) -> dict[str, Any]:
        """``graph.invoke``, node by node: the same final state, with each node's steps reported as it ends."""
        emit(on_event, planning(self.mode))
        state: dict[str, Any] = {}
        for mode, chunk in self.graph.stream(start_input, config, stream_mode=["updates", "values"],
                                             durability=durability):
            if mode == "values":
                state = chunk
                continue
            for node, update in chunk.items():
                for event in events_of_update(node, update, self.mode):
                    emit(on_event, event)
        return state


def ask(image: ImageInput | Path, question: str, **kwargs: Any) -> Answer:
    """One-shot helper: ``lavr.ask("bus.jpg", "How many people?")``."""
    return Agent(**kwargs).ask(image, question)
