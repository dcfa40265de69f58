"""Cross-checked evidence about people: link faces (face detector) to person boxes (person detector) and count.

Pure functions over detections; no weights. Two independent experts agreeing on a person is stronger evidence
than either alone: the person detector scores cats and flowers as people, and a face detector cannot see a
person from behind.

Linking rule (geometry, not fitted): a face belongs to a person box when at least ``MIN_CONTAINMENT`` of the
face's area lies inside the box and, unless the person is lying, the face's centre lies in the box's
upper ``UPPER_FRACTION``. Each face links to at most one person box and each box to at most one face; among the
matchings that link the most pairs, the one with the greatest total (containment + person confidence) wins.

Counting rule (its two numbers are chosen on data, see ``scripts/choose_thresholds.py``): every face counts as
a person (linked to a person box or not), except a face without a person box that lies inside an animal's box
(the face detector finds lions' and cats' faces too; a person's face in an animal's box would have the
person's box around it); a person box without a face counts only when its confidence is at
least ``alone_confidence`` and it is elongated like a standing body (height >= ``alone_min_aspect`` x width in
pixels; width/height for a person lying). A large, wide box with no face in it is where a face should have
been visible, so the missing face is evidence against it; a tall, narrow box is a whole body whose face may be
small, turned away or hidden. Two geometric exclusions come first (not fitted): a box without a face that lies
``PART_INSIDE`` inside the box of a person a face confirmed is a part of that person (a second box on one body),
and a box of a person lying on the ground that overlaps an animal's box by ``ANIMAL_IOU`` is the animal (the
person detector calls a running cheetah a fallen person; the COCO models see the animal).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
from pydantic import BaseModel, Field

from ..schema import Box, Detection

MIN_CONTAINMENT = 0.5
PART_INSIDE = 0.9  # a faceless person box this much inside a confirmed person's box is part of that person
ANIMAL_IOU = 0.5  # a faceless lying person's box overlapping an animal's box this much is the animal
# Labels whose faces a face detector may take for a person's (COCO's animals, and the toy bear).
ANIMALS = frozenset({"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
                     "teddy bear"})
UPPER_FRACTION = 0.5
LYING = "lying"  # the posture whose face may be anywhere in the box and whose body is wide


class Link(BaseModel):
    person: str
    face: str
    containment: float = Field(description="Fraction of the face's area inside the person box.")


class Linking(BaseModel):
    """Which face belongs to which person box; the rest on either side."""

    links: list[Link]
    persons_without_face: list[str]
    faces_without_person: list[str]


class PeopleCount(BaseModel):
    """The people count and the evidence behind each part of it."""

    count: int
    confirmed: list[Link] = Field(description="Person boxes confirmed by a face.")
    boxes_counted_alone: list[str] = Field(
        description="Person boxes without a face that count (confident, body-shaped).")
    boxes_not_counted: list[str] = Field(description="Person boxes without a face that do not count.")
    faces_alone: list[str] = Field(description="Faces without a person box; each counts as a person.")
    faces_on_animals: list[str] = Field(default_factory=list,
                                        description="Faces without a person box inside an animal's box: not counted.")


def containment(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area that lies inside ``outer``."""
    return inner.intersection(outer) / inner.area if inner.area > 0 else 0.0


def face_fits(face: Box, person: Detection) -> float:
    """How well a face sits in a person box: its containment, or 0 when the geometry rules it out."""
    inside = containment(face, person.box)
    if inside < MIN_CONTAINMENT:
        return 0.0
    if person.attributes.get("posture") != LYING:
        _, cy = face.center
        if cy > person.box.y1 + UPPER_FRACTION * person.box.height:
            return 0.0
    return inside


def link_faces(persons: list[Detection], faces: list[Detection]) -> Linking:
    """Match faces to person boxes, one face per box (see the module docstring for the rule)."""
    graph = nx.Graph()
    fits: dict[tuple[str, str], float] = {}
    for p in persons:
        for f in faces:
            fit = face_fits(f.box, p)
            if fit > 0:
                fits[(p.id, f.id)] = fit
                graph.add_edge(("p", p.id), ("f", f.id), weight=fit + p.confidence)
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    pairs = {}
    for a, b in matching:
        (_, pid), (_, fid) = (a, b) if a[0] == "p" else (b, a)
        pairs[pid] = fid
    links = [Link(person=p.id, face=pairs[p.id], containment=round(fits[(p.id, pairs[p.id])], 3))
             for p in persons if p.id in pairs]
    linked_faces = set(pairs.values())
    return Linking(links=links, persons_without_face=[p.id for p in persons if p.id not in pairs],
                   faces_without_person=[f.id for f in faces if f.id not in linked_faces])


def elongation(person: Detection, image_size: tuple[int, int]) -> float:
    """Height over width in pixels (width over height for a person lying): how body-shaped the box is."""
    w, h = image_size
    pw, ph = person.box.width * w, person.box.height * h
    if pw <= 0 or ph <= 0:
        return 0.0
    return pw / ph if person.attributes.get("posture") == LYING else ph / pw


def counts_alone(person: Detection, image_size: tuple[int, int], *, alone_confidence: float,
                 alone_min_aspect: float) -> bool:
    """Whether a person box without a face counts as a person."""
    return person.confidence >= alone_confidence and elongation(person, image_size) >= alone_min_aspect


def faceless_exclusions(persons: list[Detection], linking: Linking,
                        animals: Sequence[Detection] = ()) -> dict[str, str]:
    """Person boxes without a face that cannot count alone, whatever their score and shape: id -> why."""
    by_id = {p.id: p for p in persons}
    confirmed = [by_id[link.person] for link in linking.links]
    out = {}
    for pid in linking.persons_without_face:
        box = by_id[pid]
        whole = next((c for c in confirmed if containment(box.box, c.box) >= PART_INSIDE), None)
        if whole is not None:
            out[pid] = f"part of {whole.id}"
        elif box.attributes.get("posture") == LYING and any(box.box.iou(a.box) >= ANIMAL_IOU for a in animals):
            out[pid] = "an animal lying"
    return out


def count_people(persons: list[Detection], faces: list[Detection], image_size: tuple[int, int], *,
                 alone_confidence: float, alone_min_aspect: float,
                 animals: Sequence[Detection] = ()) -> PeopleCount:
    """Link faces to person boxes and count people: faces, plus person boxes without a face that count alone
    (not a part of a confirmed person, not an animal lying); a face without a person box inside an animal's box
    (``animals``) does not count."""
    linking = link_faces(persons, faces)
    by_id = {p.id: p for p in persons}
    excluded = faceless_exclusions(persons, linking, animals)
    alone: list[str] = []
    not_counted: list[str] = []
    for pid in linking.persons_without_face:
        ok = pid not in excluded and counts_alone(by_id[pid], image_size, alone_confidence=alone_confidence,
                                                  alone_min_aspect=alone_min_aspect)
        (alone if ok else not_counted).append(pid)
    face_by_id = {f.id: f for f in faces}
    on_animals = [fid for fid in linking.faces_without_person
                  if any(containment(face_by_id[fid].box, a.box) >= MIN_CONTAINMENT for a in animals)]
    lone = [fid for fid in linking.faces_without_person if fid not in on_animals]
    return PeopleCount(count=len(linking.links) + len(alone) + len(lone),
                       confirmed=linking.links, boxes_counted_alone=alone, boxes_not_counted=not_counted,
                       faces_alone=lone, faces_on_animals=on_animals)
