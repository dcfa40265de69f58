"""Choosing how an agent plans: ``make_agent("react" | "program" | "pipeline", ...)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .agent import Agent
from .program import ProgramAgent

AGENT_MODES = ("react", "program", "pipeline")


def make_agent(mode: str = "react", llm: Any = None, *, pipeline: Any = None, **kwargs: Any) -> Agent:
    """Build the agent for a planning mode; every mode has ``ask(image, question) -> Answer``.

    Args:
        mode: ``"react"`` (step by step, the default), ``"program"`` (whole program at once, then one answer
            call), ``"pipeline"`` (a fixed scripted pipeline, no planner) or ``"pipeline:PATH"`` (shorthand for
            ``mode="pipeline", pipeline=PATH``, handy for command-line flags).
        llm: the backend or backend spec, as for ``Agent``.
        pipeline: for ``"pipeline"``: a ``Pipeline``, a dict, or a YAML/JSON file path.
        **kwargs: the other ``Agent`` options (``settings``, ``tools``, ``cache``, ``checkpointer``).

    Raises:
        InputError: an unknown mode, or ``"pipeline"`` without a pipeline; PipelineError: a bad pipeline.
    """
    if mode.startswith("pipeline:"):
        mode, pipeline = "pipeline", mode.split(":", 1)[1]
    if mode == "react":
        return Agent(llm, **kwargs)
    if mode == "program":
        return ProgramAgent(llm, **kwargs)
    if mode == "pipeline":
        if pipeline is None or pipeline == "":
            raise InputError("mode 'pipeline' needs a pipeline (a file path, a dict or a Pipeline)")
        from .pipeline import PipelineAgent

        return PipelineAgent(llm, pipeline=Path(pipeline) if isinstance(pipeline, str) else pipeline, **kwargs)
    raise InputError(f"unknown agent mode {mode!r}; use one of: {', '.join(AGENT_MODES)} (or pipeline:PATH)")
