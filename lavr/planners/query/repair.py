"""The repairs lavr makes to a written program itself, each only where there is one place it can go; the
repaired program is checked against the question like any other:

- a set that names no kind of thing gets the one noun the question says and the program left out ("How many people
  have fallen?" written ``count(all(fallen))``);
- the one image a program names becomes every image where the question takes its images as one and that is all
  the program left out ("Is there a cylinder in either image?" written ``exists(all(cylinder, img_0))``, seen twice
  in a row after the feedback);
- a yes/no program about one image is asked of each image, joined by and, where the question asks it of each
  ("Is there a sphere in each of the three images?" written ``exists(all(sphere, img_0))``);
- "Is the A <relation> the B?", said in nothing but those words, is ``is(the(A), relation(the(B)))`` where the
  written program put the relation on the wrong one ("Is the small shape left of the large blue shape?" written
  ``exists(all(shape, left_of(the(small, shape)), ...))``);
- two images compared in the other order than the question names them are turned round;
- a relation the program made a condition of another thing than the question says it of moves to the one set that
  is what the question says ("the cylinder right of the blue object that is behind the blue cylinder" written
  ``the(cylinder, right_of(the(blue, object)), behind(...))``: behind(...) moves into the(blue, object, ...))."""

from __future__ import annotations

import re

from ...lexicon import Phrase, Reading
from ...tools.query import Scene
from ...tools.query.errors import QueryError
from ...tools.query.executor import ALL_IMAGES, Typed, check_program
from ...tools.query.program import Call, Node, Word, text
from .checks import (
    DEFINITE,
    EACH_HINT,
    QuestionReading,
    Verdict,
    head_label,
    misplaced_relations,
    misplaced_subjects,
    relation_subjects,
    reversed_comparisons,
    said_of,
    said_subjects,
)

IMAGE_ID = re.compile(r"img_[0-9]+")


def with_missing_noun(typed: Typed, verdict: Verdict, phrases: dict[str, list[Reading]], scene: Scene) -> str | None:
    """The program with the one left-out noun put in its one set without a noun; None where that is not so.

    ``phrases``: the readings of the question's phrases, by their text (the verdict names phrases by text)."""
    if verdict.invented or verdict.misplaced or verdict.form or len(verdict.missing) != 1:
        return None
    labels = {r.value for r in phrases.get(verdict.missing[0], []) if r.kind == "label"}
    if len(labels) != 1 or any(r.kind not in ("label", "generic", "function")
                               for r in phrases.get(verdict.missing[0], [])):
        return None
    label = str(next(iter(labels)))
    if label not in scene.vocabulary.labels:
        return None
    headless = [t for t in typed.walk() if t.op is not None and t.op.family == "set" and head_label(t) is None]
    if len(headless) != 1:
        return None
    return text(_insert(typed.node, headless[0].node, Word(label)))


def _insert(node: Node, target: Node, word: Word) -> Node:
    if node is target and isinstance(node, Call):
        return Call(node.op, (word, *node.args))
    if isinstance(node, Call):
        return Call(node.op, tuple(_insert(a, target, word) for a in node.args))
    return node


def with_every_image(typed: Typed, verdict: Verdict, scene: Scene) -> str | None:
    """The program with its one image as every image (``all_images``), where every phrase it left out is one the
    check would have it write as all_images; None where that is not so."""
    if verdict.invented or verdict.misplaced or verdict.form or not verdict.missing or len(scene.images) < 2:
        return None
    if any(verdict.hints.get(m) != [ALL_IMAGES] for m in verdict.missing):
        return None
    named = _images(typed)
    if len(named) == 1:
        return text(_replace(typed.node, next(iter(named)), Word(ALL_IMAGES)))
    sets = [t for t in typed.walk() if t.op is not None and t.op.family == "set"]
    if not named and len(sets) == 1:  # "Does either image contain a blue object?" as exists(all(blue, anything))
        return text(_insert(typed.node, sets[0].node, Word(ALL_IMAGES)))
    return None


