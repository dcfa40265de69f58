"""Hand-built scene graphs for the query language tests (boxes in 0..1, attributes as an expert gives them)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from lavr.schema import Box, Detection
from lavr.tools.scene_graph import build_graph


def scene(*objects: tuple[str, list[float], dict[str, str]], known_labels: list[str] | None = None) -> nx.MultiDiGraph:
    dets = [Detection(id=f"obj_{i}", image="img_0", label=label, confidence=0.9, box=Box.from_list(box),
                      attributes=attrs) for i, (label, box, attrs) in enumerate(objects)]
    graph = build_graph(dets)
    graph.graph["known_labels"] = known_labels or []
    return graph


def shapes() -> nx.MultiDiGraph:
    """Three squares of three colours, two circles (one inside a frame), a triangle; the detector knows a star."""
    return scene(
        ("circle", [0.05, 0.10, 0.20, 0.25], {"color": "red"}),       # obj_0 top-left, small
        ("circle", [0.40, 0.40, 0.55, 0.55], {"color": "blue"}),      # obj_1 centre, inside obj_6
        ("square", [0.70, 0.10, 0.90, 0.30], {"color": "red"}),       # obj_2 top-right
        ("square", [0.10, 0.70, 0.30, 0.90], {"color": "green"}),     # obj_3 bottom-left
        ("square", [0.75, 0.70, 0.95, 0.90], {"color": "yellow"}),    # obj_4 bottom-right
        ("triangle", [0.45, 0.78, 0.55, 0.88], {"color": "yellow"}),  # obj_5 bottom-centre, small
        ("frame", [0.30, 0.30, 0.65, 0.65], {"color": "gray"}),       # obj_6 large, contains obj_1
        known_labels=["circle", "frame", "square", "star", "triangle"],
    )


def run(graph: nx.MultiDiGraph, *steps: dict[str, Any]) -> Any:
    from lavr.tools.query import execute

    return execute({"steps": list(steps)}, graph)
