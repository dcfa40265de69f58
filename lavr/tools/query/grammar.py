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
    count_compare: list[str] = ["more", "fewer", "equal"]  # the count comparisons the question's words name
    same_ops: list[str] = ["same", "different"]  # the attribute comparisons they name


# "left of", "right of", "top of" name relations; the same words alone ("on the left") name positions.
RELATION_BEFORE_OF = {"left": "left_of", "right": "right_of", "top": "above"}


COMPARATIVE_RELATIONS = {"lower": "below", "higher": "above"}
FAR_WORDS = {"far", "furthest", "farthest", "very", "extreme", "closest", "nearest"}
FAR_EXTREMES = {"left": "leftmost", "right": "rightmost", "top": "topmost", "bottom": "bottommost"}


def _question_words(question: str) -> tuple[list[str], set[str]]:
    ws = words(question)
    # a word that is part of "<word> of" ("<word> side of") is a relation there, not a position value
    ws = [RELATION_BEFORE_OF[w] if w in RELATION_BEFORE_OF and (nxt == "of" or (nxt == "side" and after == "of"))
          else w for w, nxt, after in zip(ws, [*ws[1:], ""], [*ws[2:], "", ""])]
    # "on the far right", "furthest to the left", "closest to the bottom" name the extreme, not the position
    ws = _far_extremes(ws)
    # "lower than the circle", "higher than the square": relations, not positions or count comparisons
    ws = [COMPARATIVE_RELATIONS[w] if w in COMPARATIVE_RELATIONS and nxt == "than" else w
          for w, nxt in zip(ws, [*ws[1:], ""])]
    forms = set(ws) | {normalise_label(w) for w in ws} | {VALUE_SYNONYMS.get(w, w) for w in ws}
    # "left-most", "left most", "top-most"
    forms |= {a + b for a, b in zip(ws, ws[1:]) if b == "most"}
    return ws, forms


