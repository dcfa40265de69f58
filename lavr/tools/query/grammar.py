"""The query language as a JSON schema, small enough to serve as a llama.cpp grammar, narrowed per question.

The schema is derived from the step models of ``language.py`` (never a hand-kept copy): every step model gives
an object schema; models with the same fields are merged into one branch whose ``op`` enumerates their ops, so
the whole language is one ``anyOf`` of about eight objects. Names are enumerated from the scene's vocabulary.

Given the question, allowed names are narrowed to those its own words can mean (plurals, synonyms, parts of
compound values): "How many red shapes are there?" allows only ``red`` as a filter value and only ``object`` as
a label, so a generic noun cannot make the model invent ``circle``.

- Filter values: only those the question names. When it names none, the filter op is left out altogether: with
  every value allowed, the model was seen inventing one ("Is there a star?" -> filter color=yellow).
- Labels: those the question names, plus ``object`` when it has a generic word ("object", "thing", "shape",
  "what", "anything"). When it has neither, the label is a free string, so a noun the experts do not know
  becomes an ``UnknownLabel`` error (and the fallback) instead of a guess.
- Relations: those the question names; none (no ``relate``, no ``verify``) when it names none: "How many
  objects are on the right side?" is a position filter, and the model was seen relating instead. "left of"
  names the relation, "on the left" the position value.
- Extremes: those the question names; all six when it names none.
- Ops: "is there" / "are there" ask for existence, so ``verify`` is not offered; "is the X left of the Y?"
  asks about two definite objects, so ``relate`` is not. Counting and existence are always expressible, so
  ``unsupported`` is not offered for them.
- Relation questions: ``select`` names the reference (the label after the relation word), ``relate`` the
  subject (before it): "How many circles are left of the triangle?" -> select triangle, relate label circle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..base import inline_schema
from .language import MAX_STEPS, STEP_TYPES
from .vocabulary import (EXTREMES, GENERIC, GENERIC_NOUNS, LABEL_KEY, PERSON_WORDS, RELATIONS, VALUE_SYNONYMS,
                         SceneVocabulary, normalise_label, value_parts, words)

RELATION_WORDS: dict[str, str] = {
    "left_of": "left_of", "right_of": "right_of", "above": "above", "over": "above",
    "atop": "above", "below": "below", "under": "below", "beneath": "below", "underneath": "below",
    "near": "near", "next": "near", "beside": "near", "close": "near", "closest": "near",
    "nearby": "near", "adjacent": "near", "inside": "inside", "in": "inside", "within": "inside",
    "contain": "contains", "contains": "contains", "containing": "contains", "holding": "contains",
    "around": "contains", "front": "in_front_of", "behind": "behind", "overlap": "overlaps",
    "overlaps": "overlaps", "overlapping": "overlaps", "intersect": "overlaps", "touching": "overlaps",
}
YES_NO_STARTS = {"is", "are", "does", "do", "was", "were"}
EXISTENTIAL_WORDS = {"there", "any", "anything", "something", "anyone", "someone", "anybody", "somebody"}
# Words that ask about objects of any label (besides the generic nouns): "What is left of the box?"
GENERIC_WORDS = GENERIC_NOUNS | {"what", "which", "anything", "something", "everything", "nothing", "whatever"}
EXTREME_WORDS: dict[str, str] = {
    "leftmost": "leftmost", "rightmost": "rightmost", "topmost": "topmost", "highest": "topmost",
    "uppermost": "topmost", "bottommost": "bottommost", "lowest": "bottommost", "lowermost": "bottommost",
    "largest": "largest", "biggest": "largest", "smallest": "smallest", "tiniest": "smallest",
}


class Allowed(BaseModel):
    """The names a program may use for one question. ``labels`` None: any string (checked after generation).
    ``excluded_ops``: ops the question's words rule out ("is there ..." asks for existence, not ``verify``)."""

    labels: list[str] | None
    keys: list[str]
    values: list[str]
    query_keys: list[str]
    relations: list[str]
    extremes: list[str]
    relate_labels: list[str] | None = None
    excluded_ops: list[str] = []


