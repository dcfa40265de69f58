"""Hand-built scenes for the query language tests (boxes in 0..1, attributes as an expert gives them)."""

from __future__ import annotations

import networkx as nx

from lavr.schema import Box, Detection
from lavr.tools.query import Scene
from lavr.tools.scene_graph import build_scene_graph

Obj = tuple[str, list[float], dict[str, str]]


def graph(*objects: Obj, known_labels: list[str] | None = None, image: str = "img_0",
          first_id: int = 0) -> nx.MultiDiGraph:
    dets = [Detection(id=f"obj_{first_id + i}", image=image, label=label, confidence=0.9, box=Box.from_list(box),
                      attributes=attrs) for i, (label, box, attrs) in enumerate(objects)]
    g = build_scene_graph(dets)
    g.graph["known_labels"] = known_labels or []
    return g


def scene(*objects: Obj, known_labels: list[str] | None = None) -> Scene:
    """A one-image scene."""
    return Scene.from_graphs({"img_0": graph(*objects, known_labels=known_labels)})


def shapes() -> Scene:
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


def blocks() -> Scene:
    """Solids on one ground (the bottom edge says how near the camera): colours, sizes, materials."""
    return scene(
        ("cube", [0.10, 0.45, 0.30, 0.75], {"color": "red", "size": "large", "material": "metal"}),       # obj_0
        ("sphere", [0.40, 0.55, 0.48, 0.65], {"color": "purple", "size": "small", "material": "rubber"}),  # obj_1
        ("cylinder", [0.55, 0.30, 0.75, 0.58], {"color": "purple", "size": "large", "material": "rubber"}),  # 2
        ("cube", [0.70, 0.62, 0.80, 0.76], {"color": "cyan", "size": "small", "material": "metal"}),      # obj_3
        ("sphere", [0.30, 0.20, 0.45, 0.40], {"color": "yellow", "size": "large", "material": "metal"}),  # obj_4
        ("cylinder", [0.85, 0.40, 0.93, 0.52], {"color": "gray", "size": "small", "material": "rubber"}),  # 5
        known_labels=["cube", "sphere", "cylinder"],
    )


def two_photos() -> Scene:
    """img_0: two people and a car; img_1 (the latest): three people, one fallen, and a dog."""
    first = graph(("person", [0.10, 0.20, 0.30, 0.90], {"posture": "standing"}),
                  ("person", [0.60, 0.25, 0.80, 0.90], {"posture": "standing"}),
                  ("car", [0.35, 0.50, 0.55, 0.80], {}), known_labels=["person", "car", "dog"])
    second = graph(("person", [0.05, 0.30, 0.20, 0.90], {"posture": "standing"}),
                   ("person", [0.30, 0.30, 0.45, 0.90], {"posture": "standing"}),
                   ("person", [0.55, 0.70, 0.85, 0.90], {"posture": "fallen"}),
                   ("dog", [0.85, 0.75, 0.95, 0.90], {}), known_labels=["person", "car", "dog"], image="img_1",
                   first_id=3)
    return Scene.from_graphs({"img_0": first, "img_1": second}, focus="img_1")
