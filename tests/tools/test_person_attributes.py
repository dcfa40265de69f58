"""Attributes on counted people: pose (posture, arms, facing) and face (expression, age), reconciled with the
person detector's posture; and the real models on packaged photos."""

from __future__ import annotations

import pytest
from perception_helpers import needs_models

from lavr.schema import Box, Detection
from lavr.settings import Settings
from lavr.tools import RunContext, default_tools
from lavr.tools.people import PeopleInput, PeopleTool, PersonEvidence
from lavr.tools.person_attributes import PersonAttributes, person_posture
from lavr.tools.yolo import fall_detector_weights


class ScriptedAttributes(PersonAttributes):
    """What the pose and face models would say, by object id."""

    def __init__(self, body: dict[str, dict[str, str]], face: dict[str, dict[str, str]]):
        super().__init__(Settings())
        self._body, self._face = body, face

    def body(self, image_id, persons, ctx):
        return {p.id: self._body[p.id] for p in persons if p.id in self._body}

    def face(self, image_id, faces, ctx):
        return {f.id: self._face[f.id] for f in faces if f.id in self._face}


def det(oid: str, label: str, box: list[float], **attributes: str) -> Detection:
    return Detection(id=oid, image="img_0", label=label, confidence=0.9, box=Box.from_list(box),
                     attributes=attributes)


def test_pose_and_face_attributes_land_on_person_and_face(tmp_path):
    tool = PeopleTool(Settings(data_dir=tmp_path), attributes=ScriptedAttributes(
        body={"p1": {"posture": "sitting", "arms": "raised", "facing": "away"}, "p2": {"arms": "down"}},
        face={"f1": {"expression": "happy", "age": "adult"}, "f3": {"age": "child"}}))
    evidence = [PersonEvidence(person=det("p1", "person", [0.1, 0.1, 0.3, 0.9]),
                               face=det("f1", "face", [0.15, 0.12, 0.25, 0.25])),
                PersonEvidence(person=det("p2", "person", [0.5, 0.1, 0.7, 0.9], posture="lying")),
                PersonEvidence(face=det("f3", "face", [0.8, 0.1, 0.9, 0.2]))]
    out = tool.with_attributes("img_0", evidence, RunContext(Settings(data_dir=tmp_path)))
    # the keypoints' posture wins; a face seen means no back turned; the face's reading goes on both
    assert out[0].person.attributes == {"posture": "sitting", "arms": "raised", "expression": "happy", "age": "adult"}
    assert out[0].face.attributes == {"expression": "happy", "age": "adult"}
    # no posture from the keypoints: the person detector's fall stays
    assert out[1].person.attributes == {"posture": "lying", "arms": "down"}
    assert out[2].person is None and out[2].face.attributes == {"age": "child"}
    assert evidence[0].person.attributes == {}  # copies: what detect registered is untouched


def test_posture_reconciliation():
    assert person_posture({"posture": "lying"}, {"posture": "standing"}) == {"posture": "standing"}
    assert person_posture({"posture": "lying"}, {}) == {"posture": "lying"}
    assert person_posture({}, {}) == {}


@pytest.fixture(scope="module")
def tools():
    settings = Settings()
    return settings, {t.name: t for t in default_tools(settings)}


def people_on(name: str, tools):
    from lavr.samples import sample_path

    settings, by_name = tools
    ctx = RunContext(settings)
    image = ctx.images.add(sample_path(name)).id
    return by_name["people"].run(PeopleInput(image=image), ctx)


@needs_models
@pytest.mark.skipif(fall_detector_weights() is None, reason="needs the offline person detector")
def test_real_models_on_the_packaged_portraits(tools):
    astronaut = people_on("astronaut", tools)
    [person] = [e.person for e in astronaut.confirmed]
    # smiling at the camera; a portrait: no legs, so only the person detector's "not fallen" (upright)
    assert person.attributes["expression"] == "happy" and person.attributes["age"] == "adult"
    assert person.attributes["posture"] == "upright"
    grace = people_on("grace_hopper", tools)
    assert grace.confirmed[0].person.attributes["age"] == "elderly"
    assert grace.confirmed[0].person.attributes.get("posture") in (None, "upright")


@needs_models
@pytest.mark.skipif(fall_detector_weights() is None, reason="needs the offline person detector")
def test_real_models_see_the_people_in_front_of_the_bus_standing(tools):
    bus = people_on("bus", tools)
    persons = [e.person for e in bus.confirmed + bus.boxes_alone]
    assert bus.count == 4
    postures = [p.attributes.get("posture") for p in persons]
    assert postures.count("standing") >= 3 and "sitting" not in postures and "lying" not in postures
    # the two men facing the camera (their faces found) are not said to face away
    assert all(e.person.attributes.get("facing") != "away" for e in bus.confirmed)


@needs_models
@pytest.mark.skipif(fall_detector_weights() is None, reason="needs the offline person detector")
def test_the_scene_graph_names_every_value_the_people_experts_can_give(tools):
    from lavr.samples import sample_path

    settings, by_name = tools
    ctx = RunContext(settings)
    image = ctx.images.add(sample_path("bus")).id
    graph = by_name["scene_graph"].graph(image, ctx)
    known = graph.graph["known_values"]
    assert known["posture"] == ["standing", "sitting", "lying"] and "happy" in known["expression"]
    assert set(known) == {"posture", "arms", "facing", "expression", "age"}
    assert sum(d["label"] == "bus" for _, d in graph.nodes(data=True)) == 1  # `How many buses?`: exactly one
