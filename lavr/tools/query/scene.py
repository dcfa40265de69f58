"""What a program runs on: the objects of one or more images (from their scene graphs), in words the lexicon
knows, and what the experts of those images can name (``SceneVocabulary``).

Geometry (the same rules the scene graph's edges use, ``scene_graph.pair_relations``): positions are box
centres; A is left of B when A's centre is left of B's by more than 0.02; A is in front of B when A's bottom edge
is lower (larger y2) by more than 0.02 (things standing on one ground); sizes are box areas for extremes, and
the experts' ``size`` attribute for "small"/"large". Relations hold only between objects of the same image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import networkx as nx
from pydantic import BaseModel, Field

from ...lexicon import GENERIC, LABEL_KEY, lexicon
from ...schema import Box
from ..scene_graph import pair_relations

# Parts of the picture by box centre, and the attributes every object has from its box alone.
REGIONS = {"left_half": lambda b: b.center[0] < 0.5, "right_half": lambda b: b.center[0] > 0.5,
           "top_half": lambda b: b.center[1] < 0.5, "bottom_half": lambda b: b.center[1] > 0.5}
AUTOMATIC_KEYS = ("size", "position")
# Values any expert of that key can give, so "Is there a purple circle?" is "no", not an unknown word.
KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "color": ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown", "white", "gray",
              "black"),
    "size": ("small", "medium", "large"),
    "position": ("top", "middle", "bottom", "left", "center", "right"),
    "posture": ("standing", "sitting", "lying"),
    "facing": ("camera", "away", "side"),
}
# Values that say less than the finer values they cover: a person the detector saw "not fallen" is upright
# (standing or sitting) until the keypoints say which. Whether an upright person is standing cannot be told.
COARSE_VALUES: dict[str, dict[str, tuple[str, ...]]] = {"posture": {"upright": ("standing", "sitting")}}


def undecided(key: str, have: str | None, value: str) -> bool:
    """Whether an object with ``have`` for ``key`` can neither be said to have ``value`` nor not to."""
    return have is None or value in COARSE_VALUES.get(key, {}).get(have, ())


def canonical_value(key: str, value: str) -> str:
    """A value as the lexicon names it ("grey" -> gray); compound positions keep their parts ("top-left")."""
    value = str(value).strip().lower()
    if key == "position":
        return value
    for k, v in lexicon().values_of(value):
        if k == key:
            return v
    return value


def canonical_label(label: str, known: Iterable[str] = ()) -> str:
    found = lexicon().label_of(label, known)
    return found if found and found != GENERIC else " ".join(label.lower().split())


class SceneObject(BaseModel):
    id: str
    image: str
    label: str
    box: Box
    attributes: dict[str, str] = Field(default_factory=dict)

    def value(self, key: str) -> str | None:
        if key == LABEL_KEY:
            return self.label
        if key == "shape" and "shape" not in self.attributes:
            return self.label  # drawn shapes and photos: the shape of a thing is what it is
        return self.attributes.get(key)

    def has(self, key: str, value: str) -> bool:
        have = self.value(key)
        if have is None:
            return False
        if key == "position":  # "left" is any of top-left, middle-left, bottom-left; "center" the middle column
            parts = have.split("-")
            return value == have or (value == "center" and parts[-1] == "center") or value in parts
        return have == value or have in COARSE_VALUES.get(key, {}).get(value, ())


class SceneVocabulary(BaseModel):
    """What a program may name for some images: every label the experts could find (``labels``) and the
    attribute values they give (``attributes``); ``scene_labels`` are the labels found."""

    labels: list[str] = Field(default_factory=list)
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    scene_labels: list[str] = Field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return list(self.attributes)


class Scene:
    """The objects of ``images`` (ids in order: the first image first); ``focus`` is the image a question is
    about when it names none (the latest attached in a chat)."""

    def __init__(self, objects: list[SceneObject], images: list[str], *, focus: str | None = None,
                 known_labels: Iterable[str] = (), known_values: dict[str, Iterable[str]] | None = None,
                 often_missed: dict[str, tuple[int, int]] | None = None):
        objects = [_with_box_attributes(o) for o in objects]
        self.objects = sorted(objects, key=lambda o: (images.index(o.image) if o.image in images else 99,
                                                      _number(o.id)))
        self.images = list(images)
        self.focus = focus or (images[-1] if images else "img_0")
        self.by_id = {o.id: o for o in self.objects}
        # labels whose absence is no evidence: (found, there) on the labelled photos (a count of 0 is unknown)
        self.often_missed = {canonical_label(k): (int(v[0]), int(v[1])) for k, v in (often_missed or {}).items()}
        labels = {o.label for o in self.objects} | {canonical_label(k) for k in known_labels}
        labels.discard(GENERIC)
        attrs: dict[str, set[str]] = {}
        for o in self.objects:
            for key, value in o.attributes.items():
                values = attrs.setdefault(key, set(KNOWN_VALUES.get(key, ())))
                values.add(value)
                if key == "position":
                    values.update(value.split("-"))
        for key in AUTOMATIC_KEYS:  # every object has them from its box, so the words are meaningful
            attrs.setdefault(key, set(KNOWN_VALUES[key]))
        for key, given in (known_values or {}).items():  # what the experts can give, found here or not
            attrs.setdefault(key, set()).update(canonical_value(key, v) for v in given)
        self.vocabulary = SceneVocabulary(labels=sorted(labels),
                                          attributes={k: sorted(v) for k, v in sorted(attrs.items())},
                                          scene_labels=sorted({o.label for o in self.objects}))
        self._relations: dict[tuple[str, str], set[str]] = {}

    @classmethod
    def from_graphs(cls, graphs: dict[str, nx.MultiDiGraph], *, focus: str | None = None) -> Scene:
        """A scene from scene graphs (``scene_graph.build_scene_graph``), one per image id."""
        objects, known, values, missed = [], set(), {}, {}
        for image, graph in graphs.items():
            known |= {canonical_label(k) for k in graph.graph.get("known_labels", ())}
            values.update(graph.graph.get("known_values", {}))
            missed.update(graph.graph.get("often_missed", {}))
            for node, data in graph.nodes(data=True):
                objects.append(_object(node, image, data["label"], data["box"], data.get("attributes", {}), known))
        return cls(objects, list(graphs), focus=focus, known_labels=known, known_values=values, often_missed=missed)

    @classmethod
    def from_data(cls, scenes: dict[str, dict[str, Any]], *, focus: str | None = None) -> Scene:
        """A scene from ``scene_graph`` outputs (structured data, as a trace keeps them), one per image id."""
        objects, known, values, missed = [], set(), {}, {}
        for image, scene in scenes.items():
            known |= {canonical_label(k) for k in scene.get("known_labels", ())}
            values.update(scene.get("known_values", {}))
            missed.update(scene.get("often_missed", {}))
            for node in scene.get("nodes", []):
                box = node["box"] if isinstance(node["box"], Box) else Box.model_validate(node["box"])
                objects.append(_object(node["id"], image, node["label"], box, node.get("attributes", {}), known))
        return cls(objects, list(scenes), focus=focus, known_labels=known, known_values=values, often_missed=missed)

    # Geometry ------------------------------------------------------------------------------------------------
    def relations(self, a: SceneObject, b: SceneObject) -> set[str]:
        """The relations of ``a`` to ``b`` (none across images)."""
        if a.image != b.image or a.id == b.id:
            return set()
        key = (a.id, b.id)
        if key not in self._relations:
            self._relations[key] = {rel for rel, _ in pair_relations(a.box, b.box)}
        return self._relations[key]

    def in_images(self, images: Iterable[str]) -> list[SceneObject]:
        wanted = set(images)
        return [o for o in self.objects if o.image in wanted]

    def ordinal(self, image: str) -> int:
        return self.images.index(image)


def _with_box_attributes(o: SceneObject) -> SceneObject:
    """Size and position from the box where the experts gave none (as the scene graph adds them)."""
    if all(k in o.attributes for k in AUTOMATIC_KEYS):
        return o
    from ..scene_graph import position_words, size_class

    extra = {"size": size_class(o.box), "position": position_words(o.box)}
    return o.model_copy(update={"attributes": {**extra, **o.attributes}})


def _number(object_id: str) -> int:
    m = re.search(r"(\d+)$", object_id)
    return int(m.group(1)) if m else 1 << 30


def _object(node: str, image: str, label: str, box: Box, attributes: dict[str, Any], known: set[str]) -> SceneObject:
    attrs = {}
    for key, value in attributes.items():
        key = lexicon().key_of(key) or key
        attrs[key] = canonical_value(key, str(value))
    return SceneObject(id=node, image=image, label=canonical_label(label, known), box=box, attributes=attrs)
