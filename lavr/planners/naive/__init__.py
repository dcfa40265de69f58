"""The naive baseline planner (``make_planner("naive")``): every expert output in one prompt, one LLM call."""

from .planner import DEFAULT_EXPERTS, NaivePlanner, naive_messages

__all__ = ["DEFAULT_EXPERTS", "NaivePlanner", "naive_messages"]
