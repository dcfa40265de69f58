"""The query language: a program is a short list of typed steps over the objects of one scene graph.

A step is a JSON object with an ``op`` and typed arguments; it uses earlier results by their 0-based position
(``"input": 0``, ``"other": 2``), never later ones. Each step has a result type:

========================  ==================================================  =========
op                        arguments                                           result
========================  ==================================================  =========
select                    label (``"object"`` selects every object)           objects
filter                    input, attribute, value                             objects
relate                    input, relation, label: the objects with label      objects
                          (``"object"``: any) in relation to an object of input
leftmost … smallest       input: the extreme object(s) of input               objects
and / or / except         input, other: intersection / union / difference     objects
                          (``and``/``or`` of two yes/no results: logic)       boolean
count                     input                                               number
exist                     input                                               boolean
not                       input (a yes/no result)                             boolean
query                     input, attribute (``label`` for the object's name)  value
verify                    input, relation, other (one object each)            boolean
more / fewer / equal      input, other: compare counts (objects or numbers)   boolean
more_than / fewer_than /  input, number: compare a count with a number        boolean
exactly
same / different          input, attribute[, other]                           boolean
unsupported               (none): the question needs what no expert gives     value
                          (text, actions, ...); the runner falls back
========================  ==================================================  =========

``parsing.parse_program`` reads programs (tolerantly) and calls ``check_references``; ``check_vocabulary`` then
checks the names against a scene. Both raise typed ``QueryError``s with a message for the LLM.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .errors import ReferenceProblem, TypeMismatch, UnknownAttribute, UnknownLabel, UnknownValue
from .vocabulary import GENERIC, LABEL_KEY, RELATIONS, SceneVocabulary, normalise_label

MAX_STEPS = 12
ResultType = Literal["objects", "number", "value", "boolean"]
Ref = Annotated[int, Field(ge=0, description="Position of an earlier step (0-based).")]
RelationName = Annotated[str, Field(json_schema_extra={"enum": list(RELATIONS)})]


class _Step(BaseModel):
    """Common base: unknown keys are refused. ``REFS`` maps each reference field to the result types it takes."""

    model_config = ConfigDict(extra="forbid")
    REFS: ClassVar[dict[str, tuple[str, ...]]] = {}
    RESULT: ClassVar[str] = "objects"

    def refs(self) -> dict[str, int]:
        """The reference fields that are set, with the step they name."""
        return {f: getattr(self, f) for f in self.REFS if getattr(self, f) is not None}

    def result_type(self, arg_types: dict[str, str]) -> str:
        return self.RESULT


_OBJ = ("objects",)


class Select(_Step):
    op: Literal["select"]
    label: str = Field(description='An object label, or "object" for all objects.')


class Filter(_Step):
    op: Literal["filter"]
    input: Ref
    attribute: str
    value: str
    REFS = {"input": _OBJ}


class Relate(_Step):
    """GQA's relate: from the reference objects (``input``) to the objects in ``relation`` to them."""

    op: Literal["relate"]
    input: Ref
    relation: RelationName
    label: str = Field(description='Label of the related objects, or "object" for any.')
    REFS = {"input": _OBJ}


class Extreme(_Step):
    op: Literal["leftmost", "rightmost", "topmost", "bottommost", "largest", "smallest"]
    input: Ref
    REFS = {"input": _OBJ}


class Combine(_Step):
    op: Literal["and", "or"]
    input: Ref
    other: Ref
    REFS = {"input": ("objects", "boolean"), "other": ("objects", "boolean")}

    def result_type(self, arg_types: dict[str, str]) -> str:
        return arg_types["input"]


class Except(_Step):
    op: Literal["except"]
    input: Ref
    other: Ref
    REFS = {"input": _OBJ, "other": _OBJ}


class Count(_Step):
    op: Literal["count"]
    input: Ref
    REFS = {"input": _OBJ}
    RESULT = "number"


class Exist(_Step):
    op: Literal["exist"]
    input: Ref
    REFS = {"input": _OBJ}
    RESULT = "boolean"


class Not(_Step):
    op: Literal["not"]
    input: Ref
    REFS = {"input": ("boolean",)}
    RESULT = "boolean"


class Query(_Step):
    op: Literal["query"]
    input: Ref
    attribute: str = Field(description='An attribute key, or "label" for what the object is.')
    REFS = {"input": _OBJ}
    RESULT = "value"


class Verify(_Step):
    op: Literal["verify"]
    input: Ref
    relation: RelationName
    other: Ref
    REFS = {"input": _OBJ, "other": _OBJ}
    RESULT = "boolean"


class Compare(_Step):
    op: Literal["more", "fewer", "equal"]
    input: Ref
    other: Ref
    REFS = {"input": ("objects", "number"), "other": ("objects", "number")}
    RESULT = "boolean"


class CompareNumber(_Step):
    op: Literal["more_than", "fewer_than", "exactly"]
    input: Ref
    number: int = Field(ge=0)
    REFS = {"input": ("objects", "number")}
    RESULT = "boolean"


class Same(_Step):
    op: Literal["same", "different"]
    input: Ref
    attribute: str
    other: Ref | None = Field(None, description="Compare with this object; without it, all objects of input.")
    REFS = {"input": _OBJ, "other": _OBJ}
    RESULT = "boolean"