def with_each_image(typed: Typed, verdict: Verdict, scene: Scene) -> str | None:
    """A yes/no program about one image asked of each image and joined by and, where the question asks it of each
    image ("Is there a sphere in each of the three images?" written ``exists(all(sphere, img_0))``, seen twice)
    and that is all it left out; None where that is not so."""
    if verdict.invented or verdict.misplaced or verdict.form or not verdict.missing or len(scene.images) < 2:
        return None
    if typed.type != "bool" or any(not verdict.hints.get(m, [""])[0].endswith(EACH_HINT) for m in verdict.missing):
        return None
    template = _one_image_program(typed.node) or _union_of_all_images(typed.node, scene.images)
    if template is None:
        return None
    node, one = template
    parts = [_replace(node, one, Word(image)) for image in scene.images]
    joined = parts[-1]
    for part in reversed(parts[:-1]):
        joined = Call("and", (part, joined))
    return text(joined)


def _one_image_program(node: Node) -> tuple[Node, str] | None:
    """(program, its image) where ``node`` asks about one image, or is that question asked of some of the images
    joined by and ("all three images" written for two of them); None otherwise."""
    named = _node_images(node)
    if len(named) == 1:
        return node, next(iter(named))
    parts = _and_parts(node)
    if len(parts) < 2:
        return None
    first = _node_images(parts[0])
    if len(first) != 1:
        return None
    one = next(iter(first))
    seen: set[str] = set()
    for part in parts:
        images = _node_images(part)
        if len(images) != 1 or images & seen:
            return None
        seen |= images
        if _replace(part, next(iter(images)), Word(one)) != parts[0]:
            return None
    return parts[0], one


def _union_of_all_images(node: Node, images: list[str]) -> tuple[Node, str] | None:
    """(program, its image) where the one set of ``node`` that names images takes every image as one
    (``all_images``, or each image listed: "in both pictures" written ``exists(all(cyan, cylinder, img_0, img_1))``,
    seen four times in a row), with that set about the first image alone; None otherwise."""
    sets = [n for n in _calls(node) if n.op in ("all", "the") and any(_is_image_word(a) for a in n.args)]
    if len(sets) != 1:
        return None
    named = {a.text for a in sets[0].args if isinstance(a, Word) and _is_image_word(a)}
    if named != {ALL_IMAGES} and named != set(images):
        return None
    one = Call(sets[0].op, (*(a for a in sets[0].args if not _is_image_word(a)), Word(images[0])))
    return _swap(node, sets[0], one), images[0]


def _is_image_word(node: Node) -> bool:
    return isinstance(node, Word) and (node.text == ALL_IMAGES or bool(IMAGE_ID.fullmatch(node.text)))


def _calls(node: Node) -> list[Call]:
    if not isinstance(node, Call):
        return []
    return [node, *(c for a in node.args for c in _calls(a))]


def _swap(node: Node, old: Node, new: Node) -> Node:
    if node is old:
        return new
    if isinstance(node, Call):
        return Call(node.op, tuple(_swap(a, old, new) for a in node.args))
    return node


def _and_parts(node: Node) -> list[Node]:
    if isinstance(node, Call) and node.op == "and" and len(node.args) == 2:
        return _and_parts(node.args[0]) + _and_parts(node.args[1])
    return [node]


def _node_images(node: Node) -> set[str]:
    if isinstance(node, Word):
        return {node.text} if IMAGE_ID.fullmatch(node.text) else set()
    if isinstance(node, Call):
        return set().union(*(_node_images(a) for a in node.args)) if node.args else set()
    return set()


def _images(typed: Typed) -> set[str]:
    return {str(r.value) for t in typed.walk() if t.op is None for r in t.readings if r.kind == "image_id"}


def _replace(node: Node, image: str, word: Word) -> Node:
    if isinstance(node, Word) and node.text == image:
        return word
    if isinstance(node, Call):
        return Call(node.op, tuple(_replace(a, image, word) for a in node.args))
    return node


INDEFINITE = frozenset({"a", "an", "any", "some"})


