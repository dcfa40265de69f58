"""lavr: LLM-Assisted Visual Reasoning.

An LLM planner calls expert vision tools, reads their text outputs and composes a short answer::

    from lavr import Agent
    answer = Agent().ask("bus.jpg", "How many people are in this photo?")
"""

from .agents import Agent, ProgramAgent, ask, make_agent
from .schema import Answer, Box, Detection, Step, ToolCall, Usage
from .settings import Settings

__all__ = ["Agent", "Answer", "ProgramAgent", "make_agent", "Box", "Detection", "Settings", "Step", "ToolCall", "Usage", "ask"]
__version__ = "0.1.0"
