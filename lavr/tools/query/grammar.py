"""What a program may name for one question: the scene's vocabulary narrowed to what the question's words can mean.

``compact.compact_schema`` turns this into the JSON-schema grammar of the compact form the LLM writes. Narrowed
to the question's own words (plurals, synonyms, parts of compound values), "How many red shapes are there?"
allows only ``red`` as a filter value and only ``object`` as a label, so a generic noun cannot make the model
invent ``circle``. Where the model's first choice is out of the grammar it is forced down whatever paths are
left, so every path left open must be one the question can mean:

- Filter values: only those the question names; none named, no filter ("Is there a star?" was seen becoming
  filter color=yellow).
- Labels: those the question names, plus ``object`` when it has a generic word ("object", "thing", "shape",
  "what", "anything"). With neither, the label is a free string, so a noun the experts do not know becomes an
  ``UnknownLabel`` error (and the fallback) instead of a guess.
- Relations: those the question names, and only where something nameable follows the word ("left of the box",
  not "in this photo"); none, no ``relate`` or ``verify``. "left of" names the relation, "on the left" the
  position value. The subject (``relate_labels``) is named before the relation word, the reference after it.
- Extremes (``named_extremes``): only those named. Logic (``logic``): ``and``/``or`` when the question joins
  things, ``except``/``not`` when it negates.
- Ops: "is there" asks for existence, so ``verify`` is not offered; "is the X left of the Y?" asks about two
  definite objects, so ``relate`` is not. Counting and existence are always expressible: no ``unsupported``.
- Numbers: those the question names (``question_numbers``).
"""

from __future__ import annotations

from pydantic import BaseModel

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
IMAGE_WORDS = {"image", "picture", "photo", "photograph", "scene", "you", "it"}
PRONOUNS = {"it", "them", "ones", "him", "her"}  # "next to it": the relation still names a reference
YES_NO_STARTS = {"is", "are", "does", "do", "was", "were"}
EXISTENTIAL_WORDS = {"there", "any", "anything", "something", "anyone", "someone", "anybody", "somebody"}
# Words that ask about objects of any label (besides the generic nouns): "What is left of the box?"
GENERIC_WORDS = GENERIC_NOUNS | {"what", "which", "anything", "something", "everything", "nothing", "whatever"}
EXTREME_WORDS: dict[str, str] = {
    "leftmost": "leftmost", "rightmost": "rightmost", "topmost": "topmost", "highest": "topmost",
    "uppermost": "topmost", "bottommost": "bottommost", "lowest": "bottommost", "lowermost": "bottommost",
    "largest": "largest", "biggest": "largest", "smallest": "smallest", "tiniest": "smallest",
    **{v: v for v in ("leftmost", "rightmost", "topmost", "bottommost")},
}


class Mention(BaseModel):
    """A noun phrase of the question: a label (or ``object``) and the values written just before it."""

    label: str
    values: list[str] = []
    position: int


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
    # the compact form narrows per position: any set, the subject (before the relation word), the reference
    all_labels: list[str] | None = None
    reference_labels: list[str] | None = None
    named_extremes: list[str] = []
    logic: list[str] = ["and", "or", "except", "not"]  # what the question's words allow of and/or/except/not
    keys_of: dict[str, list[str]] = {}  # value -> the attribute keys it belongs to
    # the noun phrases the question names, in order ("the red object ... the green square"), and the values that
    # belong to none of them ("is the circle red?"); empty: the question named no object
    mentions: list[Mention] = []
    free_values: list[str] = []
    relation_position: int | None = None  # where the first relation word is
    negation_position: int | None = None  # where the first negation word is
    negated_values: list[str] = []  # free values named after it ("not large")
    names_objects: bool = True  # the question names a label, a generic noun or a person
    count_compare: list[str] = ["more", "fewer", "equal"]


# "left of", "right of", "top of" name relations; the same words alone ("on the left") name positions.
RELATION_BEFORE_OF = {"left": "left_of", "right": "right_of", "top": "above"}


COMPARATIVE_RELATIONS = {"lower": "below", "higher": "above"}
FAR_WORDS = {"far", "furthest", "farthest", "very", "extreme"}
FAR_EXTREMES = {"left": "leftmost", "right": "rightmost", "top": "topmost", "bottom": "bottommost"}