# "left of", "right of", "top of" name relations; the same words alone ("on the left") name positions.
RELATION_BEFORE_OF = {"left": "left_of", "right": "right_of", "top": "above"}


def _question_words(question: str) -> tuple[list[str], set[str]]:
    ws = words(question)
    # a word that is part of "<word> of" is a relation there, not a position value
    ws = [RELATION_BEFORE_OF[w] if w in RELATION_BEFORE_OF and nxt == "of" else w
          for w, nxt in zip(ws, [*ws[1:], ""])]
    forms = set(ws) | {normalise_label(w) for w in ws} | {VALUE_SYNONYMS.get(w, w) for w in ws}
    # "left-most", "left most", "top-most"
    forms |= {a + b for a, b in zip(ws, ws[1:]) if b == "most"}
    return ws, forms


def _label_position(label: str, ws: list[str]) -> int | None:
    """Where a (possibly multi-word) label first occurs in the question, its last word in any number."""
    parts = label.split()
    canon = [normalise_label(w) for w in ws]
    n = len(parts)
    return next((i for i in range(len(ws) - n + 1)
                 if ws[i:i + n - 1] == parts[:-1] and canon[i + n - 1] == normalise_label(parts[-1])), None)


def allowed_names(vocabulary: SceneVocabulary, question: str | None = None) -> Allowed:
    """Everything the vocabulary allows, narrowed to what ``question``'s words can mean (see module doc)."""
    keys = list(vocabulary.attributes)
    values = sorted({v for vs in vocabulary.attributes.values() for v in vs})
    full = Allowed(labels=[GENERIC, *vocabulary.labels], keys=keys, values=values,
                   query_keys=[LABEL_KEY, *keys], relations=list(RELATIONS), extremes=list(EXTREMES))
    if question is None:
        return full
    ws, forms = _question_words(question)
    where = {lbl: pos for lbl in vocabulary.labels if (pos := _label_position(lbl, ws)) is not None}
    if "person" in vocabulary.labels and forms & PERSON_WORDS:
        where.setdefault("person", next(i for i, w in enumerate(ws) if w in PERSON_WORDS))
    labels = list(where)
    first_relation = next((i for i, w in enumerate(ws) if w in RELATION_WORDS), None)
    # "Is the red circle left of the square?": two definite objects, a yes/no about their relation (verify);
    # "Is there a circle left of the square?", "How many circles are left of ...": relate
    verify_form = bool(ws) and ws[0] in YES_NO_STARTS and not set(ws) & EXISTENTIAL_WORDS
    select_labels = labels
    if first_relation is not None and not verify_form:  # select the reference, named after the relation word
        select_labels = [lbl for lbl, pos in where.items() if pos > first_relation] or labels
    generic = bool(forms & GENERIC_WORDS)
    matched = [v for v in values if v in forms or all(p in forms for p in value_parts(v))]
    relations = sorted({RELATION_WORDS[w] for w in forms if w in RELATION_WORDS}, key=RELATIONS.index)
    extremes = sorted({EXTREME_WORDS[w] for w in forms if w in EXTREME_WORDS}, key=EXTREMES.index)
    return Allowed(
        labels=([GENERIC] if generic else []) + sorted(set(select_labels)) if labels or generic else None,
        keys=[k for k in keys if set(vocabulary.attributes[k]) & set(matched)],
        values=matched,
        query_keys=full.query_keys,
        relations=relations,
        extremes=extremes or full.extremes,
        relate_labels=_relate_labels(first_relation, where, generic),
        excluded_ops=_excluded_ops(ws) + (["relate"] if verify_form and first_relation is not None else []),
    )


def _relate_labels(first: int | None, where: dict[str, int], generic: bool) -> list[str] | None:
    """``relate``'s label names the related objects, the subject that comes before the relation word ("circles
    left of the triangle" -> circle), never the reference after it. None: no relation word, same as select."""
    if first is None:
        return None
    before = sorted(lbl for lbl, pos in where.items() if pos < first)
    return [GENERIC, *before] if generic or not before else before