def _far_extremes(ws: list[str]) -> list[str]:
    """Each "far left", "furthest to the left", "closest to the bottom" as the one extreme word ("leftmost")."""
    out: list[str] = []
    i = 0
    while i < len(ws):
        if ws[i] in FAR_WORDS:
            j = i + 1 + (ws[i + 1:i + 2] == ["to"])
            j += ws[j:j + 1] == ["the"]
            if j < len(ws) and ws[j] in FAR_EXTREMES:
                out.append(FAR_EXTREMES[ws[j]])
                i = j + 1
                continue
        out.append(ws[i])
        i += 1
    return out


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
    choice_at = _choice_positions(ws, vocabulary, set(matched))
    choices = {_value_word(ws[i], set(matched)) for i in choice_at}
    if choices:  # "Is it metal or rubber?": a choice between values, asked with query, not a logical or
        logic = [op for op in logic if op not in ("and", "or")]
    # the choice words are the answer's candidates, not a description; the same value elsewhere describes an
    # object ("the large rubber object ... metal or rubber?")
    mentions = _mentions(ws, vocabulary, matched, skip=choice_at)
    in_mentions = {v for m in mentions for v in m.values}
    negation = next((i for i, w in enumerate(ws) if w in NEGATION_WORDS
                     or (w == "other" and i + 1 < len(ws) and ws[i + 1] == "than")), None)
    extremes = sorted({EXTREME_WORDS[w] for w in forms if w in EXTREME_WORDS}, key=EXTREMES.index)
    return Allowed(
        labels=([GENERIC] if generic else []) + sorted(set(select_labels)) if labels or generic else None,
        keys=[k for k in keys if set(vocabulary.attributes[k]) & set(matched)],
        values=matched,
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
        names_objects=(bool(where) or any(w in GENERIC_NOUNS or normalise_label(w) == GENERIC or w in PERSON_WORDS
                                          for w in ws)) and not _asks_the_background_color(ws, vocabulary),
        negation_position=negation,
        negated_values=[v for v in matched if v not in in_mentions and v not in choices and negation is not None
                        and any(_value_word(w, {v}) for w in ws[negation + 1:])],
        free_values=[v for v in matched if v not in in_mentions and v not in choices],
        count_compare=sorted({COMPARE_WORDS[w] for w in ws if w in COMPARE_WORDS}),
        same_ops=[op for op, named in (("same", SAME_WORDS), ("different", DIFFERENT_WORDS)) if set(ws) & named],
        query_keys=_asked_keys(ws, keys, vocabulary, choices) or full.query_keys,
        excluded_ops=_excluded_ops(ws, choice=bool(choices), keys=set(keys))
        + (["relate"] if verify_form and first_relation is not None else []),
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
SAME_WORDS = {"same", "share", "shares", "match", "matches", "matching", "identical", "alike"}
DIFFERENT_WORDS = {"different", "differ", "differs", "unlike"}
# Words that name an attribute key; "shape", "kind" and "type" name the label where no expert gives a shape
KEY_WORDS = {"color": "color", "colour": "color", "shape": "shape", "size": "size", "material": "material",
             "kind": "label", "type": "label", "posture": "posture", "position": "position"}


def _asked_keys(ws: list[str], keys: list[str], vocabulary: SceneVocabulary, choices: set[str | None]) -> list[str]:
    """The attribute the question asks about, where its words say ("what color", "which shape", "the material
    of", "the same size as", "metal or rubber"); empty: not said, every key stays open."""
    def key(word: str) -> str | None:
        name = KEY_WORDS.get(word, word if word in keys else None)
        if name == "shape" and "shape" not in keys:
            return LABEL_KEY
        return name if name in keys or name == LABEL_KEY else None

    asked = [k for v in choices if v for k in vocabulary.keys_of(v)]
    for i, w in enumerate(ws):
        before, after = (ws[i - 1] if i else ""), (ws[i + 1] if i + 1 < len(ws) else "")
        if (before in ATTRIBUTE_BEFORE or after == "of" and before == "the") and (k := key(w)) is not None:
            asked.append(k)
    return list(dict.fromkeys(asked))


def _value_word(word: str, values: set[str]) -> str | None:
    value = VALUE_SYNONYMS.get(word, word)
    return value if value in values else None


def _choice_positions(ws: list[str], vocabulary: SceneVocabulary, values: set[str]) -> set[int]:
    """Where values joined by "or" that share an attribute stand ("metal or rubber", "small or large"): the
    choices. "Is there a red or blue cube?" asks for existence: no choice."""
    out: set[int] = set()
    if "there" in ws:
        return out
    for i in range(1, len(ws) - 1):
        if ws[i] == "or":
            a, b = _value_word(ws[i - 1], values), _value_word(ws[i + 1], values)
            if a and b and set(vocabulary.keys_of(a)) & set(vocabulary.keys_of(b)):
                out |= {i - 1, i + 1}
    return out


# "the same shape as", "a different color": the noun after these names an attribute, not an object
ATTRIBUTE_BEFORE = QUESTION_WORDS | {"same", "different"}


def _mentions(ws: list[str], vocabulary: SceneVocabulary, values: list[str],
              skip: set[int] = frozenset()) -> list[Mention]:  # type: ignore[assignment]
    """The question's noun phrases in order: a label, a generic noun or a person word, with the values written
    just before it (not the words at ``skip``: the choices of an "or" question). "What shape ...", "the same
    shape as ...", "the shape of ..." name an attribute, not an object; "what is ..." names an object of any
    label."""
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
            if before not in ATTRIBUTE_BEFORE and after != "of":
                label = GENERIC
        if label is None and w in QUESTION_WORDS and i + 1 < len(ws) and ws[i + 1] in ("is", "are") \
                and not _names_attribute(ws[i + 2:i + 4]):  # "what is the material of ...": an attribute
            label = GENERIC
        if label is None:
            continue
        vals: list[str] = []
        j = start - 1
        while j >= 0 and j not in skip and (v := _value_word(ws[j], value_set)) is not None:
            vals.insert(0, v)
            j -= 1
        key = (label, tuple(vals))
        if key not in seen:
            seen.add(key)
            found.append(Mention(label=label, values=vals, position=start))
    return found


BACKGROUND_WORDS = {"background", "backdrop"}


def _asks_the_background_color(ws: list[str], vocabulary: SceneVocabulary) -> bool:
    """"On what color of background are the shapes drawn?": the colour asked is the picture's, not an object's
    (the objects named are only where it is drawn). Seen answered with the objects' ambiguity otherwise."""
    return (bool(set(ws) & BACKGROUND_WORDS) and bool(set(ws) & {"color", "colour"})
            and not any(vocabulary.is_label(w) for w in BACKGROUND_WORDS))


def _names_attribute(ws: list[str]) -> bool:
    """``ws`` (the words after "what is") start with an attribute word: "the color", "its material"."""
    rest = ws[1:] if ws[:1] and ws[0] in ("the", "its", "a") else ws
    return bool(rest) and rest[0] in KEY_WORDS


AND_WORDS = {"and", "both", "also"}
OR_WORDS = {"or", "either", "neither", "nor"}
NEGATION_WORDS = {"not", "no", "t", "except", "besides", "without", "excluding", "non", "nothing", "none",
                  "neither", "nor"}  # "t": the words of "isn't", "aren't"


def _logic_ops(ws: list[str]) -> list[str]:
    """``and`` or ``or`` as the question joins things ("both ... and", "either ... or"), ``except``/``not`` when it
    negates. A join the question does not make is not offered: a small model was seen writing ``or`` chains of
    one label for "the same number of circles and squares"."""
    out = [op for op, joins in (("and", AND_WORDS), ("or", OR_WORDS)) if set(ws) & joins]
    other_than = any(a == "other" and b == "than" for a, b in zip(ws, ws[1:]))
    return out + (["except", "not"] if set(ws) & NEGATION_WORDS or other_than else [])


NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}