def _question_words(question: str) -> tuple[list[str], set[str]]:
    ws = words(question)
    # a word that is part of "<word> of" ("<word> side of") is a relation there, not a position value
    ws = [RELATION_BEFORE_OF[w] if w in RELATION_BEFORE_OF and (nxt == "of" or (nxt == "side" and after == "of"))
          else w for w, nxt, after in zip(ws, [*ws[1:], ""], [*ws[2:], "", ""])]
    # "on the far right" names the extreme, not the position
    ws = [FAR_EXTREMES[w] if w in FAR_EXTREMES and prev in FAR_WORDS else w for prev, w in zip(["", *ws], ws)]
    # "lower than the circle", "higher than the square": relations, not positions or count comparisons
    ws = [COMPARATIVE_RELATIONS[w] if w in COMPARATIVE_RELATIONS and nxt == "than" else w
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
                   query_keys=[LABEL_KEY, *keys], relations=list(RELATIONS), extremes=list(EXTREMES),
                   named_extremes=list(EXTREMES), all_labels=[GENERIC, *vocabulary.labels])
    if question is None:
        return full
    ws, forms = _question_words(question)
    where = {lbl: pos for lbl in vocabulary.labels if (pos := _label_position(lbl, ws)) is not None}
    if "person" in vocabulary.labels and forms & PERSON_WORDS:
        where.setdefault("person", next(i for i, w in enumerate(ws) if w in PERSON_WORDS))
    labels = list(where)
    # a relation word relates only when something nameable follows it: "left of the box", not "in this photo"
    nameable = set(where.values()) | {i for i, w in enumerate(ws)
                                      if w in GENERIC_WORDS or w in PERSON_WORDS or w in PRONOUNS}
    # ... and not when the image is its subject: "does the image contain a cat?" asks for existence
    relation_at = [i for i, w in enumerate(ws) if w in RELATION_WORDS and any(p > i for p in nameable)
                   and not (i and ws[i - 1] in IMAGE_WORDS)]
    first_relation = relation_at[0] if relation_at else None
    # "Is the red circle left of the square?": two definite objects, a yes/no about their relation (verify);
    # "Is there a circle left of the square?", "How many circles are left of ...": relate
    verify_form = bool(ws) and ws[0] in YES_NO_STARTS and not set(ws) & EXISTENTIAL_WORDS
    select_labels = labels
    if first_relation is not None and not verify_form:  # select the reference, named after the relation word
        select_labels = [lbl for lbl, pos in where.items() if pos > first_relation] or labels
    generic = bool(forms & GENERIC_WORDS)
    # a value that is also a label (shape=circle beside label circle) is selected by the label, never filtered
    matched = [v for v in values if (v in forms or all(p in forms for p in value_parts(v)))
               and not vocabulary.is_label(v)]
    relations = sorted({RELATION_WORDS[ws[i]] for i in relation_at}, key=RELATIONS.index)
    logic = _logic_ops(ws)
    choices = _choice_values(ws, vocabulary, set(matched))
    if choices:  # "Is it metal or rubber?": a choice between values, asked with query, not a logical or
        logic = [op for op in logic if op not in ("and", "or")]
    mentions = _mentions(ws, vocabulary, [v for v in matched if v not in choices])
    in_mentions = {v for m in mentions for v in m.values}
    negation = next((i for i, w in enumerate(ws) if w in NEGATION_WORDS
                     or (w == "other" and i + 1 < len(ws) and ws[i + 1] == "than")), None)
    extremes = sorted({EXTREME_WORDS[w] for w in forms if w in EXTREME_WORDS}, key=EXTREMES.index)
    return Allowed(
        labels=([GENERIC] if generic else []) + sorted(set(select_labels)) if labels or generic else None,
        keys=[k for k in keys if set(vocabulary.attributes[k]) & set(matched)],
        values=matched,
        query_keys=full.query_keys,
        relations=relations,
        extremes=extremes or full.extremes,
        relate_labels=_relate_labels(first_relation, where, generic),
        all_labels=([GENERIC] if generic else []) + sorted(where) if where or generic else None,
        reference_labels=_reference_labels(first_relation, where, generic),
        named_extremes=extremes,
        logic=logic,
        keys_of={v: vocabulary.keys_of(v) for v in matched},
        mentions=mentions,
        relation_position=first_relation,
        names_objects=bool(where) or any(w in GENERIC_NOUNS or normalise_label(w) == GENERIC or w in PERSON_WORDS
                                         for w in ws),
        negation_position=negation,
        negated_values=[v for v in matched if v not in in_mentions and v not in choices and negation is not None
                        and any(_value_word(w, {v}) for w in ws[negation + 1:])],
        free_values=[v for v in matched if v not in in_mentions and v not in choices],
        count_compare=sorted({COMPARE_WORDS[w] for w in ws if w in COMPARE_WORDS}) or ["more", "fewer", "equal"],
        excluded_ops=_excluded_ops(ws) + (["relate"] if verify_form and first_relation is not None else []),
    )


def _relate_labels(first: int | None, where: dict[str, int], generic: bool) -> list[str] | None:
    """``relate``'s label names the related objects, the subject that comes before the relation word ("circles
    left of the triangle" -> circle), never the reference after it. None: no relation word, same as select."""
    if first is None:
        return None
    before = sorted(lbl for lbl, pos in where.items() if pos < first)
    return [GENERIC, *before] if generic or not before else before


