"""Scripted pipelines: the pipeline model (tool and LLM steps), its prompts and its planner."""

from .model import LlmStepSpec, Pipeline, ToolStepSpec
from .planner import PipelinePlanner

__all__ = ["LlmStepSpec", "Pipeline", "PipelinePlanner", "ToolStepSpec"]
