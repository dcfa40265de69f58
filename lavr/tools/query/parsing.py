"""Tolerant reading of query programs: JSON text or data, small deviations of shape forgiven, typed errors.

Forgiven: a bare list of steps or ``{"program": [...]}``, code fences and prose around the JSON, other spellings
of ops, fields and relations (``exists``, ``inputs: [a, b]``, ``"to the left of"``), ``{"color": "red"}`` for a
filter, references written ``"$1"`` or ``[1]``, numbers as words. Everything else is a ``QueryError`` naming
the step, for the LLM to correct.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from .errors import ProgramSyntaxError, QueryError, UnknownOperation, UnknownRelation
from .language import MAX_STEPS, OPS, QueryProgram, check_references
from .vocabulary import GENERIC, RELATIONS, normalise_key, normalise_label, normalise_relation, normalise_value

OP_ALIASES = {"exists": "exist", "find": "select", "objects": "select", "get": "select", "filter_attribute": "filter",
              "relation": "relate", "related": "relate", "relate_to": "relate", "verify_relation": "verify",
              "check": "verify", "union": "or", "intersect": "and", "intersection": "and", "difference": "except",
              "minus": "except", "exclude": "except", "subtract": "except", "without": "except",
              "query_attribute": "query", "attribute": "query", "describe": "query", "less": "fewer",
              "greater": "more", "same_count": "equal", "equal_count": "equal", "compare": "equal",
              "same_attribute": "same", "different_attribute": "different", "biggest": "largest",
              "highest": "topmost", "lowest": "bottommost", "at_least_more": "more_than", "greater_than": "more_than",
              "less_than": "fewer_than", "equals": "exactly", "count_equals": "exactly", "negate": "not",
              "unanswerable": "unsupported", "cannot": "unsupported", "unknown": "unsupported"}
FIELD_ALIASES = {"operation": "op", "type": "op", "fn": "op", "function": "op", "operator": "op",
                 "from": "input", "source": "input", "subject": "input", "objects": "input",
                 "target": "other", "reference": "other", "object": "other", "to": "other", "second": "other",
                 "rel": "relation", "attr": "attribute", "key": "attribute", "property": "attribute",
                 "name": "label", "class": "label", "category": "label", "noun": "label", "n": "number"}
IGNORED_FIELDS = {"id", "thought", "comment", "note", "description", "why", "step", "output", "result"}
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_REF_TEXT = re.compile(r"^\s*(?:\$|#|step_?|s)?(\d+)\s*$", re.IGNORECASE)


def _loads(text: str) -> Any:
    """JSON from an LLM reply: the text itself, else its first ``{...}`` or ``[...]`` block (code fences too)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            try:
                return json.loads(text[start:end + 1])
            except json.JSONDecodeError:
                continue
    raise ProgramSyntaxError('not JSON; write one object {"steps": [{"op": ...}, ...]}')


def _ref(value: Any, field: str, index: int) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        raise ProgramSyntaxError(f"`{field}` must be the number of an earlier step", step=index)
    if isinstance(value, str):
        m = _REF_TEXT.match(value)
        if not m:
            raise ProgramSyntaxError(f"`{field}` must be the number of an earlier step, not {value!r}", step=index)
        return int(m.group(1))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number(value: Any, index: int) -> Any:
    if isinstance(value, str):
        w = value.strip().lower()
        if w in NUMBER_WORDS:
            return NUMBER_WORDS[w]
        if w.isdigit():
            return int(w)
        raise ProgramSyntaxError(f"`number` must be a whole number, not {value!r}", step=index)
    return value


def normalise_op(value: Any) -> str:
    op = "_".join(re.findall(r"[a-z0-9]+", str(value).lower()))
    return OP_ALIASES.get(op, op)


