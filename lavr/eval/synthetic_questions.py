"""Question families of the synthetic shapes set: each writes one question about a scene and its exact answer.

A family returns ``(question, answers)`` or None when the scene cannot support it (no object can be named
uniquely, no unique extreme, ...). Objects are named by a shortest description that picks exactly one of them
("the red circle", "the large object"); yes/no families aim at a random answer so yes and no come about equally
often. Every family has several templates (``TEMPLATE_COUNTS`` says how many).

``EXPRESSIBLE`` families are answerable from the detections (labels and attributes) and their geometry;
``FALLBACK`` ones ask about the picture itself (style, background, content): a scene-graph query cannot answer
them, a caption-like fallback can.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from .synthetic_scenes import COLORS, MATERIALS, MIN_DY, SHAPES, SIZES, DrawnScene, Obj

Made = tuple[str, list[str]] | None

# Which half of every family's templates questions are written with: "tune" (even positions), "heldout" (odd
# positions) or None (all). Accuracy is reported on the held-out half only: prompts, examples and the lexicon
# were tuned on the other (see ``template_half``).
_HALF: list[str | None] = [None]


@contextlib.contextmanager
def template_half(half: str | None) -> Iterator[None]:
    """Write questions with the tuning half or the held-out half of each template list (None: all)."""
    if half not in (None, "tune", "heldout"):
        raise ValueError(f"template half must be tune, heldout or None, not {half!r}")
    _HALF.append(half)
    try:
        yield
    finally:
        _HALF.pop()


def template(rng: random.Random, options: Any) -> Any:
    """One of a family's templates (or phrasings), from the active half; a list of one serves both halves."""
    options = list(options)
    half = _HALF[-1]
    if half is not None and len(options) > 1:
        options = options[0::2] if half == "tune" else options[1::2]
    return rng.choice(options)

ATTRS = ("size", "color", "material", "shape")  # the order adjectives take in a description
VALUES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "color": tuple(COLORS), "size": tuple(SIZES),
                                      "material": MATERIALS}
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "object": "objects", "shape": "shapes"}
YES, NO = "yes", "no"

QUERY = {
    "color": ["What color is the {d}?", "What is the color of the {d}?", "Which color does the {d} have?",
              "The {d} is what color?"],
    "shape": ["What shape is the {d}?", "What is the shape of the {d}?", "Which shape does the {d} have?",
              "The {d} has what shape?"],
    "size": ["What size is the {d}?", "What is the size of the {d}?", "Is the {d} small or large?",
             "How big is the {d}, small or large?"],
    "material": ["What material is the {d}?", "What is the {d} made of?", "What is the material of the {d}?",
                 "Is the {d} made of metal or rubber?"],
}
EXTREMES = {
    "leftmost": ["leftmost {n}", "{n} furthest to the left", "{n} on the far left"],
    "rightmost": ["rightmost {n}", "{n} furthest to the right", "{n} on the far right"],
    "topmost": ["topmost {n}", "highest {n}", "{n} closest to the top"],
    "bottommost": ["bottommost {n}", "lowest {n}", "{n} closest to the bottom"],
    "largest": ["largest {n}", "biggest {n}", "{n} with the largest size"],
    "smallest": ["smallest {n}", "tiniest {n}", "{n} with the smallest size"],
}
RELATIONS = {
    "left": ["to the left of", "left of", "on the left side of"],
    "right": ["to the right of", "right of", "on the right side of"],
    "above": ["above", "higher than", "over"],
    "below": ["below", "lower than", "beneath"],
}
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}


# DrawnScene helpers -----------------------------------------------------------------------------------------------

def select(scene: DrawnScene, filt: dict[str, str]) -> list[Obj]:
    """The objects matching every ``attribute: value`` of ``filt``."""
    return [o for o in scene.objects if all(o.attr(k) == v for k, v in filt.items())]


