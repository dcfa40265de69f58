"""Every op of the query language, each defined once: its name, argument and result types, what it does, how it
reads in words, the one line the prompt and the tool description show, and which words of a question it accounts
for. Adding an op is adding an ``Op`` here (and its tests); the typing (``typing.py``), the executor, the
grammar, the rendering and the checks all read this registry.

Types: ``set`` (objects), ``object`` (exactly one object), ``cond`` (a condition on one object), ``number``,
``bool``, ``value`` (an attribute value or label), ``image`` (one of several images), ``unsupported``.
Parameter kinds add ``conds`` (one or more conditions), ``target`` (an object or a set), ``int`` (a literal) and
``comparable`` (two values, or two numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...lexicon import Reading
from ...lexicon.nouns import plural_candidates, singular_candidates
from .evaluation import Evaluation, Problem, Result, cond_result, join, phrase, select, unknown_for
from .program import Number

if TYPE_CHECKING:  # pragma: no cover
    from .executor import Typed

RELATIONS: dict[str, str] = {  # relation op -> words
    "left_of": "left of", "right_of": "right of", "above": "above", "below": "below",
    "in_front_of": "in front of", "behind": "behind", "near": "near", "inside": "inside",
    "contains": "containing", "overlaps": "overlapping", "larger_than": "larger than", "smaller_than": "smaller than",
}
# Relations of size, not of place: the size property where both have it and it differs, else the box's area.
SIZE_RELATIONS = {"larger_than": 1, "smaller_than": -1}
# What tells two objects apart (pick_*) or what they share (in_common), in the order a person names it.
NAMING_KEYS = ("shape", "color", "material", "size")
EXTREMES: dict[str, tuple[str, Callable[[Any], float]]] = {  # extreme op -> (words, measure to minimise)
    "leftmost": ("leftmost", lambda o: o.box.center[0]),
    "rightmost": ("rightmost", lambda o: -o.box.center[0]),
    "topmost": ("topmost", lambda o: o.box.center[1]),
    "bottommost": ("bottommost", lambda o: -o.box.center[1]),
    "frontmost": ("frontmost", lambda o: -o.box.y2),
    "backmost": ("backmost", lambda o: o.box.y2),
    "largest": ("largest", lambda o: -o.box.area),
    "smallest": ("smallest", lambda o: o.box.area),
}
ORDINALS: dict[str, tuple[str, Callable[[Any], float]]] = {  # ordinal op -> (direction word, sort key)
    "from_left": ("left", lambda o: o.box.center[0]),
    "from_right": ("right", lambda o: -o.box.center[0]),
    "from_top": ("top", lambda o: o.box.center[1]),
    "from_bottom": ("bottom", lambda o: -o.box.center[1]),
    "from_front": ("front", lambda o: -o.box.y2),
    "from_back": ("back", lambda o: o.box.y2),
}
COMPARISONS: dict[str, tuple[str, Callable[[int, int], bool]]] = {
    "more": ("more than", lambda a, b: a > b), "fewer": ("fewer than", lambda a, b: a < b),
    "at_least": ("at least", lambda a, b: a >= b), "at_most": ("at most", lambda a, b: a <= b),
}
# Attribute keys an answer can ask for or a "same" condition can compare, beyond those of a scene.
QUERY_KEYS = ("color", "shape", "size", "material")


@dataclass(frozen=True)
class Op:
    """One op. ``run(evaluation, args)`` gets the typed argument nodes unevaluated (a set is evaluated within the
    images its conditions name); ``words(args)`` renders it from its arguments' words."""

    name: str
    params: tuple[str, ...]
    result: str
    doc: str
    run: Callable[[Evaluation, Op, list[Any]], Result]
    words: Callable[[list[str]], str]
    reads: tuple[Reading, ...] = ()
    family: str = ""  # ops written alike in the prompt (relations, extremes, ...)
    keys: tuple[str, ...] = field(default=())  # the attribute key an op asks about or compares


