import numpy as np
import pytest
from PIL import Image
from tools_for_tests import FixedDetector

from lavr.errors import ToolError
from lavr.schema import Box
from lavr.tools.base import RunContext
from lavr.tools.detect import DetectInput, RawDetection
from lavr.tools.scene_graph import (
    SceneGraphInput,
    SceneGraphTool,
    build_scene_graph,
    colour_name,
    pair_relations,
    query_graph,
)


def _ctx(settings):
    arr = np.full((100, 200, 3), 255, dtype=np.uint8)
    arr[50:90, 10:50] = (220, 20, 20)  # red patch at left
    arr[50:90, 150:190] = (20, 20, 220)  # blue patch at right
    ctx = RunContext(settings)
    ctx.images.add(Image.fromarray(arr))
    return ctx


SCENE = [
    RawDetection(label="person", confidence=0.9, box=Box(x1=0.05, y1=0.5, x2=0.25, y2=0.9)),
    RawDetection(label="person", confidence=0.8, box=Box(x1=0.75, y1=0.5, x2=0.95, y2=0.9),
                 attributes={"posture": "fallen"}),
    RawDetection(label="dog", confidence=0.7, box=Box(x1=0.1, y1=0.6, x2=0.2, y2=0.75)),
]


def _populate(ctx):
    return tuple(ctx.register_object(image="img_0", label=d.label, confidence=d.confidence, box=d.box,
                                     attributes=d.attributes) for d in SCENE)


def test_relations_of_simple_layouts():
    left, right = Box(x1=0.0, y1=0.4, x2=0.2, y2=0.6), Box(x1=0.6, y1=0.4, x2=0.8, y2=0.6)
    rels = dict(pair_relations(left, right))
    assert "left_of" in rels and "right_of" not in rels and "overlaps" not in rels
    top, bottom = Box(x1=0.4, y1=0.0, x2=0.6, y2=0.2), Box(x1=0.4, y1=0.25, x2=0.6, y2=0.45)
    rels = dict(pair_relations(top, bottom))
    assert "above" in rels and "near" in rels
    inner, outer = Box(x1=0.4, y1=0.4, x2=0.5, y2=0.5), Box(x1=0.2, y1=0.2, x2=0.8, y2=0.8)
    assert "inside" in dict(pair_relations(inner, outer))
    assert "contains" in dict(pair_relations(outer, inner))
    front, back = Box(x1=0.3, y1=0.3, x2=0.6, y2=0.95), Box(x1=0.4, y1=0.2, x2=0.7, y2=0.6)
    rels = dict(pair_relations(front, back))
    assert "overlaps" in rels and "in_front_of" in rels
    assert all(0 < c <= 1 for c in rels.values())


def test_colour_names():
    assert colour_name((220, 20, 20)) == "red"
    assert colour_name((20, 20, 220)) == "blue"
    assert colour_name((250, 250, 250)) == "white"
    assert colour_name((5, 5, 5)) == "black"
    assert colour_name((30, 160, 40)) == "green"
    assert colour_name((128, 128, 128)) == "gray"


def test_graph_nodes_attributes_and_queries(settings):
    ctx = _ctx(settings)
    a, b, c = _populate(ctx)
    g = build_scene_graph(ctx.objects_in("img_0"), ctx.images.get("img_0").pil)
    assert g.nodes[a.id]["attributes"]["color"] == "red"
    assert g.nodes[b.id]["attributes"]["color"] == "blue"
    assert g.nodes[a.id]["attributes"]["position"] == "bottom-left"
    assert g.nodes[c.id]["attributes"]["size"] == "small"
    assert query_graph(g, label="people") == [a.id, b.id]
    assert query_graph(g, label="person", attribute="posture=fallen") == [b.id]
    assert query_graph(g, attribute="blue") == [b.id]
    assert query_graph(g, relation="left_of", target=b.id) == [a.id, c.id]
    assert query_graph(g, label="dog", relation="inside", target=a.id) == [c.id]
    with pytest.raises(ToolError, match="needs `target`"):
        query_graph(g, relation="left_of")
    with pytest.raises(ToolError, match="unknown object id 'obj_9'"):
        query_graph(g, relation="left_of", target="obj_9")


