"""The state of one execution: results, problems, and how conditions test objects within the images in scope.

A set is taken from the question's image (``Scene.focus``) unless its conditions name images (``img_1``,
``all_images``); the sets inside its conditions ("left of the cube") are taken from the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ...lexicon import Reading
from .scene import REGIONS, Scene, SceneObject, undecided

if TYPE_CHECKING:  # pragma: no cover
    from .executor import Typed


# Results ----------------------------------------------------------------------------------------------------

class Problem(BaseModel):
    """Why there is no answer: nothing or several objects where the question means one, a missing attribute."""

    kind: Literal["not_found", "ambiguous", "no_attribute", "tie", "unsupported", "often_missed", "fewer"]
    what: str = Field("", description="The phrase of the program it concerns, in words.")
    objects: list[str] = Field(default_factory=list)
    measured: str = Field("", description="For often_missed: the detectors' recall on the labelled photos.")

    def message(self) -> str:
        ids = f" ({', '.join(self.objects)})" if self.objects else ""
        return {"not_found": f"nothing matches {self.what}",
                "ambiguous": f"{len(self.objects)} objects match {self.what}{ids}",
                "no_attribute": f"the experts give no {self.what} for {', '.join(self.objects)}",
                "tie": f"the images tie on {self.what}",
                "fewer": f"there are fewer, not more: {self.what}",
                "often_missed": f"the detectors found no {self.what}, but they often miss one ({self.measured})",
                "unsupported": "the question needs more than the objects the experts found"}[self.kind]


@dataclass
class Result:
    type: str
    objects: list[str] = field(default_factory=list)
    value: Any = None
    evidence: list[str] = field(default_factory=list)
    problem: Problem | None = None


@dataclass
class Evaluation:
    """One run of a typed program over a scene, within the images of ``scope``."""

    scene: Scene
    scope: tuple[str, ...]
    fixed: bool = False  # the images are fixed from outside (which image has more ...): image words are ignored

    def objects(self) -> list[SceneObject]:
        return self.scene.in_images(self.scope)

    def within(self, images: tuple[str, ...], *, fixed: bool = False) -> Evaluation:
        return Evaluation(self.scene, images, fixed or self.fixed)

    def eval(self, typed: Typed) -> Result:
        """Run a typed call (a condition's result holds its test of one object as ``value``)."""
        if typed.op is None:
            return cond_result(self.word_test(typed.readings))
        return typed.op.run(self, typed.op, typed.args)

    def word_test(self, readings: list[Reading]) -> Callable[[SceneObject], bool]:
        tests = [test for test in map(reading_test, readings) if test is not None]
        return lambda o: any(t(o) for t in tests)


def reading_test(reading: Reading) -> Callable[[SceneObject], bool] | None:
    """The object test one reading of a word stands for; ``None`` for a reading that tests no object."""
    value = reading.value
    if reading.kind in ("generic", "image_picker"):
        return lambda o: True
    if reading.kind == "label":
        return lambda o: o.label == value or o.attributes.get("shape") == value
    if reading.kind == "value":
        return lambda o: o.has(*value)
    if reading.kind == "region":
        region = REGIONS[value]
        return lambda o: region(o.box)
    if reading.kind == "image_id":
        return lambda o: o.image == value
    return None


def cond_result(test: Callable[[SceneObject], bool], evidence: list[str] | None = None,
                 problem: Problem | None = None) -> Result:
    return Result("cond", value=test, evidence=evidence or [], problem=problem)


def _images_named(conds: list[Typed], scene: Scene) -> tuple[str, ...] | None:
    """The images a set's own conditions name (not those inside its relations' arguments), or None."""
    named: list[str] = []
    every = False

    def visit(t: Typed) -> None:
        nonlocal every
        for r in t.readings:
            if r.kind == "image_id":
                named.append(r.value)
            elif r.kind == "image_picker":
                every = True
        if t.op is not None and t.op.family == "logic":
            for a in t.args:
                visit(a)

    for c in conds:
        visit(c)
    if every:
        return tuple(scene.images)
    return tuple(dict.fromkeys(named)) or None


def select(ev: Evaluation, conds: list[Typed]) -> tuple[list[SceneObject], list[str], Problem | None, Evaluation]:
    """The objects meeting every condition, within the images the conditions name (several image names in one
    set are a choice of images: no object is in two), else the images in scope."""
    images = None if ev.fixed else _images_named(conds, ev.scene)
    inner = ev.within(images) if images else ev
    chosen = inner.objects()
    evidence: list[str] = []
    for c in conds:
        if c.op is None and c.readings and all(r.kind in ("image_id", "image_picker") for r in c.readings):
            continue  # the scope already holds exactly the images named
        unsure = unknown_for(inner.scene, c, chosen)
        if unsure:
            return [], evidence, Problem(kind="no_attribute", what=unsure[0], objects=unsure[1]), inner
        r = inner.eval(c)
        test, problem = r.value, r.problem
        evidence += r.evidence
        if problem is not None:
            return [], evidence, problem, inner
        chosen = [o for o in chosen if test(o)]
    if not chosen:
        missed = often_missed(inner, conds)
        if missed is not None:
            return [], evidence, missed, inner
    return chosen, evidence, None, inner


def often_missed(ev: Evaluation, conds: list[Typed]) -> Problem | None:
    """An empty set of a label the detectors often miss, none of which they found in these images: "none" would
    be a guess ("Is there a spoon?" -> "no" with a spoon in the cup's saucer), so the answer is cannot tell."""
    for c in conds:
        if c.op is not None:
            continue
        labels = {r.value for r in c.readings if r.kind == "label"}
        if not labels or len(labels) != len(c.readings):
            continue
        weak = sorted(label for label in labels if label in ev.scene.often_missed)
        if weak and not any(o.label in labels for o in ev.objects()):
            found, there = ev.scene.often_missed[weak[0]]
            return Problem(kind="often_missed", what=weak[0],
                           measured=f"they found {found} of {there} on the labelled photos")
    return None


def unknown_for(scene: Scene, cond: Typed, objects: list[SceneObject]) -> tuple[str, list[str]] | tuple[()]:
    """``(key, ids)`` of the objects a value condition cannot be decided for: they lack the key although others
    of their label have it ("standing" for a person whose keypoints were not seen); a car lacking a posture is
    simply not standing. Empty when every object can be decided."""
    keys = {r.value[0] for r in cond.readings if r.kind == "value"} if cond.op is None else set()
    if len(keys) != 1 or any(r.kind != "value" for r in cond.readings):
        return ()
    key = keys.pop()
    if key in ("size", "position"):  # from the box: every object has them
        return ()
    asked = [r.value[1] for r in cond.readings]
    having = {o.label for o in scene.objects if o.value(key) is not None}
    missing = [o.id for o in objects if o.label in having
               and not any(o.has(key, v) for v in asked) and any(undecided(key, o.value(key), v) for v in asked)]
    return (key, missing) if missing else ()


def phrase(conds: list[Typed]) -> str:
    return " ".join(c.words() for c in conds)




def join(a: list[str], b: list[str]) -> list[str]:
    """Two evidence lists as one, in order, without repeats."""
    return list(dict.fromkeys([*a, *b]))
