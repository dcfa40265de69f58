"""What the experts can name in one scene: labels, attribute keys and their values, relations; and the word
normalisation (plurals, synonyms, generic nouns) shared by validation, execution and the grammar."""

from __future__ import annotations

import re
from typing import Any, Iterable

import networkx as nx
from pydantic import BaseModel, Field

from ..detect import canonical_label
from ..scene_graph import INVERSE

RELATIONS: tuple[str, ...] = tuple(INVERSE)
EXTREMES: tuple[str, ...] = ("leftmost", "rightmost", "topmost", "bottommost", "largest", "smallest")
GENERIC = "object"
# Nouns that name no kind of object: selecting them selects every object.
GENERIC_NOUNS = frozenset({"object", "thing", "shape", "item", "one", "anything", "something", "everything",
                           "all", "entity", "figure"})
# Words that name people beyond ``detect.SYNONYMS`` (pronoun-like, so no detector reports them as labels).
PERSON_WORDS = frozenset({"anyone", "someone", "anybody", "somebody", "everyone", "everybody", "nobody",
                          "individual", "adult", "lady", "gentleman", "guy"})
# Ways to name an attribute key, and the object's own label.
LABEL_KEY = "label"
ATTRIBUTE_ALIASES = {"colour": "color", "colors": "color", "colours": "color", "location": "position",
                     "place": "position", "where": "position", "sizes": "size", "name": LABEL_KEY,
                     "class": LABEL_KEY, "category": LABEL_KEY, "type": LABEL_KEY, "kind": LABEL_KEY,
                     "object": LABEL_KEY, "what": LABEL_KEY, "identity": LABEL_KEY}
VALUE_SYNONYMS = {"grey": "gray", "big": "large", "huge": "large", "little": "small", "tiny": "small",
                  "centre": "center", "central": "center", "upper": "top", "lower": "bottom", "lying": "fallen",
                  "fell": "fallen", "fall": "fallen", "falls": "fallen", "falling": "fallen", "collapsed": "fallen",
                  "ground": "fallen", "floor": "fallen", "standing": "upright", "stand": "upright",
                  "walking": "upright",
                  # a person's face (the people evidence): seen from behind or turned away, or showing
                  "back": "hidden", "away": "hidden"}
