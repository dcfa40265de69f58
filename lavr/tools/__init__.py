"""Expert tools. ``default_tools`` builds the standard set; the registry offers only those available here."""

from __future__ import annotations

from ..settings import Settings
from .base import Availability, RunContext, Tool, ToolInput, ToolOutput
from .caption import CaptionTool
from .crop import CropTool
from .detect import DetectTool
from .region_features import RegionFeaturesTool
from .registry import ToolRegistry
from .scene_graph import SceneGraphTool

__all__ = ["Availability", "CaptionTool", "CropTool", "DetectTool", "RegionFeaturesTool", "RunContext", "SceneGraphTool", "Tool", "ToolInput",
           "ToolOutput", "ToolRegistry", "default_tools"]


def default_tools(settings: Settings) -> list[Tool]:
    """Every expert lavr ships, sharing one detector instance (weights load once)."""
    detector = DetectTool(settings)
    return [detector, SceneGraphTool(settings, detector=detector), CropTool(settings), CaptionTool(settings),
            RegionFeaturesTool(settings, detector=detector)]