def holds(rel: str, a: Obj, b: Obj) -> bool:
    """Whether ``a`` is ``rel`` of ``b`` (object centres; image y grows downwards)."""
    return {"left": a.cx < b.cx, "right": a.cx > b.cx, "above": a.cy < b.cy, "below": a.cy > b.cy}[rel]


def clear_vertically(scene: DrawnScene, anchor: Obj, others: list[Obj] | None = None) -> bool:
    """No object sits so close to ``anchor``'s height that above/below would be borderline."""
    return all(abs(o.cy - anchor.cy) >= MIN_DY for o in (others or scene.objects) if o is not anchor)


def phrase(filt: dict[str, str], rng: random.Random, *, plural: bool = False,
           nouns: tuple[str, ...] = ("object", "shape")) -> str:
    """``{"color": "red", "shape": "circle"}`` -> ``red circle`` (``red circles`` when plural)."""
    words = [filt[k] for k in ("size", "color", "material") if k in filt]
    noun = filt.get("shape") or rng.choice(nouns)
    return " ".join(words + [PLURAL[noun] if plural else noun])


def with_article(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text


def unique_filter(obj: Obj, scene: DrawnScene, rng: random.Random, *, exclude: tuple[str, ...] = ()) -> dict | None:
    """A shortest description (attribute subset) that picks ``obj`` alone, avoiding ``exclude``; None if none."""
    keys = [k for k in ATTRS if k not in exclude]
    for n in range(1, len(keys) + 1):
        combos = list(itertools.combinations(keys, n))
        rng.shuffle(combos)
        for combo in combos:
            filt = {k: obj.attr(k) for k in combo}
            if select(scene, filt) == [obj]:
                return filt
    return None


def named(scene: DrawnScene, rng: random.Random, *, exclude: tuple[str, ...] = (), avoid: tuple[Obj, ...] = ()
          ) -> list[tuple[Obj, dict]]:
    """Objects that can be named uniquely (with their descriptions), in random order."""
    out = []
    for obj in rng.sample(scene.objects, len(scene.objects)):
        if any(obj is a for a in avoid):
            continue
        filt = unique_filter(obj, scene, rng, exclude=exclude)
        if filt is not None:
            out.append((obj, filt))
    return out


def random_filter(scene: DrawnScene, rng: random.Random, *, present: bool) -> dict[str, str]:
    """One to three attributes, taken from a real object when ``present`` (else random values)."""
    keys = rng.sample(ATTRS, rng.choice([1, 1, 2, 2, 3]))
    if present:
        base = rng.choice(scene.objects)
        return {k: base.attr(k) for k in keys}
    return {k: rng.choice(VALUES[k]) for k in keys}


def aimed_filter(scene: DrawnScene, rng: random.Random, want: bool) -> dict[str, str] | None:
    """A filter that matches something exactly when ``want`` (None when 30 tries miss)."""
    for _ in range(30):
        filt = random_filter(scene, rng, present=want or rng.random() < 0.3)
        if bool(select(scene, filt)) == want:
            return filt
    return None


def yn(value: bool) -> list[str]:
    return [YES if value else NO]


# Families the query language expresses -----------------------------------------------------------------------

def count_attr(scene: DrawnScene, rng: random.Random) -> Made:
    filt = random_filter(scene, rng, present=rng.random() < 0.75)
    t = template(rng, ["How many {p} are there?", "How many {p} are in the image?", "Count the {p}.",
                    "What is the number of {p}?", "How many {p} can you see?"])
    return t.format(p=phrase(filt, rng, plural=True)), [str(len(select(scene, filt)))]


def count_all(scene: DrawnScene, rng: random.Random) -> Made:
    t = template(rng, ["How many objects are there?", "How many shapes are in the picture?", "Count all the objects.",
                    "What is the total number of shapes?", "How many objects are in the image in total?"])
    return t, [str(len(scene.objects))]


def exist(scene: DrawnScene, rng: random.Random) -> Made:
    want = rng.random() < 0.5
    filt = aimed_filter(scene, rng, want)
    if filt is None:
        return None
    one, many = phrase(filt, rng), phrase(filt, rng, plural=True)
    t = template(rng, ["Is there {a}?", "Are there any {p}?", "Does the image contain {a}?", "Can you see {a}?"])
    return t.format(a=with_article(one), p=many), yn(want)


def query_attr(scene: DrawnScene, rng: random.Random) -> Made:
    attr = rng.choice(ATTRS)
    found = named(scene, rng, exclude=(attr,))
    if not found:
        return None
    obj, filt = found[0]
    d = phrase(filt, rng, nouns=("object",) if attr == "shape" else ("object", "shape"))
    return template(rng, QUERY[attr]).format(d=d), [obj.attr(attr)]


def _extreme_winner(kind: str, pool: list[Obj]) -> Obj | None:
    """The unique extreme object of ``pool`` (None when it is not clear-cut)."""
    if kind in ("largest", "smallest"):
        size = "large" if kind == "largest" else "small"
        hits = [o for o in pool if o.size == size]
        return hits[0] if len(hits) == 1 else None
    key = {"leftmost": lambda o: o.cx, "rightmost": lambda o: -o.cx, "topmost": lambda o: o.cy,
           "bottommost": lambda o: -o.cy}[kind]
    ranked = sorted(pool, key=key)
    first, second = ranked[0], ranked[1]
    return first if abs(key(first) - key(second)) >= MIN_DY else None


def extreme(scene: DrawnScene, rng: random.Random) -> Made:
    kind = rng.choice(list(EXTREMES))
    shape = rng.choice(SHAPES) if rng.random() < 0.3 else None
    pool = [o for o in scene.objects if shape is None or o.shape == shape]
    if len(pool) < 2:
        return None
    winner = _extreme_winner(kind, pool)
    if winner is None:
        return None
    excluded = {"shape"} if shape else set()
    if kind in ("largest", "smallest"):
        excluded.add("size")
    attr = rng.choice([a for a in ATTRS if a not in excluded])
    noun = shape or ("object" if attr == "shape" else rng.choice(["object", "shape"]))
    d = template(rng, EXTREMES[kind]).format(n=noun)
    return template(rng, QUERY[attr]).format(d=d), [winner.attr(attr)]


def _group(key: str, value: str, rng: random.Random) -> str:
    return phrase({key: value}, rng, plural=True)


def compare_count(scene: DrawnScene, rng: random.Random) -> Made:
    op = rng.choice(["more", "fewer", "same"])
    want = rng.random() < 0.5
    for _ in range(30):
        key = rng.choice(["shape", "shape", "color", "material", "size"])
        a, b = rng.sample(VALUES[key], 2)
        na, nb = len(select(scene, {key: a})), len(select(scene, {key: b}))
        truth = {"more": na > nb, "fewer": na < nb, "same": na == nb}[op]
        if truth == want:
            break
    ga, gb = _group(key, a, rng), _group(key, b, rng)
    t = template(rng, {
        "more": ["Are there more {a} than {b}?", "Is the number of {a} greater than the number of {b}?",
                 "Do the {a} outnumber the {b}?"],
        "fewer": ["Are there fewer {a} than {b}?", "Is the number of {a} smaller than the number of {b}?",
                  "Are there less {a} than {b}?"],
        "same": ["Are there the same number of {a} and {b}?", "Is the number of {a} equal to the number of {b}?",
                 "Are there as many {a} as {b}?"],
    }[op])
    return t.format(a=ga, b=gb), yn(truth)


def same_attr(scene: DrawnScene, rng: random.Random) -> Made:
    attr = rng.choice(ATTRS)
    found = named(scene, rng, exclude=(attr,))
    if len(found) < 2:
        return None
    want = rng.random() < 0.5
    pairs = [(x, y) for x, y in itertools.combinations(found, 2) if (x[0].attr(attr) == y[0].attr(attr)) == want]
    (oa, fa), (ob, fb) = pairs[0] if pairs else (found[0], found[1])
    same = oa.attr(attr) == ob.attr(attr)
    nouns = ("object",) if attr == "shape" else ("object", "shape")
    a, b = phrase(fa, rng, nouns=nouns), phrase(fb, rng, nouns=nouns)
    t, inverted = template(rng, [("Do the {a} and the {b} have the same {x}?", False),
                              ("Is the {a} the same {x} as the {b}?", False),
                              ("Are the {a} and the {b} the same {x}?", False),
                              ("Does the {a} have a different {x} than the {b}?", True)])
    return t.format(a=a, b=b, x=attr), yn(same != inverted)


def verify_relation(scene: DrawnScene, rng: random.Random) -> Made:
    found = named(scene, rng)
    if len(found) < 2:
        return None
    (oa, fa), (ob, fb) = found[0], found[1]
    rels = ["left", "right"] + (["above", "below"] if abs(oa.cy - ob.cy) >= MIN_DY else [])
    rel = rng.choice(rels)
    if holds(rel, oa, ob) != (rng.random() < 0.5):
        rel = OPPOSITE[rel]  # aim at the other answer
    words = template(rng, RELATIONS[rel])
    t = template(rng, ["Is the {a} {r} the {b}?", "Is it true that the {a} is {r} the {b}?",
                    "Would you say the {a} is {r} the {b}?"])
    return t.format(a=phrase(fa, rng), r=words, b=phrase(fb, rng)), yn(holds(rel, oa, ob))


def _related(scene: DrawnScene, rng: random.Random) -> tuple[Obj, dict, str, str | None, list[Obj]] | None:
    """An anchor that can be named, a relation, an optional shape noun, and the objects in that relation."""
    for anchor, filt in named(scene, rng):
        rel = rng.choice(list(RELATIONS))
        if rel in ("above", "below") and not clear_vertically(scene, anchor):
            rel = rng.choice(["left", "right"])
        shape = rng.choice(SHAPES) if rng.random() < 0.3 else None
        hits = [o for o in scene.objects if o is not anchor and holds(rel, o, anchor)
                and (shape is None or o.shape == shape)]
        return anchor, filt, rel, shape, hits
    return None


def relate_query(scene: DrawnScene, rng: random.Random) -> Made:
    for _ in range(6):
        got = _related(scene, rng)
        if got is None:
            return None
        _anchor, filt, rel, shape, hits = got
        if len(hits) == 1:
            attr = rng.choice([a for a in ATTRS if not (shape and a == "shape")])
            noun = shape or ("object" if attr == "shape" else rng.choice(["object", "shape"]))
            d = f"{noun} {template(rng, RELATIONS[rel])} the {phrase(filt, rng)}"
            return template(rng, QUERY[attr]).format(d=d), [hits[0].attr(attr)]
    return None


def count_relate(scene: DrawnScene, rng: random.Random) -> Made:
    got = _related(scene, rng)
    if got is None:
        return None
    _anchor, filt, rel, shape, hits = got
    p = PLURAL[shape] if shape else rng.choice(["objects", "shapes"])
    r = rng.choice(RELATIONS[rel])
    t = template(rng, ["How many {p} are {r} the {x}?", "What is the number of {p} {r} the {x}?",
                    "Count the {p} {r} the {x}."])
    return t.format(p=p, r=r, x=phrase(filt, rng)), [str(len(hits))]


def logic(scene: DrawnScene, rng: random.Random) -> Made:
    op = rng.choice(["and", "or"])
    want = rng.random() < 0.5
    # and: yes needs both, no needs one missing; or: yes needs one, no needs both missing
    if op == "and":
        present = (True, True) if want else rng.choice([(True, False), (False, True), (False, False)])
    else:
        present = rng.choice([(True, False), (False, True), (True, True)]) if want else (False, False)
    f1, f2 = aimed_filter(scene, rng, present[0]), aimed_filter(scene, rng, present[1])
    if f1 is None or f2 is None or f1 == f2:
        return None
    a, b = with_article(phrase(f1, rng)), with_article(phrase(f2, rng))
    e1, e2 = bool(select(scene, f1)), bool(select(scene, f2))
    if op == "and":
        t = template(rng, ["Is there {a} and {b}?", "Are there both {a} and {b}?",
                        "Does the image contain {a} and also {b}?"])
        return t.format(a=a, b=b), yn(e1 and e2)
    t = template(rng, ["Is there {a} or {b}?", "Is there either {a} or {b}?", "Does the image contain {a} or {b}?"])
    return t.format(a=a, b=b), yn(e1 or e2)


def count_not(scene: DrawnScene, rng: random.Random) -> Made:
    key = rng.choice(ATTRS)
    value = rng.choice(scene.objects).attr(key)
    what = PLURAL[value] if key == "shape" else value
    t = template(rng, ["How many objects are not {w}?", "How many shapes are not {w}?",
                    "Count the objects that are not {w}.", "What is the number of objects that are not {w}?"])
    return t.format(w=what), [str(len(scene.objects) - len(select(scene, {key: value})))]


# Families it cannot express (the picture itself) -------------------------------------------------------------

def image_style(scene: DrawnScene, rng: random.Random) -> Made:
    t = template(rng, ["Is this image a photograph or a drawing?", "Is this a photo or a drawing?",
                    "Was this picture drawn or photographed?"])
    return t, ["drawing", "a drawing", "drawn", "illustration", "diagram", "graphic"]


def background_color(scene: DrawnScene, rng: random.Random) -> Made:
    t = template(rng, ["What color is the background?", "What is the background color of this image?",
                    "On what color of background are the shapes drawn?"])
    return t, [scene.background] + (["grey"] if scene.background == "gray" else [])


def image_content(scene: DrawnScene, rng: random.Random) -> Made:
    t = template(rng, ["What kind of things does this image show?", "What is drawn in this picture?",
                    "What does this picture show?"])
    return t, ["shapes", "geometric shapes", "colored shapes", "coloured shapes", "simple shapes", "basic shapes"]


Family = Callable[[DrawnScene, random.Random], Made]
EXPRESSIBLE: dict[str, Family] = {
    "count_attr": count_attr, "count_all": count_all, "exist": exist, "query_attr": query_attr,
    "extreme": extreme, "compare_count": compare_count, "same_attr": same_attr,
    "verify_relation": verify_relation, "relate_query": relate_query, "count_relate": count_relate,
    "logic": logic, "count_not": count_not,
}
FALLBACK: dict[str, Family] = {"image_style": image_style, "background_color": background_color,
                               "image_content": image_content}
FAMILIES: dict[str, Family] = {**EXPRESSIBLE, **FALLBACK}
# Fallback families are a small share of the set: they test that the fallback runs, not the language.
WEIGHTS: dict[str, float] = {name: (0.4 if name in FALLBACK else 1.0) for name in FAMILIES}


def pick_questions(scene: DrawnScene, rng: random.Random, used: Counter[str],
                   n: int) -> list[tuple[str, str, list[str]]]:
    """Up to ``n`` questions about ``scene``, each of another family, the least used families first.

    Updates ``used`` (family -> questions so far).
    """
    order = sorted(FAMILIES, key=lambda f: (used[f] / WEIGHTS[f], rng.random()))
    out: list[tuple[str, str, list[str]]] = []
    for family in order:
        if len(out) == n:
            break
        made = FAMILIES[family](scene, rng)
        if made is not None:
            used[family] += 1
            out.append((family, made[0], made[1]))
    return out