# Values the experts can give even when this scene has none of them, so "Is there a purple circle?" is a
# valid program whose answer is "no" rather than an unknown value. Keys only apply when the scene has the key.
KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "color": ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "gray", "black"),
    "size": ("small", "medium", "large"),
    "position": tuple(f"{v}-{h}" for v in ("top", "middle", "bottom") for h in ("left", "center", "right")),
    "posture": ("upright", "fallen"),
}
AUTOMATIC_KEYS = ("size", "position")  # the scene graph gives every object these
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case word tokens; hyphenated words split (``top-left`` -> ``top``, ``left``)."""
    return _WORD.findall(text.lower())


def normalise_label(word: str) -> str:
    """A label in canonical form; generic nouns become ``object``."""
    w = " ".join(words(word))
    if w in PERSON_WORDS:
        return "person"
    canon = canonical_label(w)
    return GENERIC if canon in GENERIC_NOUNS or w in GENERIC_NOUNS else canon


def normalise_key(word: str) -> str:
    w = "_".join(words(word))
    return ATTRIBUTE_ALIASES.get(w, w)


def normalise_value(word: str) -> str:
    w = "-".join(words(word))
    return VALUE_SYNONYMS.get(w, w)


def normalise_relation(word: str) -> str:
    """``left of``, ``to the left of``, ``Left-Of`` -> ``left_of``; a few common paraphrases too."""
    ws = [w for w in words(word) if w not in ("to", "the", "is", "of", "on", "side")]
    key = "_".join(ws)
    aliases = {"left": "left_of", "right": "right_of", "top": "above", "over": "above", "under": "below",
               "beneath": "below", "underneath": "below", "front": "in_front_of", "in_front": "in_front_of",
               "next": "near", "next_to": "near", "beside": "near", "close": "near", "close_to": "near",
               "in": "inside", "within": "inside", "overlap": "overlaps", "overlapping": "overlaps",
               "contain": "contains", "containing": "contains"}
    if key in RELATIONS:
        return key
    return aliases.get(key, "_".join(words(word)))


def value_parts(value: str) -> list[str]:
    """The parts of a compound value (``top-left`` -> ``top``, ``left``); a plain value is its own part."""
    return value.split("-")


class SceneVocabulary(BaseModel):
    """What a program may name for one scene.

    ``labels`` and ``attributes`` are everything the experts can name (what they found plus what they know);
    ``scene_labels`` and ``scene_attributes`` are what they found in this scene (the prompt's short summary).
    """

    labels: list[str] = Field(default_factory=list)
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    scene_labels: list[str] = Field(default_factory=list)
    scene_attributes: dict[str, list[str]] = Field(default_factory=dict)
    relations: list[str] = Field(default_factory=lambda: list(RELATIONS))

    @classmethod
    def from_graph(cls, graph: nx.MultiDiGraph, *, known_labels: Iterable[str] | None = None) -> SceneVocabulary:
        """The vocabulary of a scene graph.

        Args:
            graph: A graph from ``scene_graph.build_graph``. ``graph.graph["known_labels"]``, when set, lists the
                labels the detector could have found.
            known_labels: Extra labels the experts can name (added to the graph's).
        """
        scene_labels: set[str] = set()
        scene_attrs: dict[str, set[str]] = {}
        for _, data in graph.nodes(data=True):
            scene_labels.add(normalise_label(data["label"]))
            for key, value in data.get("attributes", {}).items():
                scene_attrs.setdefault(normalise_key(key), set()).add(normalise_value(str(value)))
        labels = set(scene_labels)
        for label in [*graph.graph.get("known_labels", ()), *(known_labels or ())]:
            labels.add(normalise_label(label))
        labels.discard(GENERIC)
        attrs: dict[str, set[str]] = {}
        for key, values in scene_attrs.items():
            full = set(values) | set(KNOWN_VALUES.get(key, ()))
            full |= {p for v in full for p in value_parts(v) if p}
            attrs[key] = full
        return cls(labels=sorted(labels), attributes={k: sorted(v) for k, v in sorted(attrs.items())},
                   scene_labels=sorted(scene_labels - {GENERIC}),
                   scene_attributes={k: sorted(v) for k, v in sorted(scene_attrs.items())})

    @classmethod
    def from_scene(cls, scene: dict[str, Any]) -> SceneVocabulary:
        """The vocabulary of a ``scene_graph`` output (its structured data, as a trace keeps it)."""
        graph = nx.MultiDiGraph(known_labels=list(scene.get("known_labels", [])))
        for node in scene.get("nodes", []):
            graph.add_node(node["id"], label=node["label"], attributes=dict(node.get("attributes", {})))
        return cls.from_graph(graph)

    # Look-ups -----------------------------------------------------------------------------------------------
    def keys_of(self, value: str) -> list[str]:
        """Attribute keys that can take ``value``."""
        return [k for k, vs in self.attributes.items() if value in vs]

    def is_label(self, label: str) -> bool:
        return label == GENERIC or label in self.labels

    def summary(self, *, not_found: list[str] | None = None) -> str:
        """One short line for the per-question prompt: the labels and attribute values found in this scene.

        ``not_found``: labels the question names that the experts know but did not find here, listed so the
        model counts them (0, no) rather than calling the question unanswerable. ``size`` and ``position`` are
        left out: every object has them and the prompt's prefix lists their values.
        """
        parts = ["objects: " + (", ".join(self.scene_labels) or "none")]
        if not_found:
            parts.append("none found: " + ", ".join(not_found))
        for key, values in self.scene_attributes.items():
            if key not in AUTOMATIC_KEYS:
                parts.append(f"{key}: {', '.join(compact_values(values))}")
        return "; ".join(parts)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump()


def compact_values(values: list[str]) -> list[str]:
    """Compound values are listed by their parts (``top-left``, ``top-center`` -> ``top``, ``left``, ``center``)
    so that nine positions cost six words; plain values are listed as they are."""
    if values and all("-" in v for v in values):
        parts = {p for v in values for p in value_parts(v)}
        order = {p: i for i, p in enumerate(("top", "middle", "bottom", "left", "center", "right"))}
        return sorted(parts, key=lambda p: (order.get(p, len(order)), p))
    return list(values)
