"""Noun phrases with their relations, read off the question itself.

A 1.5B model writes "the small cylinder to the right of the big ball that's in front of the red ball" with the
relations on the wrong things or the values dropped, and writes it the same way again when told so (seen on the
development sets). The noun phrase is plain in the question's phrases: a determiner, values, a noun, then
relations each to a noun phrase of its own. A relative clause belongs to the nearest noun ("the ball that's in
front of the red ball"); "and" before a relation adds it to the outer noun ("the thing behind the sphere and left of
the cube"). The reading is only ever offered as a repair, and checked like any program the model writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...lexicon import Phrase
from ...tools.query.program import Call, Node, Word

DEFINITE_WORDS = frozenset({"the", "that", "this"})
INDEFINITE_WORDS = frozenset({"a", "an", "any", "some"})
# words between a noun and what is said of it: "the ball that's in front of", "the cube which is red"
CONNECTORS = frozenset({"that", "which", "who", "is", "are", "that 's", "that is", "which is", "that are",
                        "which are", "who is", "are there", "is there", "located", "sitting", "placed", "positioned",
                        "lying"})


@dataclass(frozen=True)
class NounPhrase:
    """A noun phrase read from phrase ``start`` to ``end`` (exclusive): ``node`` is its set, the(...) when the
    question says "the" ("that", "this"), all(...) otherwise; ``head`` the canonical noun ("sphere", "object")."""

    node: Call
    head: str
    start: int
    end: int
    relations: int


def read_noun_phrase(phrases: list[Phrase], i: int, *, nested: bool = False) -> NounPhrase | None:
    """The noun phrase starting at phrase ``i`` with everything said of it, or None where none starts there."""
    start = i
    definite = False  # "balls", "a ball": any of them
    if i < len(phrases) and phrases[i].text in DEFINITE_WORDS | INDEFINITE_WORDS:
        definite = phrases[i].text in DEFINITE_WORDS
        i += 1
    elif i + 1 < len(phrases) and phrases[i].text == "one" and (_noun(phrases[i + 1]) or _value(phrases[i + 1])):
        i += 1  # "one object behind the cylinder"
    conds: list[Node] = []
    while i < len(phrases) and _value(phrases[i]) is not None and not _noun(phrases[i]):
        conds.append(Word(_value(phrases[i]) or ""))
        i += 1
    if i >= len(phrases) or _noun(phrases[i]) is None:
        return None
    head = _noun(phrases[i]) or ""
    conds.append(Word(head))
    i += 1
    relations = 0
    while i < len(phrases):
        j = i
        if phrases[j].text == "and":
            if nested:
                break
            j += 1
        while j < len(phrases) and phrases[j].text in CONNECTORS:
            j += 1
        if j < len(phrases) and phrases[j].text == "made of" and j + 1 < len(phrases):
            j += 1  # "made of rubber": the value says it
        if j >= len(phrases):
            break
        p = phrases[j]
        if _relation(p) is not None:
            target = read_noun_phrase(phrases, j + 1, nested=True)
            if target is None:
                break
            conds.append(Call(_relation(p) or "", (target.node,)))
            relations += 1 + target.relations
            i = target.end
        elif _value(p) is not None and not _noun(p) and j > i:  # "the cube that is red"
            conds.append(Word(_value(p) or ""))
            i = j + 1
        else:
            break
    return NounPhrase(Call("the" if definite else "all", tuple(conds)), head, start, i, relations)


def longest_chain(phrases: list[Phrase]) -> NounPhrase | None:
    """The noun phrase with a relation that spans the most phrases (the first among equals); None if none has."""
    best: NounPhrase | None = None
    for i in range(len(phrases)):
        np = read_noun_phrase(phrases, i)
        if np is not None and np.relations and (best is None or np.end - np.start > best.end - best.start):
            best = np
    return best


def _value(p: Phrase) -> str | None:
    values = p.of("value")
    if len(values) != 1 or p.of("relation", "key"):
        return None
    value = values[0].value
    return str(value[1]) if isinstance(value, tuple) else None


def _noun(p: Phrase) -> str | None:
    if p.of("relation", "form"):
        return None
    labels = p.of("label")
    if len(labels) == 1:
        return str(labels[0].value)
    if p.of("generic") and not p.of("key", "number"):
        return "thing"
    return None


def _relation(p: Phrase) -> str | None:
    relations = p.of("relation")
    if len(relations) != 1 or set(p.text.split()) & {"it", "its", "them", "their"}:
        return None
    return str(relations[0].value)