def question_numbers(question: str) -> list[int]:
    """The numbers a question names, in digits or words ("more than 3", "exactly two")."""
    found = [int(w) if w.isdigit() else NUMBER_WORDS[w] for w in words(question) if w.isdigit() or w in NUMBER_WORDS]
    return sorted(set(found))


CHOICE_ROOT_EXCLUDED = ["count", "exist", "verify", "more", "fewer", "equal", "more_than", "fewer_than", "exactly",
                        "same", "different", "not", "and", "or", "unsupported"]
ATTRIBUTE_WORDS = {"color", "colour", "shape", "size", "material", "kind", "type"}


def _excluded_ops(ws: list[str], *, choice: bool = False, keys: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Ops the question's form rules out:

    - "is there" asks for existence (no ``verify``);
    - a yes/no question is answered yes or no: no ``count`` ("Can you see a face?" -> "1") and no ``query``
      ("Is the small object below the yellow one?" -> "circle"), unless it offers a choice of values ("Is it
      metal or rubber?"), which only ``query`` answers;
    - "the same number of" compares counts, not an attribute (no ``same``/``different``); "the same shape as"
      compares an attribute, not counts (no ``more``/``fewer``/``equal``);
    - existence and counting questions are always expressible (no ``unsupported``).
    """
    out = []
    if "there" in ws:
        out.append("verify")
    yes_no = bool(ws) and ws[0] in YES_NO_STARTS | {"can", "could", "has", "have"}
    if yes_no and choice:
        out += CHOICE_ROOT_EXCLUDED
    elif yes_no:
        out += ["count", "query"]
    counting = "count" in ws or "number" in ws or any(a == "how" and b == "many" for a, b in zip(ws, ws[1:]))
    if counting or "as" in ws and "many" in ws:
        out += ["same", "different"]
    elif any(a in ("same", "different") and (b in ATTRIBUTE_WORDS or b in keys) for a, b in zip(ws, ws[1:])):
        out += ["more", "fewer", "equal"]
    if "there" in ws or counting:
        out.append("unsupported")
    return list(dict.fromkeys(out))
