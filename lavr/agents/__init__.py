from .agent import Agent, ask

__all__ = ["Agent", "ask"]