class Registry:
    """The ops by name; one name may have several ops of different result types (``not`` of a condition and
    ``not`` of a yes/no answer)."""

    def __init__(self) -> None:
        self.ops: dict[str, list[Op]] = {}

    def add(self, op: Op) -> Op:
        self.ops.setdefault(op.name, []).append(op)
        return op

    def named(self, name: str) -> list[Op]:
        """The ops called ``name``; ``color``, ``posture``, ... (an attribute key, or ``label``) ask for that
        key, ``same_color``, ... compare it: one op per key, made when first named."""
        if name not in self.ops:
            if name.startswith("same_") and is_key(name.removeprefix("same_")):
                self.add(_same_op(name.removeprefix("same_")))
            elif name.startswith("alike_") and is_key(name.removeprefix("alike_")):
                self.add(_alike_op(name.removeprefix("alike_")))
            elif is_key(name):
                self.add(_query_op(name))
        return list(self.ops.get(name, []))

    def all(self) -> list[Op]:
        return [op for ops in self.ops.values() for op in ops]

    def of_result(self, result: str) -> list[Op]:
        return [op for op in self.all() if op.result == result]


REGISTRY = Registry()


def noun_phrase(conds: list[Typed], *, plural: bool) -> str:
    """A set's conditions as an English noun phrase: values first, then the noun, then the rest ("small red
    cubes left of the sphere in the second image")."""
    adjectives, nouns, after = [], [], []
    for c in conds:
        kinds = {r.kind for r in c.readings}
        if c.op is None and kinds & {"label", "generic"} and not kinds & {"value"}:
            nouns.append(c.words())
        elif c.op is None and kinds <= {"value", "label", "generic"}:
            adjectives.append(c.words())
        elif c.op is None and "image_id" in kinds:
            after.append(f"in {c.words()}")
        elif c.op is None:
            after.append(f"in the {c.words()}")
        elif c.op.family == "logic":
            after.append(f"that are {c.words()}")
        else:
            after.append(c.words())
    head = nouns[0] if nouns else "thing"
    adjectives += nouns[1:]
    one = singular_candidates(head)[0] if " " not in head else head
    head = (head if one != head else plural_candidates(head)[0]) if plural else one
    return " ".join([*adjectives, head, *after])


def is_key(name: str) -> bool:
    """Whether ``name`` is an attribute key lavr knows (color, size, posture, ...) or ``label``."""
    from ...lexicon import LABEL_KEY, lexicon

    return name == LABEL_KEY or name in lexicon().keys


def _phrase(template: str, word: str) -> Callable[[list[str]], str]:
    """An op's ``words`` that name ``word`` (the loop's, bound now): ``template`` filled with it as ``{w}`` and the
    arguments' words as ``{0}``, ``{1}``."""
    return lambda a: template.format(*a, w=word)


def _query_op(key: str) -> Op:
    what = "what it is" if key == "label" else f"its {key}"
    return Op(key, ("object",), "value", f"{key}(X): {what}", run_query, lambda a: f"the {key} of {a[0]}",
              (Reading("key", key),), family="query", keys=(key,))


def _same_op(key: str) -> Op:
    return Op(f"same_{key}", ("object",), "cond", f"same_{key}(X): another object with the same {key} as X",
              run_same, lambda a: f"with the same {key} as {a[0]}", (Reading("same", "same"),
                                                                              Reading("key", key)),
              family="same", keys=(key,))


def _alike_op(key: str) -> Op:
    return Op(f"alike_{key}", ("set",), "bool", f"alike_{key}(S): yes if the objects of S (two or more) all have "
              f"one {key}", run_alike, lambda a: f"whether {a[0]} all have the same {key}",
              (Reading("same", "same"), Reading("key", key)), family="alike", keys=(key,))