def _reference_labels(first: int | None, where: dict[str, int], generic: bool) -> list[str] | None:
    """The reference of a relation is named after the relation word ("circles left of the triangle" -> triangle).
    None: no relation word."""
    if first is None:
        return None
    after = sorted(lbl for lbl, pos in where.items() if pos > first)
    return [GENERIC, *after] if generic or not after else after


COMPARE_WORDS = {"more": "more", "greater": "more", "larger": "more", "bigger": "more", "outnumber": "more",
                 "exceed": "more", "fewer": "fewer", "less": "fewer", "smaller": "fewer", "lower": "fewer",
                 "same": "equal", "equal": "equal", "as": "equal"}
QUESTION_WORDS = {"what", "which"}


def _value_word(word: str, values: set[str]) -> str | None:
    value = VALUE_SYNONYMS.get(word, word)
    return value if value in values else None


def _choice_values(ws: list[str], vocabulary: SceneVocabulary, values: set[str]) -> set[str]:
    """Values joined by "or" that share an attribute ("metal or rubber", "small or large"): the choices."""
    out: set[str] = set()
    for i in range(1, len(ws) - 1):
        if ws[i] == "or":
            a, b = _value_word(ws[i - 1], values), _value_word(ws[i + 1], values)
            if a and b and set(vocabulary.keys_of(a)) & set(vocabulary.keys_of(b)):
                out |= {a, b}
    return out


def _mentions(ws: list[str], vocabulary: SceneVocabulary, values: list[str]) -> list[Mention]:
    """The question's noun phrases in order: a label, a generic noun or a person word, with the values written
    just before it. "What shape ...", "the shape of ..." name an attribute, not an object; "what is ..." names
    an object of any label."""
    value_set, found, seen = set(values), [], set()
    labels = sorted(vocabulary.labels, key=lambda lbl: -len(lbl.split()))  # "stop sign" before "sign"
    for i, w in enumerate(ws):
        label, start = None, i
        for lbl in labels:
            n = len(lbl.split())
            if i - n + 1 >= 0 and _label_position(lbl, ws[i - n + 1:i + 1]) == 0:
                label, start = lbl, i - n + 1
                break
        if label is None and w in PERSON_WORDS and "person" in vocabulary.labels:
            label = "person"
        if label is None and (w in GENERIC_NOUNS or normalise_label(w) == GENERIC):
            before, after = (ws[i - 1] if i else ""), (ws[i + 1] if i + 1 < len(ws) else "")
            if before not in QUESTION_WORDS and after != "of":
                label = GENERIC
        if label is None and w in QUESTION_WORDS and i + 1 < len(ws) and ws[i + 1] in ("is", "are"):
            label = GENERIC
        if label is None:
            continue
        vals: list[str] = []
        j = start - 1
        while j >= 0 and (v := _value_word(ws[j], value_set)) is not None:
            vals.insert(0, v)
            j -= 1
        key = (label, tuple(vals))
        if key not in seen:
            seen.add(key)
            found.append(Mention(label=label, values=vals, position=start))
    return found


CONJUNCTION_WORDS = {"and", "or", "both", "either", "neither", "nor"}
NEGATION_WORDS = {"not", "no", "t", "except", "besides", "without", "excluding", "non", "nothing", "none",
                  "neither", "nor"}  # "t": the words of "isn't", "aren't"


def _logic_ops(ws: list[str]) -> list[str]:
    """``and``/``or`` when the question joins things, ``except``/``not`` when it negates."""
    out = ["and", "or"] if set(ws) & CONJUNCTION_WORDS else []
    other_than = any(a == "other" and b == "than" for a, b in zip(ws, ws[1:]))
    return out + (["except", "not"] if set(ws) & NEGATION_WORDS or other_than else [])


NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}


def question_numbers(question: str) -> list[int]:
    """The numbers a question names, in digits or words ("more than 3", "exactly two")."""
    found = [int(w) if w.isdigit() else NUMBER_WORDS[w] for w in words(question) if w.isdigit() or w in NUMBER_WORDS]
    return sorted(set(found))


def _excluded_ops(ws: list[str]) -> list[str]:
    """Ops the question's form rules out: "is there" asks for existence (no ``verify``), a yes/no question for
    no number (no ``count``); existence and counting questions are always expressible (no ``unsupported``)."""
    out = []
    if "there" in ws:
        out.append("verify")
    if ws and ws[0] in YES_NO_STARTS | {"can", "could", "has", "have"}:
        out.append("count")  # a yes/no question is not answered with a number ("Can you see a face?" -> "1")
    if "there" in ws or "count" in ws or "number" in ws or any(a == "how" and b == "many" for a, b in zip(ws, ws[1:])):
        out.append("unsupported")
    return out
