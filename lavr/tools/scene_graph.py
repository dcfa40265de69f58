"""``scene_graph``: objects as nodes, spatial relations as edges (networkx), with exact counting and filtering."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, Field

from ..errors import ToolError
from ..schema import Box, Detection
from .base import ImageArg, RunContext, Tool, ToolOutput
from .detect import DetectInput, DetectTool, canonical_label
from .detections import OftenMissed

if TYPE_CHECKING:
    from ..settings import Settings

Relation = Literal["left_of", "right_of", "above", "below", "in_front_of", "behind", "overlaps", "inside",
                   "contains", "near"]
INVERSE: dict[str, str] = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above",
                           "in_front_of": "behind", "behind": "in_front_of", "inside": "contains",
                           "contains": "inside", "overlaps": "overlaps", "near": "near"}
MAX_TRIPLES = 40


class SceneGraphInput(ImageArg):
    label: str | None = Field(None, description="Query: only objects with this label, e.g. 'person'.")
    attribute: str | None = Field(
        None, description="Query: only objects with this attribute, 'key=value' (e.g. 'color=red', "
        "'size=large' (small|medium|large), 'position=left' (top|middle|bottom, left|center|right, or both: "
        "'position=top-left'); people where their body or face shows it: 'posture=sitting' "
        "(standing|sitting|lying), 'arms=raised' (raised|down), 'facing=camera' (camera|away|side), "
        "'expression=happy' (happy|neutral|sad|angry|surprised|fearful|disgusted), 'age=child' "
        "(child|teen|adult|elderly))."
    )
    relation: Relation | None = Field(None, description="Query: only objects in this relation to `target`.")
    target: str | None = Field(None, description="Object id for `relation`, e.g. obj_2.", pattern=r"^obj_\d+$")


class Triple(BaseModel):
    subject: str
    relation: str
    object: str
    confidence: float

    def render(self) -> str:
        return f"({self.subject}, {self.relation.replace('_', ' ')}, {self.object}) {self.confidence:.2f}"


class NodeInfo(BaseModel):
    id: str
    label: str
    box: Box
    attributes: dict[str, str]

    def render(self) -> str:
        attrs = " ".join(f"{k}={v}" for k, v in sorted(self.attributes.items()))
        return f"{self.id} {self.label} {self.box.render()} {attrs}".rstrip()


class SceneGraphOutput(ToolOutput):
    image: str
    known_labels: list[str] = Field(default_factory=list, description="Every label the detector could have found.")
    known_values: dict[str, list[str]] = Field(default_factory=dict,
                                               description="Attribute key -> every value the experts can give.")
    often_missed: OftenMissed = Field(default_factory=dict)
    nodes: list[NodeInfo]
    triples: list[Triple]
    counts: dict[str, int]
    query: dict[str, str] | None = None
    matches: list[str] | None = None
    match_count: int | None = None

    def to_text(self) -> str:
        lines = [f"scene graph of {self.image}: {len(self.nodes)} objects; counts: "
                 + (", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "none")]
        if self.query is not None:
            q = ", ".join(f"{k}={v}" for k, v in self.query.items())
            lines.append(f"query ({q}): count={self.match_count}; matches: {', '.join(self.matches or []) or 'none'}")
        lines += ["objects:"] + [n.render() for n in self.nodes]
        shown = self.triples[:MAX_TRIPLES]
        if shown:
            lines.append("relations:")
            lines += [t.render() for t in shown]
        if len(self.triples) > len(shown):
            lines.append(f"(+{len(self.triples) - len(shown)} weaker relations not shown; use a query)")
        return "\n".join(lines)


# Attributes that need no weights ------------------------------------------------------------------

def size_class(box: Box) -> str:
    area = box.area
    return "small" if area < 0.02 else "medium" if area < 0.15 else "large"


def position_words(box: Box) -> str:
    cx, cy = box.center
    horiz = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "center"
    vert = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    return f"{vert}-{horiz}"


def colour_name(rgb: tuple[float, float, float]) -> str:
    """Name an RGB colour (0..255) with one of a dozen basic colour words."""
    return str(colour_names(np.array([rgb], dtype=np.float64))[0])


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """Basic colour words for an (N, 3) array of RGB values in 0..255, by hue, saturation and value."""
    x = rgb.astype(np.float64) / 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    v = x.max(axis=1)
    c = v - x.min(axis=1)
    s = np.where(v > 0, c / np.maximum(v, 1e-9), 0.0)
    safe = np.maximum(c, 1e-9)
    h = np.where(v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60
    h = np.where(c == 0, 0.0, h)
    names = np.full(len(x), "pink", dtype=object)
    names[h < 290] = "purple"
    names[h < 255] = "blue"
    names[h < 170] = "green"
    names[h < 70] = "yellow"
    names[h < 40] = np.where(v[h < 40] > 0.6, "orange", "brown")
    red = (h < 15) | (h >= 345)
    names[red] = np.where((v[red] > 0.45) | (s[red] > 0.6), "red", "brown")
    grey = s < 0.15
    names[grey] = np.where(v[grey] > 0.8, "white", "gray")
    names[v < 0.2] = "black"
    return names


def dominant_colour(pixels: np.ndarray) -> str:
    """Most frequent colour name over a region's pixels (H x W x 3, uint8), sampled for speed."""
    flat = pixels.reshape(-1, 3)
    if len(flat) > 4096:
        flat = flat[np.linspace(0, len(flat) - 1, 4096).astype(int)]
    values, counts = np.unique(colour_names(flat), return_counts=True)
    return str(values[int(np.argmax(counts))])


