"""Linking faces to person boxes and counting people: pure functions, no weights."""

import pytest

from lavr.schema import Box, Detection
from lavr.tools.detect import RawDetection, nms_per_label
from lavr.tools.evidence import count_people, elongation, link_faces


def person(pid: str, box: list[float], conf: float = 0.6, posture: str | None = None) -> Detection:
    return Detection(id=pid, image="img_0", label="person", confidence=conf, box=Box.from_list(box),
                     attributes={"posture": posture} if posture else {})


def face(fid: str, box: list[float], conf: float = 1.0) -> Detection:
    return Detection(id=fid, image="img_0", label="face", confidence=conf, box=Box.from_list(box))


def test_a_face_in_the_upper_part_of_a_person_box_links_to_it():
    p = person("p", [0.1, 0.1, 0.3, 0.9])
    linking = link_faces([p], [face("high", [0.15, 0.12, 0.25, 0.22]), face("low", [0.15, 0.7, 0.25, 0.8])])
    assert [(lk.person, lk.face) for lk in linking.links] == [("p", "high")]
    assert linking.links[0].containment == 1.0
    assert linking.faces_without_person == ["low"]  # a face at the knees is someone else's
    assert linking.persons_without_face == []


def test_a_face_mostly_outside_the_box_does_not_link():
    p = person("p", [0.1, 0.1, 0.3, 0.9])
    linking = link_faces([p], [face("f", [0.25, 0.12, 0.45, 0.22])])  # a quarter of it inside
    assert linking.links == [] and linking.persons_without_face == ["p"] and linking.faces_without_person == ["f"]


def test_a_person_lying_may_have_the_face_anywhere_in_the_box():
    lying = person("p", [0.1, 0.6, 0.9, 0.9], posture="lying")
    assert [lk.face for lk in link_faces([lying], [face("f", [0.7, 0.78, 0.8, 0.88])]).links] == ["f"]
    standing = person("q", [0.1, 0.6, 0.9, 0.9])
    assert link_faces([standing], [face("f", [0.7, 0.78, 0.8, 0.88])]).links == []


def test_one_face_per_person_and_as_many_links_as_possible():
    # a wide box holds both faces, a narrow one only the first: both boxes get a face
    wide, narrow = person("wide", [0.0, 0.0, 1.0, 1.0], conf=0.9), person("narrow", [0.0, 0.0, 0.4, 1.0], conf=0.5)
    f1, f2 = face("f1", [0.1, 0.1, 0.2, 0.2]), face("f2", [0.7, 0.1, 0.8, 0.2])
    pairs = {(lk.person, lk.face) for lk in link_faces([wide, narrow], [f1, f2]).links}
    assert pairs == {("wide", "f2"), ("narrow", "f1")}
    # two boxes on one person with one face: the more confident box gets it
    a, b = person("a", [0.1, 0.1, 0.3, 0.9], conf=0.7), person("b", [0.09, 0.1, 0.31, 0.9], conf=0.4)
    linking = link_faces([a, b], [face("f", [0.15, 0.12, 0.25, 0.22])])
    assert [(lk.person, lk.face) for lk in linking.links] == [("a", "f")] and linking.persons_without_face == ["b"]


def test_elongation_is_in_pixels_and_lying_bodies_are_wide():
    box = person("p", [0.0, 0.0, 0.5, 0.5])
    assert elongation(box, (100, 300)) == pytest.approx(3.0)
    assert elongation(person("q", [0.0, 0.0, 0.5, 0.5], posture="lying"), (300, 100)) == pytest.approx(3.0)


def test_people_count_cites_its_evidence():
    persons = [
        person("confirmed", [0.0, 0.1, 0.2, 0.9], conf=0.3),  # weak, but a face confirms it
        person("from_behind", [0.3, 0.1, 0.45, 0.9], conf=0.6),  # tall, confident, no face: counts
        person("wide_blob", [0.5, 0.1, 1.0, 0.6], conf=0.9),  # confident but wide, and no face where one should be
        person("weak", [0.46, 0.1, 0.49, 0.9], conf=0.2),  # tall but weak
    ]
    faces = [face("f_conf", [0.05, 0.12, 0.15, 0.22]), face("f_alone", [0.6, 0.7, 0.7, 0.8])]
    result = count_people(persons, faces, (1000, 1000), alone_confidence=0.46, alone_min_aspect=1.33)
    assert [(lk.person, lk.face) for lk in result.confirmed] == [("confirmed", "f_conf")]
    assert result.boxes_counted_alone == ["from_behind"]
    assert result.boxes_not_counted == ["wide_blob", "weak"]
    assert result.faces_alone == ["f_alone"]
    assert result.count == 3
    # without the shape condition the wide blob counts too
    loose = count_people(persons, faces, (1000, 1000), alone_confidence=0.46, alone_min_aspect=0.0)
    assert loose.count == 4 and "wide_blob" in loose.boxes_counted_alone


def raw(label: str, conf: float, box: list[float], posture: str) -> RawDetection:
    return RawDetection(label=label, confidence=conf, box=Box.from_list(box), attributes={"posture": posture})


def test_nms_per_label_merges_classes_that_map_to_one_label():
    upright = raw("person", 0.59, [0.1, 0.1, 0.5, 0.9], "upright")
    fallen_same = raw("person", 0.18, [0.11, 0.1, 0.5, 0.92], "fallen")  # IoU ~0.95 with the upright box
    fallen_apart = raw("person", 0.3, [0.6, 0.5, 1.0, 0.9], "fallen")
    dog_same = raw("dog", 0.4, [0.1, 0.1, 0.5, 0.9], "")
    kept = nms_per_label([fallen_same, upright, fallen_apart, dog_same])
    assert kept == [upright, fallen_apart, dog_same]  # input order kept; other labels never suppress
    half = raw("person", 0.5, [0.1, 0.1, 0.5, 0.5], "upright")  # IoU 0.5 with the upright box: another object
    assert nms_per_label([upright, half]) == [upright, half]
