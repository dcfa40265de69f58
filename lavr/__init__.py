"""lavr: LLM-Assisted Visual Reasoning.

An LLM planner calls expert vision tools, reads their text outputs and composes a short answer::

    from lavr import Agent
    answer = Agent().ask("bus.jpg", "How many people are in this photo?")

The names below are imported on first use, so ``import lavr.tools`` does not pull in the agent graph.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "lavr.agents", "ask": "lavr.agents", "make_agent": "lavr.agents", "make_planner": "lavr.planners",
    "Answer": "lavr.trace", "Box": "lavr.schema", "Detection": "lavr.schema", "Step": "lavr.trace",
    "ToolCall": "lavr.schema", "Usage": "lavr.schema", "Settings": "lavr.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lavr' has no attribute {name!r}")
