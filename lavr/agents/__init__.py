from .agent import Agent, ask
from .modes import AGENT_MODES, make_agent
from .program import ProgramAgent

__all__ = ["AGENT_MODES", "Agent", "ProgramAgent", "ask", "make_agent"]
