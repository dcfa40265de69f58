from .base import ImageInfo, PlanOutcome, PlanRequest, Planner
from .parsing import Decision, InvalidReply, parse_decision
from .react import ReactPlanner

__all__ = ["Decision", "ImageInfo", "InvalidReply", "PlanOutcome", "PlanRequest", "Planner", "ReactPlanner",
           "parse_decision"]
