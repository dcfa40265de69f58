"""Planner strategies behind one protocol (``Planner.decide``), and ``make_planner`` to build one by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..backends.base import LLMBackend
from ..errors import InputError
from ..settings import Settings
from .base import CANNOT_TELL, CallTools, Failure, Final, ImageInfo, LlmStep, Move, Planner, PlanOutcome, PlanRequest
from .parsing import Decision, InvalidReply, parse_decision
from .react import ReactPlanner
from .tool_profile import ToolProfile, resolve_profile

__all__ = ["CANNOT_TELL", "PLANNER_MODES", "CallTools", "Decision", "Failure", "Final", "ImageInfo", "InvalidReply",
           "LlmStep", "Move",
           "PlanOutcome", "PlanRequest", "Planner", "ReactPlanner", "ToolProfile", "make_planner", "parse_decision"]

PLANNER_MODES = ("auto", "query", "react", "pipeline", "naive")


def make_planner(mode: str, settings: Settings, *, pipeline: Any = None, llm: LLMBackend | None = None,
                 tool_profile: str | ToolProfile | None = None) -> Planner:
    """The planner for a mode name.

    Args:
        mode: ``"auto"`` (the backend's declared ``profile.default_planner``: ``query`` with the embedded LLM,
            whose prompt-prefix state it reuses; ``react`` with any other), ``"query"`` (one constrained call
            writes a query program, executed exactly; ReAct where the language cannot express the question),
            ``"react"`` (step by step),
            ``"pipeline"`` with ``pipeline=`` (a fixed scripted pipeline, no planning) or ``"pipeline:PATH"``,
            ``"naive"`` (the PICa-style baseline: every expert output pasted into one prompt, one LLM call).
        settings: budgets and prompt options (examples shown, max tokens, tool calls per turn).
        pipeline: for ``"pipeline"``: a ``Pipeline``, a dict, or a YAML/JSON file path.
        llm: the backend: ``"auto"`` and the tool profile depend on it.
        tool_profile: which tools the ReAct planner offers (also ReAct as query mode's fallback):
            ``"full"``, ``"compact"``, a ``ToolProfile``, or ``"auto"``; default ``settings.tool_profile``
            (see ``lavr.planners.tool_profile``).

    Raises:
        InputError: an unknown mode, or ``"pipeline"`` without a pipeline; PipelineError: a malformed pipeline.
    """
    if mode.startswith("pipeline:"):
        mode, pipeline = "pipeline", mode.split(":", 1)[1]
    if mode == "auto":
        mode = llm.profile.default_planner if llm is not None else "react"
    profile = resolve_profile(tool_profile or settings.tool_profile, llm)
    react = ReactPlanner(num_examples=settings.num_examples, max_tokens=settings.llm_max_tokens,
                         calls_per_turn=settings.max_tool_calls_per_turn, tool_profile=profile)
    if mode == "react":
        return react
    if mode == "query":
        from .query import QueryPlanner

        return QueryPlanner(fallback=react)
    if mode == "pipeline":
        if pipeline is None or pipeline == "":
            raise InputError("mode 'pipeline' needs a pipeline (a file path, a dict or a Pipeline)")
        from .pipeline import PipelinePlanner

        return PipelinePlanner(Path(pipeline) if isinstance(pipeline, str) else pipeline,
                               max_tokens=settings.llm_max_tokens)
    if mode == "naive":
        from .naive import NaivePlanner

        return NaivePlanner()
    raise InputError(f"unknown mode {mode!r}; use one of: {', '.join(PLANNER_MODES)} (or pipeline:PATH)")