def _normalise_step(raw: Any, index: int) -> dict[str, Any]:
    """A raw step with spellings forgiven; raises ``QueryError``s for what cannot be read."""
    if not isinstance(raw, dict):
        raise ProgramSyntaxError('a step must be a JSON object such as {"op": "select", "label": "object"}',
                                 step=index)
    named = {"_".join(re.findall(r"[a-z0-9]+", str(key).lower())): value for key, value in raw.items()}
    step = {k: v for k, v in named.items() if k not in IGNORED_FIELDS and k not in FIELD_ALIASES and k != "inputs"}
    if isinstance(named.get("inputs"), list):  # "inputs": [a, b]
        for field, value in zip(("input", "other"), named["inputs"]):
            step.setdefault(field, value)
    for key, value in named.items():  # aliases never override the proper name
        if key in FIELD_ALIASES:
            step.setdefault(FIELD_ALIASES[key], value)
    if "op" not in step:
        raise ProgramSyntaxError(f"a step needs an `op`; one of: {', '.join(OPS)}", step=index)
    op = normalise_op(step["op"])
    if op not in OPS:
        raise UnknownOperation(f"unknown op {step['op']!r}; ops: {', '.join(OPS)}", step=index)
    step["op"] = op
    cls = OPS[op]
    fields = set(cls.model_fields)
    if op == "relate" and "label" not in step:
        step["label"] = GENERIC  # the related objects of any label
    if op == "select" and "label" not in step and isinstance(step.get("other"), str):
        step["label"] = step.pop("other")  # {"op": "select", "object": "circle"}
    if op == "filter" and not {"attribute", "value"} <= set(step):
        # {"op": "filter", "input": 0, "color": "red"}: the attribute written as the key
        extra = [k for k in step if k not in fields]
        if len(extra) == 1 and "attribute" not in step and "value" not in step:
            step["attribute"], step["value"] = extra[0], step.pop(extra[0])
        elif "value" in step and "attribute" not in step:
            step["attribute"] = ""  # resolved from the value against the scene (check_vocabulary)
    for field in ("input", "other"):
        if field in step and step[field] is not None:
            step[field] = _ref(step[field], field, index)
    if op in ("same", "different") and isinstance(step.get("other"), int) and \
            (step["other"] >= index or step["other"] == step.get("input")):
        del step["other"]  # "are all squares the same color?" written with other = itself: all of input
    if "number" in step:
        step["number"] = _number(step["number"], index)
    for field, norm in (("label", normalise_label), ("attribute", normalise_key), ("value", normalise_value)):
        if isinstance(step.get(field), str):
            step[field] = norm(step[field])
    if isinstance(step.get("relation"), str):
        rel = normalise_relation(step["relation"])
        if rel not in RELATIONS:
            raise UnknownRelation(f"unknown relation {step['relation']!r}; relations: {', '.join(RELATIONS)}",
                                  step=index)
        step["relation"] = rel
    return step


def _syntax_error(err: ValidationError, steps: list[dict[str, Any]]) -> QueryError:
    item = err.errors()[0]
    loc = list(item["loc"])[1:]  # ("steps", index, op, field...)
    index = loc[0] if loc and isinstance(loc[0], int) else None
    op = steps[index]["op"] if index is not None else None
    fields = ", ".join(OPS[op].model_fields) if op else ""
    where = ".".join(str(p) for p in loc[2:]) if len(loc) > 2 else ""
    kind = item["type"]
    if kind == "missing":
        msg = f"{op} needs `{where}` (fields: {fields})"
    elif kind == "extra_forbidden":
        msg = f"{op} has no field `{where}` (fields: {fields})"
    else:
        msg = f"{op} `{where}`: {item['msg']}"
    return ProgramSyntaxError(msg, step=index)


def parse_program(source: str | bytes | dict[str, Any] | list[Any] | QueryProgram) -> QueryProgram:
    """Read a program from JSON text or data and check its references and types.

    Accepts ``{"steps": [...]}``, ``{"program": [...]}`` or a bare list of steps; other top-level keys
    (a ``thought``) are ignored.

    Raises:
        QueryError: ``ProgramSyntaxError``, ``UnknownOperation``, ``UnknownRelation``, ``ReferenceProblem`` or
            ``TypeMismatch``, with the step it concerns.
    """
    if isinstance(source, QueryProgram):
        check_references(source)
        return source
    data = _loads(source.decode() if isinstance(source, bytes) else source) if isinstance(source, (str, bytes)) \
        else source
    if isinstance(data, dict):
        for key in ("steps", "program", "plan"):
            if key in data:
                data = data[key]
                break
        else:
            data = [data] if "op" in data else None
    if not isinstance(data, list) or not data:
        raise ProgramSyntaxError('a program is {"steps": [...]} with at least one step')
    if len(data) > MAX_STEPS:
        raise ProgramSyntaxError(f"at most {MAX_STEPS} steps, got {len(data)}")
    steps = [_normalise_step(raw, i) for i, raw in enumerate(data)]
    try:
        program = QueryProgram.model_validate({"steps": steps})
    except ValidationError as err:
        raise _syntax_error(err, steps) from None
    check_references(program)
    return program
