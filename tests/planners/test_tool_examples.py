"""Every example a tool description gives works as described (issue 9: ``position=left`` counted 0), and the
worked-example leakage guard compares originals, not working-size copies."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tools_for_tests import FixedDetector

from lavr.schema import Box
from lavr.settings import Settings
from lavr.tools import default_tools
from lavr.tools.base import RunContext
from lavr.tools.detect import COCO_LABELS, DetectInput, RawDetection, canonical_label
from lavr.tools.scene_graph import SceneGraphInput, SceneGraphTool, attribute_matches, build_scene_graph, query_graph

# Every "e.g." example in the input descriptions of the tools lavr ships: (tool, field) -> example values.
EXAMPLES: dict[tuple[str, str], list[Any]] = {
    ("detect", "image"): ["img_0", "crop_1"],
    ("detect", "classes"): [["person"]],
    ("scene_graph", "image"): ["img_0", "crop_1"],
    ("scene_graph", "label"): ["person"],
    ("scene_graph", "attribute"): ["color=red", "size=large", "position=left", "position=top-left",
                                  "posture=sitting", "arms=raised", "facing=camera", "expression=happy",
                                  "age=child"],
    ("scene_graph", "target"): ["obj_2"],
    ("crop", "image"): ["img_0", "crop_1"],
    ("crop", "object"): ["obj_2"],
    ("caption", "image"): ["img_0", "crop_1"],
    ("region_features", "image"): ["img_0", "crop_1"],
    ("faces", "image"): ["img_0", "crop_1"],
    ("people", "image"): ["img_0", "crop_1"],
    ("picture", "image"): ["img_0", "crop_1"],
    ("query", "image"): ["img_0", "crop_1"],
    ("query", "program"): ["count(all(red, cube))", "color(the(small, thing, left_of(the(big, sphere))))"],
}


def _tools() -> dict[str, Any]:
    return {t.name: t for t in default_tools(Settings())}


def _described_examples() -> set[tuple[str, str]]:
    found = set()
    for name, tool in _tools().items():
        for field, info in tool.input_model.model_fields.items():
            if "e.g." in (info.description or ""):
                found.add((name, field))
    return found


def test_the_table_covers_every_description_with_an_example():
    assert _described_examples() == set(EXAMPLES)


@pytest.mark.parametrize("tool_field", sorted(EXAMPLES), ids=lambda tf: f"{tf[0]}.{tf[1]}")
def test_every_example_is_accepted_and_appears_in_the_description(tool_field):
    tool_name, field = tool_field
    tool = _tools()[tool_name]
    description = tool.input_model.model_fields[field].description or ""
    for value in EXAMPLES[tool_field]:
        shown = value[0] if isinstance(value, list) else value
        text = json.dumps(shown) if isinstance(shown, dict) else str(shown).split("=")[-1]
        assert re.search(re.escape(text), description), (value, description)
        required = {"program": "count(all(things))"} if tool_name == "query" else {}
        tool.input_model.model_validate({**required, field: value})  # the schema the LLM sees accepts it


def _scene(settings: Settings) -> tuple[RunContext, Any, SceneGraphTool]:
    arr = np.full((300, 300, 3), 255, dtype=np.uint8)
    arr[20:280, 10:110] = (220, 20, 20)  # a large red person on the left
    ctx = RunContext(settings)
    ctx.images.add(Image.fromarray(arr))
    found = [
        RawDetection(label="person", confidence=0.9, box=Box(x1=0.03, y1=0.07, x2=0.37, y2=0.93)),
        # a small person sitting, top-left
        RawDetection(label="person", confidence=0.8, box=Box(x1=0.0, y1=0.0, x2=0.1, y2=0.1),
                     attributes={"posture": "sitting", "arms": "raised", "facing": "camera", "expression": "happy",
                                 "age": "child"}),
        RawDetection(label="dog", confidence=0.7, box=Box(x1=0.8, y1=0.8, x2=0.95, y2=0.95)),
    ]
    tool = SceneGraphTool(settings, detector=FixedDetector(settings, found))
    return ctx, build_scene_graph(tool.scene_objects("img_0", ctx), ctx.images.get("img_0").pil), tool


@pytest.mark.parametrize("attribute,expected", [
    ("color=red", ["obj_0"]),
    ("size=large", ["obj_0"]),
    ("position=left", ["obj_0", "obj_1"]),  # middle-left and top-left
    ("position=top-left", ["obj_1"]),
    ("position=left-top", ["obj_1"]),
    ("position=right", ["obj_2"]),
    ("position=bottom", ["obj_2"]),
    ("position=center", []),
    ("posture=sitting", ["obj_1"]),
    ("arms=raised", ["obj_1"]),
    ("facing=camera", ["obj_1"]),
    ("expression=happy", ["obj_1"]),
    ("age=child", ["obj_1"]),
    ("colour=red", ["obj_0"]),
    ("red", ["obj_0"]),
])
def test_scene_graph_attribute_examples_match_what_they_say(settings, attribute, expected):
    ctx, graph, tool = _scene(settings)
    assert query_graph(graph, attribute=attribute) == expected
    out = tool.run(SceneGraphInput(attribute=attribute), ctx)
    assert out.match_count == len(expected)


def test_attribute_matching_is_whole_values_except_positions():
    assert attribute_matches({"color": "red"}, "color", "red")
    assert not attribute_matches({"color": "dark red"}, "color", "red")
    assert attribute_matches({"position": "middle-center"}, "position", "centre")
    assert attribute_matches({"position": "middle-center"}, "position", "middle")
    assert not attribute_matches({"position": "top-left"}, "position", "bottom-left")
    assert not attribute_matches({"size": "large"}, "position", "large")


def test_scene_graph_label_example_and_detect_classes_example(settings):
    ctx, graph, _ = _scene(settings)
    assert query_graph(graph, label="person") == ["obj_0", "obj_1"] == query_graph(graph, label="people")
    assert DetectInput(classes=["person"]).classes == ["person"] and canonical_label("person") in COCO_LABELS


# The worked-example leakage guard ------------------------------------------------------------------------------

def test_no_example_about_the_asked_image_at_any_working_size(tmp_path, zidane_jpg):
    from lavr import Agent
    from lavr.backends import ScriptedBackend
    from lavr.planners.base import ImageInfo, PlanRequest
    from lavr.planners.react import examples_for

    for side in (512, 1024, 2048):
        settings = Settings(data_dir=tmp_path, work_image_side=side)
        agent = Agent(ScriptedBackend([]), settings=settings, cache=False)
        ctx = agent.new_context()
        stored = ctx.images.add(zidane_jpg)
        infos = [ImageInfo(**i) for i in agent.image_infos(ctx, [stored.id])]
        request = PlanRequest(question="How many people are there?", images=infos,
                              tools=[agent.registry.get(n) for n in agent.registry.names()],
                              steps=[], steps_left=3, retries_left=2)
        chosen = examples_for(request, 10)
        assert chosen and all("zidane" not in e.image.path for e in chosen), (side, [e.id for e in chosen])


def test_the_query_description_example_runs(settings):
    ctx, _, scene = _scene(settings)
    from lavr.tools import QueryTool
    from lavr.tools.query.tool import QueryInput

    out = QueryTool(settings, scene_graph=scene).run(QueryInput(program="count(all(red, person))"), ctx)
    assert out.answer == "1" and out.evidence == ["obj_0"] and out.words == "the number of red people"