class Unsupported(_Step):
    """The question needs something the scene graph does not hold (text, activities, a caption): the planner
    falls back to a mode with more experts instead of guessing."""

    op: Literal["unsupported"]
    RESULT = "value"


STEP_TYPES: tuple[type[_Step], ...] = (Select, Filter, Relate, Extreme, Combine, Except, Count, Exist, Not, Query,
                                       Verify, Compare, CompareNumber, Same, Unsupported)
Step = Annotated[Union[Select, Filter, Relate, Extreme, Combine, Except, Count, Exist, Not, Query, Verify,
                       Compare, CompareNumber, Same, Unsupported], Field(discriminator="op")]
OPS: dict[str, type[_Step]] = {op: cls for cls in STEP_TYPES for op in cls.model_fields["op"].annotation.__args__}


class QueryProgram(BaseModel):
    """A whole program. Build it with ``parse_program`` so references and types are checked."""

    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    def result_types(self) -> list[str]:
        """The result type of every step (the program must have passed ``check_references``)."""
        types: list[str] = []
        for step in self.steps:
            types.append(step.result_type({f: types[r] for f, r in step.refs().items()}))
        return types

    def to_json(self) -> str:
        return json.dumps({"steps": [s.model_dump(exclude_none=True) for s in self.steps]}, separators=(",", ":"))


STEP_LIST_ADAPTER: TypeAdapter[list[Any]] = TypeAdapter(list[Step])

def check_references(program: QueryProgram) -> list[str]:
    """Every reference names an earlier step of a type the step takes. Returns the result types."""
    types: list[str] = []
    for i, step in enumerate(program.steps):
        arg_types: dict[str, str] = {}
        for field, ref in step.refs().items():
            if ref >= i:
                before = f"steps 0..{i - 1}" if i else "no step"
                raise ReferenceProblem(f"`{field}` is {ref}, but {before} come before step {i}; a step can only "
                                       "use earlier steps", step=i)
            if types[ref] not in step.REFS[field]:
                raise TypeMismatch(f"{step.op} needs {' or '.join(step.REFS[field])} as `{field}`, but step {ref} "
                                   f"({program.steps[ref].op}) gives {types[ref]}", step=i)
            arg_types[field] = types[ref]
        if isinstance(step, Combine) and len(set(arg_types.values())) > 1:
            raise TypeMismatch(f"{step.op} needs two results of one type, got {arg_types['input']} and "
                               f"{arg_types['other']}", step=i)
        types.append(step.result_type(arg_types))
    return types


# Names against a scene ---------------------------------------------------------------------------------------

def _attributes_text(vocabulary: SceneVocabulary) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in vocabulary.attributes.items()) or "none"


def _check_key(key: str, vocabulary: SceneVocabulary, index: int) -> str:
    if key == LABEL_KEY or key in vocabulary.attributes:
        return key
    if key == "shape":  # shapes given as labels ("circle", "square"): the shape of an object is its label
        return LABEL_KEY
    raise UnknownAttribute(f"unknown attribute {key!r}; attributes: label, {', '.join(vocabulary.attributes)}",
                           step=index)


def _check_filter(step: Filter, vocabulary: SceneVocabulary, index: int) -> Filter:
    key, value = step.attribute, step.value
    if key == LABEL_KEY or (key == "shape" and "shape" not in vocabulary.attributes
                            and vocabulary.is_label(normalise_label(value))):
        label = normalise_label(value)
        if not vocabulary.is_label(label):
            raise UnknownLabel(f"no expert can find {value!r}; labels: {', '.join(vocabulary.labels)}", step=index)
        return step.model_copy(update={"attribute": LABEL_KEY, "value": label})
    if value in vocabulary.attributes.get(key, ()):
        return step
    owners = vocabulary.keys_of(value)
    if len(owners) == 1:  # the value names another key than the one written (e.g. shape=red): use its own
        return step.model_copy(update={"attribute": owners[0]})
    if not key:
        raise UnknownValue(f"no expert gives {value!r}; attributes: {_attributes_text(vocabulary)}", step=index)
    if key not in vocabulary.attributes:
        if owners:
            raise UnknownAttribute(f"{value!r} is a value of {', '.join(owners)}; name one of them as attribute",
                                   step=index)
        raise UnknownAttribute(f"unknown attribute {key!r}; attributes: {_attributes_text(vocabulary)}",
                               step=index)
    raise UnknownValue(f"{key} is never {value!r} here; {key} values: {', '.join(vocabulary.attributes[key])}",
                       step=index)


def check_vocabulary(program: QueryProgram, vocabulary: SceneVocabulary) -> QueryProgram:
    """Check labels, attribute keys and values against a scene; returns the program with keys resolved.

    Raises:
        UnknownLabel, UnknownAttribute, UnknownValue: with the names that are allowed.
    """
    steps: list[Any] = []
    for i, step in enumerate(program.steps):
        if isinstance(step, (Select, Relate)):
            label = step.label
            if not vocabulary.is_label(label) and not vocabulary.keys_of(label):
                raise UnknownLabel(f"no expert can find {label!r}; labels: {', '.join(vocabulary.labels) or 'none'}"
                                   f" (or \"{GENERIC}\" for all objects)", step=i)
        elif isinstance(step, Filter):
            step = _check_filter(step, vocabulary, i)
        elif isinstance(step, (Query, Same)):
            step = step.model_copy(update={"attribute": _check_key(step.attribute, vocabulary, i)})
        steps.append(step)
    return QueryProgram(steps=steps)
