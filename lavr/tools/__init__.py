"""Expert tools. ``default_tools`` builds the standard set; the registry offers only those available here."""

from __future__ import annotations

from ..settings import Settings
from .base import Availability, RunContext, Tool, ToolInput, ToolOutput
from .caption import CaptionTool
from .crop import CropTool
from .detect import DetectTool
from .faces import FacesTool
from .people import PeopleTool
from .picture import PictureTool
from .query import QueryTool
from .region_features import RegionFeaturesTool
from .registry import ToolRegistry
from .scene_graph import SceneGraphTool

__all__ = ["Availability", "CaptionTool", "CropTool", "DetectTool", "FacesTool", "PeopleTool", "PictureTool",
           "QueryTool", "RegionFeaturesTool", "RunContext", "SceneGraphTool", "Tool", "ToolInput", "ToolOutput",
           "ToolRegistry", "default_tools"]


def default_tools(settings: Settings) -> list[Tool]:
    """Every expert lavr ships, sharing one detector and one face detector instance (weights load once)."""
    detector, faces = DetectTool(settings), FacesTool(settings)
    people = PeopleTool(settings, detector=detector, faces=faces)
    scene_graph = SceneGraphTool(settings, detector=detector, people=people)
    return [detector, faces, people, scene_graph, QueryTool(settings, scene_graph=scene_graph),
            PictureTool(settings, detector=detector, scene_graph=scene_graph), CropTool(settings),
            CaptionTool(settings), RegionFeaturesTool(settings, detector=detector)]