def _excluded_ops(ws: list[str]) -> list[str]:
    """Ops the question's form rules out: "is there" asks for existence (no ``verify``); existence and counting
    questions are always expressible (no ``unsupported``)."""
    out = []
    if "there" in ws:
        out.append("verify")
    if "there" in ws or "count" in ws or "number" in ws or any(a == "how" and b == "many" for a, b in zip(ws, ws[1:])):
        out.append("unsupported")
    return out


def _enum(values: list[str]) -> dict[str, Any] | None:
    if not values:
        return None  # nothing allowed: the branch is left out
    return {"const": values[0]} if len(values) == 1 else {"enum": list(values)}


def _branch(model: type[BaseModel], allowed: Allowed) -> dict[str, Any] | None:
    schema = inline_schema(model.model_json_schema())
    fields: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if name == "op":
            ops = [prop["const"]] if "const" in prop else list(prop["enum"])
            if set(ops) <= set(EXTREMES):
                ops = [op for op in ops if op in allowed.extremes]
            ops = [op for op in ops if op not in allowed.excluded_ops]
            fields[name] = {"enum": ops}
        elif name in ("input", "other", "number"):
            fields[name] = {"type": "integer"}
        elif name == "label":
            labels = allowed.relate_labels if name in schema["properties"] and "relation" in schema["properties"] \
                and allowed.relate_labels is not None else allowed.labels
            fields[name] = {"type": "string"} if labels is None else _enum(labels)
        elif name == "relation":
            fields[name] = _enum(allowed.relations)
        elif name == "attribute":
            fields[name] = _enum(allowed.keys if "value" in schema["properties"] else allowed.query_keys)
        elif name == "value":
            fields[name] = _enum(allowed.values)
        else:  # pragma: no cover - a new field must say how it is enumerated
            raise TypeError(f"no grammar for field {name!r} of {model.__name__}")
        if fields[name] is None:
            return None
    return {"type": "object", "properties": fields, "required": list(schema.get("required", [])),
            "additionalProperties": False}


def step_schemas(allowed: Allowed) -> list[dict[str, Any]]:
    """One schema per group of ops that share their fields (``op`` enumerates the group)."""
    groups: dict[str, dict[str, Any]] = {}
    for model in STEP_TYPES:
        branch = _branch(model, allowed)
        if branch is None or not branch["properties"]["op"]["enum"]:
            continue  # a name it needs is not available, or its ops were narrowed away
        sig = repr({k: v for k, v in branch["properties"].items() if k != "op"}) + repr(branch["required"])
        if sig in groups:
            groups[sig]["properties"]["op"]["enum"] += branch["properties"]["op"]["enum"]
        else:
            groups[sig] = branch
    for branch in groups.values():
        ops = branch["properties"]["op"]["enum"]
        branch["properties"]["op"] = _enum(ops)
    return list(groups.values())


def program_schema(vocabulary: SceneVocabulary, question: str | None = None, *,
                   max_steps: int = MAX_STEPS) -> dict[str, Any]:
    """The JSON schema of a program over this scene, narrowed to ``question`` when given.

    Args:
        vocabulary: What the experts can name in the scene.
        question: The question; its words narrow the allowed labels, values, relations and extremes.
        max_steps: Upper bound on the number of steps.

    Returns:
        ``{"type": "object", "properties": {"steps": {"type": "array", "items": {"anyOf": [...]}}}}``, usable as
        a llama.cpp JSON-schema grammar and by ``jsonschema`` validators.
    """
    allowed = allowed_names(vocabulary, question)
    return {
        "type": "object",
        "properties": {"steps": {"type": "array", "minItems": 1, "maxItems": max_steps,
                                 "items": {"anyOf": step_schemas(allowed)}}},
        "required": ["steps"],
        "additionalProperties": False,
    }
