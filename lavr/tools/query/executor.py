"""Typing and exact execution of a query program over a ``Scene``.

``typecheck`` resolves every call to its op (``ops.REGISTRY``) by the types its arguments take, and every word to
what it means in the scene (``lexicon``); problems are typed ``QueryError``s written for the LLM. ``execute`` runs
the typed program. A selection that should be one object and is none or several is not an error but a
``Problem`` the answer reports ("cannot tell: 2 objects match the red cube"); counts of nothing are 0 and
existence of nothing is no.

Images: a set is taken from the question's image (``Scene.focus``) unless its conditions name images (``img_1``,
``all_images``); the sets inside its conditions ("left of the cube") are taken from the same images.
``which``/``most``/``fewest`` evaluate their set in each image in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from ...answers import CANNOT_TELL
from ...lexicon import Reading, lexicon, tokens
from .errors import QueryError, TypeMismatch, UnknownOperation, UnknownValue
from .evaluation import Evaluation, Problem
from .ops import REGISTRY, Op
from .program import Call, Node, Number, Word, parse, text
from .scene import REGIONS, Scene

ALL_IMAGES = "all_images"
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass
class Typed:
    """A node with its op (None for a word or a number), its type and its typed arguments."""

    node: Node
    type: str
    op: Op | None = None
    args: list[Typed] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)  # a word's meanings in the scene

    def words(self) -> str:
        """The program in plain words (for the rationale and for checking it against the question)."""
        if isinstance(self.node, Word):
            if any(r.kind == "image_id" for r in self.readings):
                return f"image {self.node.text}"
            return self.node.text.replace("_", " ")
        if isinstance(self.node, Number):
            return str(self.node.value)
        assert self.op is not None
        if self.op.family == "set":
            from .ops import noun_phrase

            return ("the " if self.op.name == "the" else "") + noun_phrase(self.args, plural=self.op.name == "all")
        return self.op.words([a.words() for a in self.args])

    def walk(self) -> list[Typed]:
        out = [self]
        for a in self.args:
            out += a.walk()
        return out


# Typing -----------------------------------------------------------------------------------------------------

def word_readings(word: str, scene: Scene) -> list[Reading]:
    """What a condition word means in the scene: a label, a value, a part of the picture or an image."""
    if word in REGIONS:
        return [Reading("region", word)]
    if word == ALL_IMAGES:
        return [Reading("image_picker", "every")]
    if word in scene.images:
        return [Reading("image_id", word)]
    lex = lexicon()
    words = tuple(tokens(word.replace("_", " ")))  # as the lexicon splits them: "metal-made" is metal, made
    readings = lex.in_scene(lex.lookup(words) + lex.scene_labels(words, scene.vocabulary), scene.vocabulary)
    return [r for r in readings if r.kind in ("label", "generic", "value", "region")]


def typecheck(node: Node, scene: Scene, expected: str = "answer") -> Typed:
    """Resolve ``node`` as a value of ``expected`` type (``answer``: any answer type).

    Raises:
        UnknownOperation, TypeMismatch, UnknownValue: with what is allowed instead.
    """
    if isinstance(node, Number):
        if expected in ("int", "number", "comparable"):
            return Typed(node, "number")
        raise TypeMismatch(f"{node.value} is a number where {_kind(expected)} is needed")
    if isinstance(node, Word):
        if expected not in ("cond", "conds"):
            raise TypeMismatch(f"{node.text!r} is a word where {_kind(expected)} is needed")
        readings = word_readings(node.text, scene)
        if not readings:
            raise UnknownValue(f"no expert gives {node.text!r} here; labels: {', '.join(scene.vocabulary.labels)}")
        return Typed(node, "cond", readings=readings)
    candidates = REGISTRY.named(node.op)
    if not candidates:
        raise UnknownOperation(f"unknown op {node.op!r}")
    wanted = {"answer": ("number", "bool", "value", "image", "unsupported"), "conds": ("cond",),
              "target": ("object", "set"), "comparable": ("value", "number"), "int": ()}.get(expected, (expected,))
    fitting = [op for op in candidates if op.result in wanted]
    if not fitting:
        raise TypeMismatch(f"{node.op}(...) gives {_kind(candidates[0].result)} where {_kind(expected)} is needed")
    problem: QueryError | None = None
    for op in fitting:
        try:
            return Typed(node, op.result, op, _args(node, op, scene))
        except QueryError as exc:
            problem = problem or exc
    assert problem is not None
    raise problem


def _args(node: Call, op: Op, scene: Scene) -> list[Typed]:
    params = op.params
    if params == ("conds",):
        if not node.args:
            raise TypeMismatch(f"{op.name}() needs at least one condition")
        return [typecheck(a, scene, "cond") for a in node.args]
    if len(node.args) != len(params):
        raise TypeMismatch(f"{op.name} takes {len(params)} argument{'s' * (len(params) != 1)}, got {len(node.args)}")
    args = [typecheck(a, scene, p) for a, p in zip(node.args, params)]
    if "comparable" in params and args[0].type != args[1].type:
        raise TypeMismatch(f"{op.name} compares two values or two numbers, not {_kind(args[0].type)} and "
                           f"{_kind(args[1].type)}")
    if "int" in params and not isinstance(node.args[params.index("int")], Number):
        raise TypeMismatch(f"{op.name} needs a number written as digits")
    return args


def _kind(t: str) -> str:
    return {"set": "a set of objects (all(...))", "object": "one object (the(...))", "cond": "a condition",
            "conds": "conditions", "number": "a number", "bool": "a yes/no answer", "value": "a value",
            "image": "an image", "answer": "an answer", "target": "an object or a set", "int": "a number",
            "comparable": "a value or a number", "unsupported": "unsupported()"}.get(t, t)


# The whole program --------------------------------------------------------------------------------------------

class Execution(BaseModel):
    """An executed program: its one written form, the program in words, the short answer and what it rests on."""

    program: str
    words: str
    answer: str
    answer_type: Literal["number", "yes_no", "value", "image", "cannot_tell", "unsupported"]
    rationale: str
    evidence: list[str] = Field(default_factory=list, description="Object ids the answer rests on.")
    problem: Problem | None = None

    def to_text(self) -> str:
        return f"answer: {self.answer}\nprogram: {self.program}\nin words: {self.words}"


def image_name(scene: Scene, image: str) -> str:
    """"first", "second", ... for an image of the scene (by its place in the conversation)."""
    i = scene.ordinal(image)
    return ORDINAL_WORDS[i] if i < len(ORDINAL_WORDS) else image


def execute(program: str | Node | Typed, scene: Scene) -> Execution:
    """Run a program exactly on a scene.

    Raises:
        QueryError: the program is malformed or names what the experts cannot give (before anything runs).
    """
    typed = program if isinstance(program, Typed) else typecheck(parse(program) if isinstance(program, str)
                                                                else program, scene)
    result = Evaluation(scene, (scene.focus,)).eval(typed)
    written, words = text(typed.node), typed.words()
    evidence = list(dict.fromkeys(result.evidence))
    if result.problem is not None:
        kind = "unsupported" if result.problem.kind == "unsupported" else "cannot_tell"
        answer = f"{CANNOT_TELL}: {result.problem.message()}"
        return Execution(program=written, words=words, answer=answer, answer_type=kind,
                         rationale=f"{words}: {result.problem.message()}", evidence=evidence, problem=result.problem)
    if result.type == "number":
        answer, kind = str(result.value), "number"
    elif result.type == "bool":
        answer, kind = ("yes" if result.value else "no"), "yes_no"
    elif result.type == "image":
        value = str(result.value)
        answer = image_name(scene, value) if value in scene.images else value
        kind = "image"
    else:
        answer, kind = str(result.value), "value"
    ids = f" ({', '.join(evidence)})" if evidence else ""
    return Execution(program=written, words=words, answer=answer, answer_type=kind,
                     rationale=f"{words}: {answer}{ids}", evidence=evidence)


def check_program(source: str, scene: Scene) -> Typed:
    """Parse and type a program against a scene (``QueryError`` when it cannot run)."""
    return typecheck(parse(source), scene)


__all__ = ["ALL_IMAGES", "CANNOT_TELL", "Execution", "Problem", "Typed", "check_program", "execute", "image_name",
           "typecheck", "word_readings"]
