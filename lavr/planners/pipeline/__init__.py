"""Scripted pipelines: the pipeline model (tool and LLM steps), its prompts and its planner."""

from .model import LLMStep, Pipeline, ToolStep
from .planner import PipelinePlanner

__all__ = ["LLMStep", "Pipeline", "PipelinePlanner", "ToolStep"]