def region_colour(image: Any, box: Box) -> str:
    """Dominant colour of the central half of a box (less background)."""
    w, h = image.size
    x1, y1, x2, y2 = box.to_pixels(w, h)
    dx, dy = (x2 - x1) // 4, (y2 - y1) // 4
    region = np.asarray(image.crop((x1 + dx, y1 + dy, max(x2 - dx, x1 + dx + 1), max(y2 - dy, y1 + dy + 1))))
    return dominant_colour(region)


# Relations ---------------------------------------------------------------------------------------

def pair_relations(a: Box, b: Box) -> list[tuple[str, float]]:
    """Spatial relations of ``a`` to ``b`` with a confidence in (0, 1]."""
    rels: list[tuple[str, float]] = []
    (acx, acy), (bcx, bcy) = a.center, b.center
    mean_w = max((a.width + b.width) / 2, 1e-6)
    mean_h = max((a.height + b.height) / 2, 1e-6)
    dx, dy = bcx - acx, bcy - acy
    if abs(dx) > 0.02:
        rels.append(("left_of" if dx > 0 else "right_of", round(min(1.0, abs(dx) / mean_w), 2)))
    if abs(dy) > 0.02:
        rels.append(("above" if dy > 0 else "below", round(min(1.0, abs(dy) / mean_h), 2)))
    inter = a.intersection(b)
    if a.area > 0 and inter / a.area > 0.9 and a.area < b.area:
        rels.append(("inside", round(inter / a.area, 2)))
    elif b.area > 0 and inter / b.area > 0.9 and b.area < a.area:
        rels.append(("contains", round(inter / b.area, 2)))
    elif inter > 0:
        iou = a.iou(b)
        rels.append(("overlaps", round(min(1.0, 0.5 + iou), 2)))
    # Ground plane: of two things standing on one ground, the one whose bottom edge is lower is closer to the
    # camera (for every pair, not only overlapping boxes).
    gap = a.y2 - b.y2
    if abs(gap) > 0.02 and not (inter / max(min(a.area, b.area), 1e-9) > 0.9):
        rels.append(("in_front_of" if gap > 0 else "behind", round(min(1.0, abs(gap) / mean_h + 0.3), 2)))
    gap_x = max(0.0, max(a.x1, b.x1) - min(a.x2, b.x2))
    gap_y = max(0.0, max(a.y1, b.y1) - min(a.y2, b.y2))
    dist = (gap_x**2 + gap_y**2) ** 0.5
    if inter == 0 and dist < 0.5 * min(mean_w, mean_h) + 0.02:
        rels.append(("near", round(1.0 - dist / (0.5 * min(mean_w, mean_h) + 0.02), 2)))
    return rels


def build_scene_graph(objects: list[Detection], image: Any | None = None) -> nx.MultiDiGraph:
    """Nodes are objects (label, box, attributes); edges carry ``relation`` and ``confidence``."""
    graph = nx.MultiDiGraph()
    for obj in objects:
        attrs = dict(obj.attributes)
        attrs.setdefault("size", size_class(obj.box))
        attrs.setdefault("position", position_words(obj.box))
        if image is not None and obj.box.area > 0:
            attrs.setdefault("color", region_colour(image, obj.box))
        graph.add_node(obj.id, label=obj.label, box=obj.box, attributes=attrs, confidence=obj.confidence)
    for a in objects:
        for b in objects:
            if a.id == b.id:
                continue
            for rel, conf in pair_relations(a.box, b.box):
                graph.add_edge(a.id, b.id, key=rel, relation=rel, confidence=conf)
    return graph


def parse_attribute(text: str) -> tuple[str | None, str]:
    m = re.fullmatch(r"\s*([a-z_]+)\s*[=:]\s*([\w\- ]+?)\s*", text.lower())
    return (m.group(1), m.group(2)) if m else (None, text.strip().lower())