def _define() -> None:
    add = REGISTRY.add
    # Sets and single objects
    add(Op("all", ("conds",), "set", "all(c, ...): the objects meeting every condition c", run_all,
           lambda a: "all " + " ".join(a), family="set"))
    add(Op("the", ("conds",), "object", "the(c, ...): the one object meeting every condition (not exactly one: "
           "cannot tell)", run_the, lambda a: "the " + " ".join(a), family="set"))
    for name, (word, _) in EXTREMES.items():
        add(Op(name, ("set",), "object", f"{name}(S): the {word} object of S", run_extreme,
               _phrase("the {w} of {0}", word), (Reading("extreme", name),), family="extreme"))
    for name, (direction, _) in ORDINALS.items():
        add(Op(name, ("set", "int"), "object", f"{name}(S, n): the n-th object of S from the {direction}",
               run_ordinal, _phrase("number {1} from the {w} of {0}", direction),
               (Reading("direction", direction),), family="ordinal"))
    for name, (word, _) in EXTREMES.items():
        add(Op(f"pick_{name}", ("object", "object"), "value", f"pick_{name}(X, Y): which of X and Y is the {word}, "
               "named by what tells them apart", run_pick, _phrase("which of {0} and {1} is the {w}", word),
               (Reading("extreme", name),), family="pick"))
    add(Op("in_common", ("object", "object"), "value", "in_common(X, Y): what X and Y share (shape, color, "
           "material or size)", run_in_common, lambda a: f"what {a[0]} and {a[1]} have in common",
           (Reading("same", "same"),), family="common"))
    # Conditions
    for name, word in RELATIONS.items():
        add(Op(name, ("target",), "cond", f"{name}(X): {word} X (X one object, or a set: any of them)",
               run_relation, _phrase("{w} {0}", word), (Reading("relation", name),), family="relation"))
    add(Op("not", ("cond",), "cond", "not(c): objects not meeting c", run_not_cond, lambda a: f"not {a[0]}",
           (Reading("logic", "not"),), family="logic"))
    add(Op("or", ("cond", "cond"), "cond", "or(c1, c2): objects meeting either", run_or_cond,
           lambda a: f"({a[0]} or {a[1]})", (Reading("logic", "or"),), family="logic"))
    add(Op("and", ("cond", "cond"), "cond", "and(c1, c2): objects meeting both", run_and_cond,
           lambda a: f"({a[0]} and {a[1]})", family="logic"))
    # Answers
    add(Op("count", ("set",), "number", "count(S): how many", run_count, lambda a: f"the number of {a[0]}",
           (Reading("form", "count"),)))
    add(Op("exists", ("set",), "bool", "exists(S): yes if there is any", run_exists,
           lambda a: f"whether there are {a[0]}"))
    add(Op("is", ("object", "cond"), "bool", "is(X, c): yes if object X meets condition c", run_is,
           lambda a: f"whether {a[0]} is {a[1]}"))
    add(Op("equal", ("comparable", "comparable"), "bool", "equal(a, b): yes if two values (or numbers) are the "
           "same", run_equal, lambda a: f"whether {a[0]} equals {a[1]}"))
    for name, (word, _) in COMPARISONS.items():
        add(Op(name, ("number", "number"), "bool", f"{name}(a, b): yes if number a is {word} b", run_compare,
               _phrase("whether {0} is {w} {1}", word), (Reading("compare", name),), family="compare"))
    add(Op("how_many_more", ("number", "number"), "number", "how_many_more(a, b): how many more a is than b",
           run_how_many_more, lambda a: f"how many more {a[0]} is than {a[1]}", (Reading("compare", "more"),),
           family="compare"))
    add(Op("and", ("bool", "bool"), "bool", "and(p, q): yes if both", run_and_bool,
           lambda a: f"({a[0]} and {a[1]})", family="logic"))
    add(Op("or", ("bool", "bool"), "bool", "or(p, q): yes if either", run_or_bool,
           lambda a: f"({a[0]} or {a[1]})", (Reading("logic", "or"),), family="logic"))
    add(Op("not", ("bool",), "bool", "not(p): the opposite answer", run_not_bool, lambda a: f"not {a[0]}",
           (Reading("logic", "not"),), family="logic"))
    add(Op("every", ("set", "cond"), "bool", "every(S, c): yes if every object of S meets c (\"are all the cubes "
           "red\", \"only red cubes\")", run_every, lambda a: f"whether every one of {a[0]} is {a[1]}",
           (Reading("logic", "every"),), family="every"))
    # Several images
    add(Op("which_every", ("set", "cond"), "image", "which_every(S, c): the image where every object of S meets c",
           run_which_every, lambda a: f"the image where every one of {a[0]} is {a[1]}",
           (Reading("form", "which_image"), Reading("logic", "every")), family="image"))
    add(Op("which", ("set",), "image", "which(S): the image where S is", run_which,
           lambda a: f"the image with {a[0]}", (Reading("form", "which_image"),), family="image"))
    add(Op("which_more", ("set",), "image", "which_more(S): the image with more S (the most)", run_most,
           lambda a: f"the image with the most {a[0]}", (Reading("form", "which_image"),
                                                           Reading("compare", "more")), family="image"))
    add(Op("which_fewer", ("set",), "image", "which_fewer(S): the image with fewer S (the fewest)", run_fewest,
           lambda a: f"the image with the fewest {a[0]}", (Reading("form", "which_image"),
                                                             Reading("compare", "fewer")), family="image"))
    add(Op("which_count", ("set", "int"), "image", "which_count(S, n): the image with exactly n S (0: none)",
           run_which_count, lambda a: f"the image with exactly {a[1]} {a[0]}", (Reading("form", "which_image"),),
           family="image"))
    add(Op("unsupported", (), "unsupported", "unsupported(): the question needs more than objects and their "
           "properties (text, actions, the picture as a whole)", run_unsupported, lambda a: "unsupported"))