def test_tool_output_text_has_exact_counts_and_query(settings):
    ctx = _ctx(settings)
    tool = SceneGraphTool(settings, detector=FixedDetector(settings, SCENE))
    out = tool.run(SceneGraphInput(image="img_0", label="person", relation="left_of", target="obj_1"), ctx)
    assert out.counts == {"person": 2, "dog": 1}
    assert out.match_count == 1 and out.matches == ["obj_0"]
    text = out.to_text()
    assert "counts: dog=1, person=2" in text
    assert "query (label=person, relation=left_of, target=obj_1): count=1; matches: obj_0" in text
    assert "(obj_0, left of, obj_1)" in text
    assert "right of" not in text  # each pair once, in one direction


def test_scene_graph_of_an_empty_detection_is_empty(settings):
    ctx = _ctx(settings)
    out = SceneGraphTool(settings, detector=FixedDetector(settings, [], labels=["person"])).run(SceneGraphInput(), ctx)
    assert out.nodes == [] and "0 objects" in out.to_text()


def test_scene_graph_ignores_objects_registered_by_earlier_calls(settings):
    """A pure function of the image: what an earlier (class-filtered) detect registered does not change it."""
    detector = FixedDetector(settings, SCENE)
    ctx = _ctx(settings)
    detector.run(DetectInput(image="img_0", classes=["dog"]), ctx)
    after_filtered = SceneGraphTool(settings, detector=detector).run(SceneGraphInput(), ctx)
    fresh = SceneGraphTool(settings, detector=detector).run(SceneGraphInput(), _ctx(settings))
    assert after_filtered.counts == fresh.counts == {"person": 2, "dog": 1}
    assert sorted(n.label for n in after_filtered.nodes) == sorted(n.label for n in fresh.nodes)


def test_scene_graph_without_a_detector_says_so(settings):
    with pytest.raises(ToolError, match="no detector"):
        SceneGraphTool(settings).run(SceneGraphInput(), _ctx(settings))


def test_input_validation():
    with pytest.raises(ValueError):
        SceneGraphInput(image="/etc/passwd")
    with pytest.raises(ValueError):
        SceneGraphInput(relation="eats", target="obj_1")
    with pytest.raises(ValueError):
        SceneGraphInput(colour="red")


def test_colour_names_of_an_array():
    from lavr.tools.scene_graph import colour_names

    pixels = np.array([[220, 20, 20], [20, 20, 220], [250, 250, 250], [240, 140, 20], [120, 70, 20]], dtype=np.uint8)
    assert list(colour_names(pixels)) == ["red", "blue", "white", "orange", "brown"]


def test_labels_the_detector_often_misses_reach_the_scene_and_the_detect_text(settings):
    ctx = _ctx(settings)
    detector = FixedDetector(settings, SCENE, labels=["person", "dog", "spoon", "cat"])
    detector.fixed = detector.fixed.model_copy(update={"often_missed": {"spoon": (0, 1), "dog": (1, 2)}})
    found = detector.run(DetectInput(image="img_0"), ctx)
    assert found.often_missed == {"spoon": (0, 1), "dog": (1, 2)}
    assert "not found, but this detector often misses them: spoon" in found.to_text()  # a dog was found
    assert found.counts == {"cat": 0, "dog": 1, "person": 2}  # no exact 0 for a spoon
    only_dogs = detector.run(DetectInput(image="img_0", classes=["dog", "spoon", "cat"]), ctx).to_text()
    assert "often misses them: spoon\n" in only_dogs + "\n"  # only the asked-for labels are named
    out = SceneGraphTool(settings, detector=detector).run(SceneGraphInput(image="img_0"), ctx)
    assert out.often_missed == {"spoon": (0, 1), "dog": (1, 2)}
    from lavr.tools.query import Scene

    scene = Scene.from_data({"img_0": out.model_dump(mode="json")})
    assert scene.often_missed == {"spoon": (0, 1), "dog": (1, 2)}