_KEY_ALIASES = {"colour": "color"}
_VALUE_ALIASES = {"grey": "gray", "centre": "center", "mid": "middle"}


def _parts(value: str) -> set[str]:
    return {_VALUE_ALIASES.get(p, p) for p in re.split(r"[-\s]+", value.strip().lower()) if p}


def attribute_matches(attrs: dict[str, str], key: str | None, value: str) -> bool:
    """Whether an object's attributes satisfy ``key=value`` (``key`` None: any attribute has ``value``).

    Positions are stored as ``vertical-horizontal`` (``middle-left``); a query names one part or both, in
    either order: ``left`` matches ``top-left``, ``middle-left`` and ``bottom-left``; ``top-left`` only the
    first. Other attributes match whole values; ``colour``/``grey``/``centre`` are read as
    ``color``/``gray``/``center``.
    """
    key = _KEY_ALIASES.get(key, key) if key is not None else None
    wanted = _parts(value)
    if not wanted:
        return False
    items = attrs.items() if key is None else [(key, attrs[key])] if key in attrs else []
    for name, stored in items:
        have = _parts(stored)
        if have == wanted or (name == "position" and wanted <= have):
            return True
    return False


def query_graph(graph: nx.MultiDiGraph, *, label: str | None = None, attribute: str | None = None,
                relation: str | None = None, target: str | None = None) -> list[str]:
    """Object ids matching every given filter, in id order. Counting is ``len()`` of this, never the LLM."""
    if relation and not target:
        raise ToolError("`relation` needs `target` (an object id such as obj_2)")
    if target and target not in graph:
        known = ", ".join(graph.nodes) or "none"
        raise ToolError(f"unknown object id {target!r} in this image; objects: {known}")
    rel = relation or ("near" if target else None)
    key, value = parse_attribute(attribute) if attribute else (None, "")
    want_label = canonical_label(label) if label else None
    out = []
    for node, data in graph.nodes(data=True):
        if want_label and canonical_label(data["label"]) != want_label:
            continue
        if attribute and not attribute_matches(data["attributes"], key, value):
            continue
        if rel and (node == target or not graph.has_edge(node, target, key=rel)):
            continue
        out.append(node)
    return sorted(out, key=lambda n: int(n.split("_")[1]))


PERSON, FACE = "person", "face"


def people_objects(evidence: Any, image_id: str, ctx: RunContext) -> list[Detection]:
    """The people tool's counted people as scene objects: each person with ``face=visible|hidden``, each face as an
    object of its own (``face=visible``), and a face without a person box as a person too (at the face's box)."""
    objects: list[Detection] = []
    for e in [*evidence.confirmed, *evidence.boxes_alone, *evidence.faces_alone]:
        if e.person is not None:
            objects.append(e.person.model_copy(update={"attributes": {
                **e.person.attributes, "face": "visible" if e.face is not None else "hidden"}}))
        else:  # the person a lone face shows: where the face is, with what the face says
            person = ctx.register_object(image=image_id, label=PERSON, confidence=e.face.confidence, box=e.face.box)
            objects.append(person.model_copy(update={"attributes": {**e.face.attributes, "face": "visible"}}))
        if e.face is not None:  # a found face is a visible one: "visible faces" selects faces either way
            objects.append(e.face.model_copy(update={"attributes": {**e.face.attributes, "face": "visible"}}))
    return objects