# Sets and objects ---------------------------------------------------------------------------------------------

def run_all(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    chosen, evidence, problem, _ = select(ev, args)
    ids = [o.id for o in chosen]
    return Result("set", objects=ids, evidence=ids + evidence, problem=problem)


def run_the(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    chosen, evidence, problem, _ = select(ev, args)
    ids = [o.id for o in chosen]
    if problem is None and len(ids) != 1:
        problem = Problem(kind="not_found" if not ids else "ambiguous", what="the " + phrase(args), objects=ids)
    return Result("object", objects=ids if len(ids) == 1 else [], evidence=ids + evidence, problem=problem)


def run_extreme(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    base = ev.eval(args[0])
    if base.problem:
        return Result("object", evidence=base.evidence, problem=base.problem)
    name = op.name
    objs = [ev.scene.by_id[i] for i in base.objects]
    if not objs:
        return Result("object", problem=Problem(kind="not_found", what=args[0].words()))
    measure = EXTREMES[name][1]
    best = min(measure(o) for o in objs)
    top = [o.id for o in objs if measure(o) - best <= 1e-9]
    if len(top) > 1:
        return Result("object", evidence=top, problem=Problem(kind="ambiguous", what=f"the {name} of "
                                                               + args[0].words(), objects=top))
    return Result("object", objects=top, evidence=top)


def run_ordinal(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    base = ev.eval(args[0])
    if base.problem:
        return Result("object", evidence=base.evidence, problem=base.problem)
    name = op.name
    n = args[1].node.value if isinstance(args[1].node, Number) else 1
    objs = sorted((ev.scene.by_id[i] for i in base.objects), key=ORDINALS[name][1])
    if n < 1 or n > len(objs):
        return Result("object", problem=Problem(kind="not_found", what=f"number {n} of {args[0].words()}"))
    return Result("object", objects=[objs[n - 1].id], evidence=[o.id for o in objs])


# Conditions ---------------------------------------------------------------------------------------------------

def run_relation(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    relation = op.name
    target = ev.eval(args[0])
    if target.problem:
        return cond_result(lambda o: False, target.evidence, target.problem)
    others = [ev.scene.by_id[i] for i in target.objects]
    scene = ev.scene
    if relation in SIZE_RELATIONS:
        sign = SIZE_RELATIONS[relation]
        return cond_result(lambda o: any(o.image == t.image and o.id != t.id and _bigger(o, t) == sign
                                         for t in others), target.objects)
    return cond_result(lambda o: any(relation in scene.relations(o, t) for t in others), target.objects)


def _bigger(a: Any, b: Any) -> int:
    """1 where ``a`` is bigger than ``b``, -1 where smaller, 0 where neither: the size property where both have it
    and it differs (what the experts say), else the box's area."""
    order = {"small": 0, "medium": 1, "large": 2}
    sa, sb = order.get(a.value("size") or ""), order.get(b.value("size") or "")
    if sa is not None and sb is not None and sa != sb:
        return 1 if sa > sb else -1
    if abs(a.box.area - b.box.area) <= 1e-9:
        return 0
    return 1 if a.box.area > b.box.area else -1


def run_same(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    key = op.keys[0]
    target = ev.eval(args[0])
    if target.problem:
        return cond_result(lambda o: False, target.evidence, target.problem)
    ref = ev.scene.by_id[target.objects[0]]
    value = ref.value(key)
    if value is None:
        return cond_result(lambda o: False, [ref.id], Problem(kind="no_attribute", what=key, objects=[ref.id]))
    return cond_result(lambda o: o.id != ref.id and o.value(key) == value, [ref.id])


def run_alike(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    """"Are the two cylinders the same colour?": whether the objects of one set share a value."""
    key = op.keys[0]
    group = ev.eval(args[0])
    if group.problem:
        return Result("bool", evidence=group.evidence, problem=group.problem)
    if len(group.objects) < 2:  # "the two cylinders" where there are fewer: not a question of sameness
        return Result("bool", evidence=group.evidence,
                      problem=Problem(kind="not_found", what=f"two or more of {args[0].words()} (there are "
                                      f"{len(group.objects)})", objects=group.objects))
    values = {ev.scene.by_id[i].value(key) for i in group.objects}
    if None in values:
        missing = [i for i in group.objects if ev.scene.by_id[i].value(key) is None]
        return Result("bool", evidence=group.objects, problem=Problem(kind="no_attribute", what=key, objects=missing))
    return Result("bool", value=len(values) == 1, evidence=group.objects)


def run_not_cond(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    inner = ev.eval(args[0])
    test = inner.value
    return cond_result(lambda o: not test(o), inner.evidence, inner.problem)


def run_or_cond(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = ev.eval(args[0]), ev.eval(args[1])
    ta, tb = a.value, b.value
    return cond_result(lambda o: ta(o) or tb(o), a.evidence + b.evidence, a.problem or b.problem)


def run_and_cond(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = ev.eval(args[0]), ev.eval(args[1])
    ta, tb = a.value, b.value
    return cond_result(lambda o: ta(o) and tb(o), a.evidence + b.evidence, a.problem or b.problem)


# Answers ------------------------------------------------------------------------------------------------------

def run_count(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    s = ev.eval(args[0])
    return Result("number", value=len(s.objects), evidence=s.evidence, problem=s.problem)


def run_exists(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    s = ev.eval(args[0])
    return Result("bool", value=bool(s.objects), evidence=s.evidence, problem=s.problem)


def run_query(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    key = op.keys[0]
    obj = ev.eval(args[0])
    candidates = obj.objects or (obj.problem.objects if obj.problem and obj.problem.kind == "ambiguous" else [])
    if obj.problem and obj.problem.kind == "ambiguous" and candidates:
        values = {ev.scene.by_id[i].value(key) for i in candidates}
        if len(values) == 1 and None not in values:  # several objects, one answer: "what color are the cubes?"
            return Result("value", value=values.pop(), evidence=candidates)
    if obj.problem:
        return Result("value", evidence=obj.evidence, problem=obj.problem)
    o = ev.scene.by_id[obj.objects[0]]
    value = o.value(key)
    if value is None:
        return Result("value", evidence=[o.id], problem=Problem(kind="no_attribute", what=key, objects=[o.id]))
    return Result("value", value=value, evidence=[o.id])


def run_pick(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    """"Which is larger, the little ball or the cylinder?": the one of two objects that is the extreme, named by
    the first of shape, color, material, size that tells them apart ("cylinder")."""
    pair = [ev.eval(a) for a in args]
    for r in pair:
        if r.problem:
            return Result("value", evidence=r.evidence, problem=r.problem)
    a, b = (ev.scene.by_id[r.objects[0]] for r in pair)
    if a.id == b.id:
        return Result("value", evidence=[a.id], problem=Problem(kind="ambiguous", what="two things that are one",
                                                                  objects=[a.id]))
    measure = EXTREMES[op.name.removeprefix("pick_")][1]
    if abs(measure(a) - measure(b)) <= 1e-9:
        return Result("value", evidence=[a.id, b.id], problem=Problem(
            kind="ambiguous", what=op.words([x.words() for x in args]), objects=[a.id, b.id]))
    winner, other = (a, b) if measure(a) < measure(b) else (b, a)
    for key in NAMING_KEYS:
        value = winner.value(key)
        if value is not None and value != other.value(key):
            return Result("value", value=value, evidence=[winner.id, other.id])
    return Result("value", evidence=[a.id, b.id], problem=Problem(kind="no_attribute", what="what tells them apart",
                                                                  objects=[a.id, b.id]))


def run_in_common(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    """"What do the red cube and the brown ball have in common?": the values two objects share ("rubber"), each
    of shape, color, material, size; "nothing" where they share none."""
    pair = [ev.eval(a) for a in args]
    for r in pair:
        if r.problem:
            return Result("value", evidence=r.evidence, problem=r.problem)
    a, b = (ev.scene.by_id[r.objects[0]] for r in pair)
    shared = [v for k in NAMING_KEYS if (v := a.value(k)) is not None and v == b.value(k)]
    return Result("value", value=" and ".join(shared) if shared else "nothing", evidence=[a.id, b.id])


def run_is(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    obj = ev.eval(args[0])
    if obj.problem:
        return Result("bool", evidence=obj.evidence, problem=obj.problem)
    cond = ev.eval(args[1])
    if cond.problem:
        return Result("bool", evidence=join(obj.evidence, cond.evidence), problem=cond.problem)
    subject = ev.scene.by_id[obj.objects[0]]
    unsure = unknown_for(ev.scene, args[1], [subject])
    if unsure:
        return Result("bool", evidence=obj.objects, problem=Problem(kind="no_attribute", what=unsure[0],
                                                                   objects=unsure[1]))
    return Result("bool", value=bool(cond.value(subject)), evidence=join(obj.objects, cond.evidence))


def run_equal(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = ev.eval(args[0]), ev.eval(args[1])
    return Result("bool", value=a.value == b.value, evidence=join(a.evidence, b.evidence),
                  problem=a.problem or b.problem)


def run_compare(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    name = op.name
    a, b = _number(ev, args[0]), _number(ev, args[1])
    return Result("bool", value=COMPARISONS[name][1](int(a.value or 0), int(b.value or 0)),
                  evidence=join(a.evidence, b.evidence), problem=a.problem or b.problem)


def run_how_many_more(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = _number(ev, args[0]), _number(ev, args[1])
    problem = a.problem or b.problem
    more = int(a.value or 0) - int(b.value or 0)
    if problem is None and more < 0:  # "How many more X than Y?" where there are fewer: no number answers it
        problem = Problem(kind="fewer", what=f"{args[0].words()} ({a.value}) than {args[1].words()} ({b.value})")
    return Result("number", value=more if problem is None else None, evidence=join(a.evidence, b.evidence),
                  problem=problem)


def _number(ev: Evaluation, typed: Typed) -> Result:
    if isinstance(typed.node, Number):
        return Result("number", value=typed.node.value)
    return ev.eval(typed)


def run_and_bool(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = ev.eval(args[0]), ev.eval(args[1])
    return Result("bool", value=bool(a.value) and bool(b.value), evidence=join(a.evidence, b.evidence),
                  problem=a.problem or b.problem)


def run_or_bool(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a, b = ev.eval(args[0]), ev.eval(args[1])
    return Result("bool", value=bool(a.value) or bool(b.value), evidence=join(a.evidence, b.evidence),
                  problem=a.problem or b.problem)


def run_not_bool(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    a = ev.eval(args[0])
    return Result("bool", value=not a.value, evidence=a.evidence, problem=a.problem)


def _per_image(ev: Evaluation, typed: Typed, *, missing_is_none: bool = False
               ) -> tuple[dict[str, int], list[str], Problem | None]:
    """How many of the set each image holds. With ``missing_is_none`` (which image has it, which has the most), an
    image without the one thing the set is said of ("In which image is the blue ball in front of the red
    cylinder?", no red cylinder in the first) holds none of it; with that thing in no image at all, or several of
    it in one, there is no answer. Elsewhere (exactly n, the fewest: where none would be the answer) a missing
    thing is no answer."""
    counts: dict[str, int] = {}
    evidence: list[str] = []
    missing: Problem | None = None
    for image in ev.scene.images:
        r = ev.within((image,), fixed=True).eval(typed)
        if r.problem and r.problem.kind == "not_found" and missing_is_none:
            counts[image], missing = 0, r.problem
            continue
        if r.problem:
            return counts, evidence, r.problem
        counts[image] = len(r.objects)
        evidence += r.objects
    if missing is not None and not any(counts.values()):
        return counts, evidence, missing
    return counts, evidence, None


def run_which(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    counts, evidence, problem = _per_image(ev, args[0], missing_is_none=True)
    having = [img for img, n in counts.items() if n]
    if problem is None and len(having) == 1:
        return Result("image", value=having[0], evidence=evidence)
    value = "none" if not having else "all" if len(having) == len(counts) else ", ".join(having)
    return Result("image", value=value, evidence=evidence, problem=problem)


def _all_meet(ev: Evaluation, group: Typed, cond: Typed) -> tuple[bool | None, list[str], Problem | None]:
    """Whether every object of ``group`` meets ``cond`` (None where the group is empty), its objects, a problem."""
    base = ev.eval(group)
    if base.problem:
        return None, base.evidence, base.problem
    if not base.objects:
        return None, [], None
    meeting, evidence, problem, _ = select(ev, [*group.args, cond])
    return {o.id for o in meeting} == set(base.objects), base.objects + evidence, problem


def run_every(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    every, evidence, problem = _all_meet(ev, args[0], args[1])
    if problem is None and every is None:
        problem = Problem(kind="not_found", what=args[0].words())
    return Result("bool", value=bool(every), evidence=evidence, problem=problem)


def run_which_every(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    having: list[str] = []
    evidence: list[str] = []
    for image in ev.scene.images:
        every, found, problem = _all_meet(ev.within((image,), fixed=True), args[0], args[1])
        if problem is not None and problem.kind != "not_found":
            return Result("image", evidence=evidence, problem=problem)
        evidence += found
        if every:
            having.append(image)
    if len(having) == 1:
        return Result("image", value=having[0], evidence=evidence)
    return Result("image", evidence=evidence, problem=Problem(
        kind="not_found" if not having else "tie", what=f"every one of {args[0].words()} {args[1].words()}"))


def run_which_count(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    counts, evidence, problem = _per_image(ev, args[0])
    n = args[1].node.value if isinstance(args[1].node, Number) else -1
    having = [img for img, k in counts.items() if k == n]
    if problem is None and len(having) == 1:
        return Result("image", value=having[0], evidence=evidence)
    if problem is None:
        problem = Problem(kind="not_found" if not having else "tie",
                          what=f"{'an image with ' if not having else 'having '}exactly {n} {args[0].words()}")
    return Result("image", evidence=evidence, problem=problem)


def _extreme_image(ev: Evaluation, args: list[Typed], pick: Callable[[Any], int]) -> Result:
    counts, evidence, problem = _per_image(ev, args[0], missing_is_none=pick is max)
    if problem is not None or not counts:
        return Result("image", evidence=evidence, problem=problem)
    best = pick(counts.values())
    top = [img for img, n in counts.items() if n == best]
    if len(top) > 1:
        return Result("image", evidence=evidence, problem=Problem(kind="tie", what=args[0].words()))
    return Result("image", value=top[0], evidence=evidence)


def run_most(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    return _extreme_image(ev, args, max)


def run_fewest(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    return _extreme_image(ev, args, min)


def run_unsupported(ev: Evaluation, op: Op, args: list[Typed]) -> Result:
    return Result("unsupported", problem=Problem(kind="unsupported"))


ANSWER_TYPES = ("number", "bool", "value", "image", "unsupported")
_define()