def relation_of_the_subject(q: QuestionReading) -> str | None:
    """``is(the(A), relation(the(B)))`` for a yes/no question that says only "Is the A <relation> the B?" (any
    words of no content around them); None for any other question."""
    if q.form() != "bool" or q.offers_choice():
        return None
    phrases = q.asking_clause()
    content = {id(p) for p in q.content}
    groups: list[tuple[str, list[str]]] = []  # (determiner, words) of the two noun phrases
    relation: str | None = None
    i = 0
    while i < len(phrases):
        p = phrases[i]
        if (p.text in DEFINITE or p.text in INDEFINITE) and i + 1 < len(phrases) and _noun_phrase_start(phrases[i + 1]):
            words, i = _noun_phrase(phrases, i + 1)
            if words is None:
                return None
            groups.append((p.text, words))
            continue
        relations = p.of("relation")
        if relations and len(groups) == 1 and relation is None:
            relation = str(relations[0].value)
        elif id(p) in content:
            return None  # any other word with content: not the simple question
        i += 1
    if relation is None or len(groups) != 2 or groups[0][0] not in DEFINITE:
        return None
    (_, subject), (det, target) = groups
    inner = f"the({', '.join(target)})" if det in DEFINITE else f"all({', '.join(target)})"
    return f"is(the({', '.join(subject)}), {relation}({inner}))"


def _noun_phrase_start(p: Phrase) -> bool:
    return bool(p.of("value", "label", "generic")) and not p.of("relation")


def _noun_phrase(phrases: list[Phrase], i: int) -> tuple[list[str] | None, int]:
    """The words of values ending in a noun from ``i`` ("small green shape"), and the index after the noun."""
    words: list[str] = []
    while i < len(phrases):
        p = phrases[i]
        if p.of("label", "generic") and not p.of("relation"):
            return [*words, p.text], i + 1
        if not p.of("value") or p.of("relation"):
            return None, i
        words.append(p.text)
        i += 1
    return None, i


def with_relations_moved(typed: Typed, q: QuestionReading, *, moves: int = 3) -> str | None:
    """The program with each relation the question says of another thing than the program does moved into the one
    set of the program that is that thing (a chain of three relations written flat needs two moves), at most
    ``moves`` of them; None where there is nothing to move, or not exactly one place for one. The repaired program
    is checked again like any other."""
    moved: str | None = None
    for _ in range(moves):
        one = _move_one_relation(typed, q)
        if one is None:
            break
        moved = one
        try:
            typed = check_program(one, q.scene)
        except QueryError:
            break
    return moved


def _move_one_relation(typed: Typed, q: QuestionReading) -> str | None:
    said = said_subjects(q)
    for subject, relation in relation_subjects(typed):
        assert relation.op is not None
        subjects = said.get(relation.op.name)
        if not subjects or len(subjects) != 1 or subjects[0] is None or head_label(subject) is None:
            continue
        noun = subjects[0]
        if said_of(noun, subject, typed):
            continue
        if relation not in subject.args or subject.op is None or subject.op.family != "set":
            return None  # under not/or, or the object of is(...): no one place to take it from
        inside = {id(t) for t in relation.walk()}
        targets = [t for t in subject.walk() if t is not subject and id(t) not in inside
                   and t.op is not None and t.op.family == "set" and said_of(noun, t, typed)]
        if len(targets) != 1:
            return None
        return text(_move(typed.node, subject.node, targets[0].node, relation.node))
    return None


def _move(node: Node, source: Node, target: Node, item: Node) -> Node:
    """``node`` with ``item`` taken out of ``source``'s arguments and put last in ``target``'s (inside source)."""
    if not isinstance(node, Call):
        return node
    if node is source:
        return Call(node.op, tuple(_move(a, source, target, item) for a in node.args if a is not item))
    if node is target:
        return Call(node.op, (*(_move(a, source, target, item) for a in node.args), item))
    return Call(node.op, tuple(_move(a, source, target, item) for a in node.args))


def with_images_in_question_order(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program with each comparison of two images turned to the question's order ("Does the second image have
    more rubber objects than the third?" written more(count(... img_2), count(... img_1)), seen twice in a row),
    where that is all that is wrong; None otherwise."""
    if verdict.missing or verdict.invented or verdict.form or not verdict.misplaced \
            or misplaced_relations(q, typed) or misplaced_subjects(q, typed):
        return None
    swaps = [t.node for t, _, _ in reversed_comparisons(q, typed)]
    if not swaps:
        return None
    node = typed.node
    for old in swaps:
        assert isinstance(old, Call)
        node = _swap(node, old, Call(old.op, (old.args[1], old.args[0])))
    return text(node)
