"""The runner: one ``Agent`` composing a planner, an LLM and tools, run by one LangGraph graph."""

from __future__ import annotations

from typing import Any

from ..planners import PLANNER_MODES
from .agent import Agent, ask

__all__ = ["AGENT_MODES", "Agent", "ask", "make_agent"]

AGENT_MODES = PLANNER_MODES


def make_agent(mode: str = "auto", llm: Any = None, *, pipeline: Any = None, **kwargs: Any) -> Agent:
    """``Agent(llm, planner=make_planner(mode, settings, pipeline=pipeline, llm=backend), **kwargs)``: the backend
    is built first, since the planner's tool profile depends on it."""
    from ..backends import make_backend
    from ..planners import make_planner
    from ..settings import Settings

    settings = kwargs.pop("settings", None) or Settings()
    backend = make_backend(llm or settings.llm, settings) if llm is None or isinstance(llm, str) else llm
    return Agent(backend, planner=make_planner(mode, settings, pipeline=pipeline, llm=backend), settings=settings,
                 **kwargs)