class SceneGraphTool(Tool[SceneGraphInput, SceneGraphOutput]):
    """Build a scene graph of an image from its detected objects: attributes (size, position, color) and spatial
    relations as (subject, relation, object) triples. With label/attribute/relation+target it answers a query:
    the exact count and the ids of matching objects.

    Builds on its own detection of the whole image; where a face detector is wired too, people are the
    cross-checked ones (person boxes and faces, see the people tool), with face=visible|hidden, and faces are
    objects of their own.
    """

    name = "scene_graph"
    input_model = SceneGraphInput
    output_model = SceneGraphOutput

    def __init__(self, settings: Settings, *, detector: DetectTool | None = None, people: Any = None):
        super().__init__(settings)
        self.detector = detector
        self.people = people  # a PeopleTool: people cross-checked with faces replace the raw person boxes

    def scene_objects(self, image_id: str, ctx: RunContext) -> list[Detection]:
        """Every object of the image (no class filter), with this run's object ids."""
        return self._scene(image_id, ctx)[0]

    def _scene(self, image_id: str, ctx: RunContext) -> tuple[list[Detection], list[str], dict[str, tuple[int, int]]]:
        """The objects, every label the experts could have found, and those the detector often misses.

        The scene graph is a pure function of the image: it runs (or reuses from the cache) its own unfiltered
        detection, never whatever earlier calls happened to register, so call order cannot change it."""
        if self.detector is None:
            raise ToolError("scene_graph has no detector to build the graph from")
        detected = self.detector.run(DetectInput(image=image_id), ctx)
        missed = dict(getattr(detected, "often_missed", None) or {})
        objects = list(detected.detections)
        known = list(getattr(detected, "known_labels", None) or sorted({o.label for o in objects}))
        if self.people is not None and PERSON in known and self.people.availability().available:
            from .people import PeopleInput

            evidence = self.people.run(PeopleInput(image=image_id), ctx)
            people = people_objects(evidence, image_id, ctx)
            overlap = self.detector.defaults().person_conflict_iou
            counted = [o.box for o in people if o.label == PERSON]
            # A counted person's box is the person's: another label on it is the same body misread (the COCO
            # models call a half-seen person a dog), given to the person the faces and the person detector saw.
            objects = [o for o in objects if o.label != PERSON
                       and not (overlap and any(o.box.iou(b) >= overlap for b in counted))] + people
            known = sorted(set(known) | {FACE})
        return objects, known, missed

    def graph(self, image_id: str, ctx: RunContext) -> nx.MultiDiGraph:
        """The scene graph of an image, as ``run`` builds it (the query language executes on it).

        ``graph.graph["known_labels"]`` lists every label the detector could have found, so that a question
        about a label it knows but did not find has an exact answer (0, no), except those in
        ``graph.graph["often_missed"]`` (label -> [found, there] on the labelled photos), whose absence is no
        evidence; ``graph.graph["known_values"]`` the same for the people's attribute values (``known_values``)."""
        try:
            stored = ctx.images.get(image_id)
        except Exception as exc:
            raise ToolError(str(exc)) from None
        objects, known, missed = self._scene(image_id, ctx)
        graph = build_scene_graph(objects, stored.pil)
        graph.graph["known_labels"] = known
        graph.graph["often_missed"] = {label: list(v) for label, v in missed.items()}
        # the people experts' values only where there are people: a drawing of shapes has no posture to ask about
        people = any(canonical_label(o.label) in (PERSON, FACE) for o in objects)
        graph.graph["known_values"] = self.known_values() if people else {}
        return graph

    def known_values(self) -> dict[str, list[str]]:
        """Attribute key -> every value the experts wired here can give, found in this image or not, so that a
        question about one nobody has ("Is anyone sitting?") has an exact answer (no, 0)."""
        if self.people is None or not self.people.availability().available:
            return {}
        from .body_attributes import ARMS, FACINGS, POSTURES
        from .face_attributes import AGES, EXPRESSIONS

        values: dict[str, list[str]] = {"posture": ["lying"]}  # the person detector's falls
        attributes = self.people.attributes
        if attributes.pose_available():
            values.update(posture=list(POSTURES), arms=list(ARMS), facing=list(FACINGS))
        if attributes.faces_available():
            values.update(expression=list(EXPRESSIONS), age=list(AGES))
        return values

    def prefetch(self, args: SceneGraphInput, ctx: RunContext) -> None:
        if self.detector is not None:
            self.detector.prefetch(DetectInput(image=args.image), ctx)
        if self.people is not None and self.people.availability().available:
            from .people import PeopleInput

            self.people.prefetch(PeopleInput(image=args.image), ctx)

    def run(self, args: SceneGraphInput, ctx: RunContext) -> SceneGraphOutput:
        graph = self.graph(args.image, ctx)
        counts: dict[str, int] = {}
        for _, data in graph.nodes(data=True):
            counts[data["label"]] = counts.get(data["label"], 0) + 1
        nodes = [NodeInfo(id=n, label=d["label"], box=d["box"], attributes=d["attributes"])
                 for n, d in graph.nodes(data=True)]
        triples = [Triple(subject=u, relation=d["relation"], object=v, confidence=d["confidence"])
                   for u, v, d in graph.edges(data=True)
                   # each symmetric pair once, the left/above/in-front direction
                   if d["relation"] not in ("right_of", "below", "behind", "contains") and
                   (d["relation"] not in ("overlaps", "near") or u < v)]
        triples.sort(key=lambda t: -t.confidence)
        out = SceneGraphOutput(image=args.image, nodes=nodes, triples=triples, counts=counts,
                               known_labels=list(graph.graph.get("known_labels", [])),
                               known_values=dict(graph.graph.get("known_values", {})),
                               often_missed={k: tuple(v) for k, v in graph.graph.get("often_missed", {}).items()})
        query = {k: v for k, v in (("label", args.label), ("attribute", args.attribute),
                                   ("relation", args.relation), ("target", args.target)) if v}
        if query:
            out.query = query
            out.matches = query_graph(graph, label=args.label, attribute=args.attribute, relation=args.relation,
                                      target=args.target)
            out.match_count = len(out.matches)
        return out
