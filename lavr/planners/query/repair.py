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
  ``the(cylinder, right_of(the(blue, object)), behind(...))``: behind(...) moves into the(blue, object, ...));
- an "or" between two noun phrases is built from the question's own words where the program took one side's words
  out of it ("How many items are either red cylinders or gray balls?" written ``all(red, cylinders, or(gray,
  balls))`` is ``all(items, or(and(red, cylinders), and(gray, balls)))``);
- the(X) as the object of a relation becomes all(X) where the question only says "a X" ("Is anyone wearing a tie?"
  written ``exists(all(person, contains(the(tie))))``);
- "The first picture has a cube; does the other one have one too?" written about the first image is asked of the
  other (of two images);
- a yes/no "Is there an X that isn't Y?" written not(exists(all(X, not(Y)))) loses the outer not (one not said,
  two written);
- "Is the rightmost thing a cube?" written ``is(rightmost(all(cube)), cube)``: the set the extreme is taken of
  loses the word the question asks about;
- "the second closest" written with the extreme alone (``frontmost(S)``) is the n-th from that side
  (``from_front(S, 2)``);
- "only shiny objects" written ``which_every(all(shiny, object), all_images)`` says every one is shiny:
  ``which_every(all(object), shiny)``;
- "Is the number of small things the same in both pictures?" written with one side about no image
  (``equal(count(all(small, things)), count(all(small, things, img_0)))``) compares the two images;
- "Is there anything that is both green and rubber?" written ``and(exists(all(green, thing)), exists(all(rubber,
  thing)))`` is one set that is both: ``exists(all(green, thing, rubber))``;
- "the two X" compared by one property, written as the same thing twice (``equal(size(the(cube)),
  size(the(cube)))`` for "Do the two cubes have the same size?", seen eight times), is ``alike_size(all(cube))``;
- words a set repeats from the thing its "same" compares with, more often than the question says them, are taken
  out of that set ("There is a small red cylinder; what color is the other cylinder of the same size?" written
  ``color(the(small, red, cylinder, same_size(the(small, red, cylinder))))``)."""

from __future__ import annotations

import re

from ...lexicon import GENERIC, Phrase, Reading, lexicon
from ...tools.query import Scene
from ...tools.query.errors import QueryError
from ...tools.query.executor import ALL_IMAGES, Typed, check_program
from ...tools.query.ops import EXTREMES, ORDINALS
from ...tools.query.program import Call, Node, Number, Word, text
from .checks import (
    COMPARED_HINT,
    DEFINITE,
    EACH_HINT,
    INDEFINITE,
    ORDINAL_EXTREMES,
    QuestionReading,
    Verdict,
    alike_for_same_as,
    both_of_one_thing,
    contradictions,
    head_label,
    indefinite_targets,
    misplaced_or_sides,
    misplaced_relations,
    misplaced_subjects,
    overused,
    premise_of_the_pronoun,
    relative_not,
    reversed_comparisons,
    said_of,
    unsaid_relations,
)
from .noun_phrases import INDEFINITE_WORDS, longest_chain, read_noun_phrase

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
    for subject, relation, nouns in unsaid_relations(q, typed):
        if len(nouns) != 1:
            continue
        noun = nouns[0]
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


def without_words_of_the_compared(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program with the conditions of a set that only repeat words of the thing its same_*(...) compares with,
    and that the program names more often than the question says, taken out; None where that is not all that is
    wrong or there is no such condition."""
    if verdict.missing or verdict.misplaced or verdict.form:
        return None
    extra = dict(overused(q, typed))
    if not extra:
        return None
    for t in typed.walk():
        if t.op is None or t.op.family != "set":
            continue
        compared = [a for a in t.args if a.op is not None and a.op.family == "same"]
        if len(compared) != 1:
            continue
        reference = {r for n in compared[0].walk() for r in n.readings if r.kind in ("label", "value")}
        drop = []
        for a in t.args:
            if a is compared[0]:
                continue
            named = [r for n in a.walk() for r in n.readings if r.kind in ("label", "value")]
            only_words = all(n.op is None or n.op.name in ("and", "not", "or") for n in a.walk())
            if named and only_words and set(named) <= reference and all(extra.get(r, 0) > 0 for r in named):
                drop.append(a.node)
                for r in set(named):
                    extra[r] -= 1
        if drop:
            return text(_without(typed.node, t.node, drop))
    return None


def _without(node: Node, parent: Node, items: list[Node]) -> Node:
    if not isinstance(node, Call):
        return node
    if node is parent:
        return Call(node.op, tuple(a for a in node.args if not any(a is i for i in items)))
    return Call(node.op, tuple(_without(a, parent, items) for a in node.args))


def with_or_sides_from_the_question(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program's one or(...) inside a set rebuilt from the words right before and right after the question's
    one "or" (each side its run of kinds and properties), those words taken out of the set around it, where that
    is all that is wrong; None otherwise. The repaired program is checked again like any other."""
    if verdict.form or verdict.misplaced and len(verdict.misplaced) != len(misplaced_or_sides(q, typed)):
        return None
    ors = [i for i, p in enumerate(q.phrases) if p.text == "or"]
    sets = [t for t in typed.walk() if t.op is not None and t.op.family == "set"
            and any(a.op is not None and a.op.name == "or" for a in t.args)]
    if len(ors) != 1 or len(sets) != 1:
        return None
    before, after = _run(q.phrases, ors[0], -1), _run(q.phrases, ors[0] + 1, 1)
    if not before or not after:
        return None
    said = {r for p in before + after for r in p.of("label", "value")}
    group = sets[0]
    kept = [a.node for a in group.args if not (a.op is None and set(a.readings) & said)
            and not (a.op is not None and a.op.name == "or")]
    if not any(isinstance(n, Word) for n in kept):
        kept.insert(0, Word("things"))  # a set names what it counts; "things" is any object
    side = [_joined([p.text for p in before]), _joined([p.text for p in after])]
    assert isinstance(group.node, Call)
    return text(_swap(typed.node, group.node, Call(group.node.op, (*kept, Call("or", tuple(side))))))


def with_the_or_side_left_out(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """For a program with no or(...) that says one side of the question's one "or" in a set and leaves out every
    word of the other ("a yellow cylinder or a red cube" written as all(yellow, cylinder)): that set with both
    sides in one or(...), where that is all that is wrong; None otherwise. Checked again like any other."""
    if verdict.invented or verdict.misplaced or verdict.form or verdict.every_one or not verdict.missing:
        return None
    if any(t.op is not None and t.op.name == "or" for t in typed.walk()):
        return None
    ors = [i for i, p in enumerate(q.phrases) if p.text == "or"]
    if len(ors) != 1:
        return None
    start = ors[0] + 1
    while start < len(q.phrases) and q.phrases[start].text in INDEFINITE_WORDS:
        start += 1
    before, after = _run(q.phrases, ors[0], -1), _run(q.phrases, start, 1)
    if not before or not after:
        return None
    if all(p.of("value") and not p.of("label", "generic") for p in before) and len(after) > 1 \
            and after[-1].of("label", "generic") and not after[-1].of("value"):
        after = after[:-1]  # "blue or green cubes": the noun is both sides', the set keeps it
    sets = [t for t in typed.walk() if t.op is not None and t.op.family == "set"]
    for said, left_out in ((before, after), (after, before)):
        if {p.text for p in left_out} != set(verdict.missing):
            continue
        wanted = {r for p in said for r in p.of("label", "value")}
        holding = [t for t in sets if wanted <= {r for a in t.args if a.op is None for r in a.readings}]
        if len(holding) != 1:
            return None
        group = holding[0]
        kept = [a.node for a in group.args if not (a.op is None and set(a.readings) & wanted)]
        if not any(isinstance(n, Word) for n in kept):
            kept.insert(0, Word("things"))  # a set names what it counts; "things" is any object
        side = [_joined([p.text for p in before]), _joined([p.text for p in after])]
        assert isinstance(group.node, Call)
        return text(_swap(typed.node, group.node, Call(group.node.op, (*kept, Call("or", tuple(side))))))
    return None


def with_the_and_side_left_out(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """"Are there a matte cylinder and a shiny cube?" written exists(all(matte, cylinder)): each noun phrase
    either side of the question's one "and" asked, joined by and(...), where all the program left out is the other
    side's words; None otherwise."""
    if verdict.invented or verdict.misplaced or verdict.form or verdict.every_one or not verdict.missing \
            or q.form() != "bool":
        return None
    ands = [i for i, p in enumerate(q.phrases) if p.text == "and"]
    node = typed.node
    if len(ands) != 1 or not (isinstance(node, Call) and node.op == "exists" and isinstance(node.args[0], Call)):
        return None
    start = ands[0] + 1
    while start < len(q.phrases) and q.phrases[start].text in INDEFINITE_WORDS:
        start += 1
    before, after = _run(q.phrases, ands[0], -1), _run(q.phrases, start, 1)
    if not before or not after or not all(p[-1].of("label", "generic") for p in (before, after)):
        return None
    said = {r for a in node.args[0].args if isinstance(a, Word) for r in lexicon().lookup(tuple(a.text.split()))}
    for kept, left_out in ((before, after), (after, before)):
        if {p.text for p in left_out} == set(verdict.missing) and \
                all(set(p.of("label", "value")) & said for p in kept if p.of("label", "value")):
            sides = [Call("exists", (Call("all", tuple(Word(p.text) for p in side)),)) for side in (before, after)]
            return text(Call("and", tuple(sides)))
    return None


def without_conditions_said_twice(typed: Typed, verdict: Verdict) -> str | None:
    """The program with each condition a set says twice over said once ("the cylinder that isn't made of rubber"
    written the(cylinder, not(matte), not(rubber)); and(c, c) is c), where all that is wrong is words or nots said
    more often than the question says them; None where nothing is said twice or something else is wrong."""
    if verdict.missing or verdict.misplaced or verdict.form or verdict.every_one or not verdict.invented \
            or not all(_said_too_often(m) for m in verdict.invented):
        return None
    once = _once(typed.node)
    return text(once) if once != typed.node else None


def _said_too_often(problem: str) -> bool:
    return problem.endswith("(more often than the question says it)") or \
        bool(re.fullmatch(r"not \d+ times \(the question says it \d+ times?\)", problem))


def _once(node: Node) -> Node:
    if not isinstance(node, Call):
        return node
    args = tuple(_once(a) for a in node.args)
    if node.op == "and" and len(args) == 2 and _meaning(args[0]) == _meaning(args[1]):
        return args[0]
    if node.op in ("all", "the"):
        seen: set[object] = set()
        kept = []
        for a in args:
            key = _meaning(a)
            if isinstance(a, Call) or _is_value(a.text if isinstance(a, Word) else ""):
                if key in seen:
                    continue
                seen.add(key)
            kept.append(a)
        args = tuple(kept)
    return Call(node.op, args)


def _meaning(node: Node) -> object:
    """What a condition says, whatever its words: not(matte) and not(rubber) say the same."""
    if isinstance(node, Word):
        readings = lexicon().lookup(tuple(node.text.split()))
        return frozenset((r.kind, r.value) for r in readings) or node.text
    if isinstance(node, Call):
        return (node.op, tuple(_meaning(a) for a in node.args))
    return node


def with_the_premise_for_its_pronoun(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """"There is an object left of the blue cube; how many objects are in front of it?": the thing the first
    sentence says is there, ``the(object, left_of(the(blue, cube)))``, as what the asked relation is said to, and
    the premise's relation taken from wherever else the program put it; None where the question has no such
    premise or something else is wrong."""
    premise = premise_of_the_pronoun(q)
    if premise is None or verdict.form or verdict.every_one:
        return None
    thing: Node = premise.thing
    # where the program has no asked relation, the premise's relation stands in its place ("the sphere in front
    # of it" written the(sphere, right_of(the(gray, cylinder))))
    stand_in = [not any(c.op == premise.asked for c in _calls(typed.node))]

    def rebuilt(node: Node) -> Node:
        if not isinstance(node, Call):
            return node
        if node.op == premise.asked and len(node.args) == 1:
            return Call(node.op, (thing,))
        args: list[Node] = []
        for a in node.args:
            if node.op in ("all", "the") and isinstance(a, Call) and a.op == premise.relation \
                    and premise.relation != premise.asked:
                if stand_in[0]:
                    args.append(Call(premise.asked, (thing,)))
                    stand_in[0] = False
                continue
            args.append(rebuilt(a))
        return Call(node.op, tuple(args))

    repaired = _once(rebuilt(typed.node))  # the premise's relation may be the asked one: said once
    return text(repaired) if repaired != typed.node else None


def with_the_noun_phrase_read(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program's outermost set of the question's longest noun phrase with relations, replaced by that noun
    phrase as read from the question (``noun_phrases.longest_chain``), its images kept; None where the question
    has no such phrase, the program no set of its noun, or the program's form is wrong."""
    if verdict.form or verdict.every_one:
        return None
    chain = longest_chain(q.asking_clause())
    if chain is None:
        return None
    for t in typed.walk():
        if t.op is None or t.op.name not in ("the", "all"):
            continue
        head = head_label(t)
        if head is None or (head != chain.head and not (head == GENERIC and chain.head == "thing")):
            continue
        assert isinstance(t.node, Call)
        images = [a for a in t.node.args if _is_image_word(a)]
        new = Call(t.node.op, (*chain.node.args, *images))
        return text(_swap(typed.node, t.node, new)) if new != t.node else None
    return None


def with_each_image_asked_apart(typed: Typed) -> str | None:
    """exists(all(X..., and(img_a, img_b))) as and(exists(all(X..., img_a)), exists(all(X..., img_b))): "in both
    the first and the second image" asks each image; None where the program has no such set."""
    for n in _calls(typed.node):
        if n.op != "exists" or len(n.args) != 1 or not isinstance(n.args[0], Call):
            continue
        group = n.args[0]
        both = [a for a in group.args if isinstance(a, Call) and a.op == "and" and len(a.args) == 2
                and all(_is_image_word(b) and b.text != ALL_IMAGES for b in a.args if isinstance(b, Word))
                and all(isinstance(b, Word) for b in a.args)]
        if len(both) != 1:
            continue
        rest = tuple(a for a in group.args if a is not both[0])
        each = tuple(Call("exists", (Call(group.op, (*rest, image)),)) for image in both[0].args)
        return text(_swap(typed.node, n, Call("and", each)))
    return None


def with_the_not_in_the_set(typed: Typed, q: QuestionReading) -> str | None:
    """not(exists(all(X..., v))) as exists(all(X..., not(v))) where the question says "X that are not v"; None
    otherwise."""
    said = relative_not(q)
    if said is None or not isinstance(typed.node, Call) or typed.node.op != "not":
        return None
    inner = typed.node.args[0]
    if not (isinstance(inner, Call) and inner.op in ("exists", "count") and isinstance(inner.args[0], Call)):
        return None
    group = inner.args[0]
    wanted = set(said.readings)
    hits = [a for a in group.args if isinstance(a, Word) and set(lexicon().lookup(tuple(a.text.split()))) & wanted]
    if len(hits) != 1:
        return None
    rest = tuple(Call("not", (a,)) if a is hits[0] else a for a in group.args)
    return text(Call(inner.op, (Call(group.op, rest),)))


def without_the_contradiction(typed: Typed) -> str | None:
    """A set's not(c) taken out where the set also says c (``checks.contradictions``); None where none says both."""
    said = set(contradictions(typed))
    if not said:
        return None

    def rebuilt(node: Node) -> Node:
        if not isinstance(node, Call):
            return node
        args = [rebuilt(a) for a in node.args]
        if node.op in ("all", "the"):
            args = [a for a in args if not (isinstance(a, Call) and a.op == "not" and text(a.args[0]) in said)]
        return Call(node.op, tuple(args))

    return text(rebuilt(typed.node))


def with_two_things_compared(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """"The blue cylinder and the blue ball, are they the same size?", "red cylinder and purple cylinder same size":
    two noun phrases joined by "and", then "same" (or "different") and one attribute key, as
    ``equal(K(the(A)), K(the(B)))`` (under not for "different"), each noun phrase read off the question; None
    for a question of any other shape."""
    if verdict.every_one:
        return None
    phrases = q.asking_clause()
    same = [i for i, p in enumerate(phrases) if p.of("same")]
    keys = {str(r.value) for p in phrases for r in p.of("key") if not p.of("label")}
    ands = [i for i, p in enumerate(phrases) if p.text == "and"]
    if len(same) != 1 or len(keys) != 1 or len(ands) != 1 or ands[0] > same[0]:
        return None
    second = read_noun_phrase(phrases, ands[0] + 1, nested=True)
    first = next((np for i in range(ands[0]) if (np := read_noun_phrase(phrases, i, nested=True)) is not None
                  and np.end == ands[0]), None)
    if first is None or second is None:
        return None
    key = keys.pop()
    compared = Call("equal", tuple(Call(key, (Call("the", np.node.args),)) for np in (first, second)))
    different = Reading("same", "different") in phrases[same[0]].readings or any(
        p.of("logic") and Reading("logic", "not") in p.readings for p in phrases[same[0] - 1:same[0]])
    program = text(Call("not", (compared,)) if different else compared)
    return program if program != text(typed.node) else None


def with_the_nots_the_question_says(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """Where all that is wrong is a not (or a word) said more often than the question says it, each not(c) of a
    set whose c is not what the question's negation is said of becomes c ("How many things besides the cubes are
    made of metal?" written all(things, not(metal), not(cubes))), then what is said twice is said once; None where
    nothing changes."""
    if verdict.missing or verdict.misplaced or verdict.form or verdict.every_one or not verdict.invented \
            or not all(_said_too_often(m) for m in verdict.invented):
        return None
    negated: set[Reading] = set()
    for i, p in enumerate(q.phrases):
        if Reading("logic", "not") not in p.readings:
            continue
        nxt = next((x for x in q.phrases[i + 1:] if x.text not in INDEFINITE_WORDS | {"the"}), None)
        if nxt is not None:
            negated |= set(nxt.of("label", "value"))
    if not negated:
        return None

    def said_not(node: Node) -> bool:
        return bool(set(lexicon().lookup(tuple(node.text.split()))) & negated) if isinstance(node, Word) else \
            isinstance(node, Call) and any(said_not(a) for a in node.args)

    def rebuilt(node: Node) -> Node:
        if not isinstance(node, Call):
            return node
        if node.op == "not" and len(node.args) == 1 and not said_not(node.args[0]):
            return rebuilt(node.args[0])
        return Call(node.op, tuple(rebuilt(a) for a in node.args))

    repaired = _once(rebuilt(typed.node))
    return text(repaired) if repaired != typed.node else None


def with_the_other_position(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """"Is the purple cube in the upper right corner?" written is(the(purple, cube), top): the positions the
    program left out go next to the one position it wrote (a corner is two of them); None where anything else is
    wrong or the program wrote no position, or more than one place has one. A program that wrote the first from
    that side instead ("the thing on the left side of the picture" as from_left(all(object), 1)) gets the one
    there, the(...)."""
    extremes = set(ORDINALS) | set(EXTREMES)
    other = [m for m in verdict.invented if m.split()[0] not in extremes]
    if other or verdict.misplaced or verdict.form or verdict.every_one or not verdict.missing:
        return None
    by_text = {p.text: p for p in q.phrases}
    left_out = [by_text.get(m) for m in verdict.missing]
    if not all(p is not None and any(r.value[0] == "position" for r in p.of("value")) for p in left_out):
        return None
    words = [Word(str(r.value[1])) for p in left_out if p is not None for r in p.of("value")[:1]]

    def positional(node: Node) -> bool:
        return isinstance(node, Word) and any(r.kind == "value" and r.value[0] == "position"
                                              for r in lexicon().lookup(tuple(node.text.split())))

    places = [n for n in _calls(typed.node) if any(positional(a) for a in n.args)]
    if not places:  # "the thing on the left side of the picture" written as the leftmost thing: the one there
        firsts = [n for n in _calls(typed.node) if (n.op in ORDINALS and len(n.args) == 2
                                                    and n.args[1] == Number(1)) or n.op in EXTREMES]
        if len(firsts) == 1 and isinstance(firsts[0].args[0], Call) and firsts[0].args[0].op == "all":
            return text(_swap(typed.node, firsts[0], Call("the", (*firsts[0].args[0].args, *words))))
        return None
    if len(places) != 1 or verdict.invented:
        return None
    place = places[0]
    if place.op in ("all", "the"):
        return text(_swap(typed.node, place, Call(place.op, (*place.args, *words))))
    if place.op == "is" and len(place.args) == 2 and positional(place.args[1]):
        both: Node = place.args[1]
        for w in words:
            both = Call("and", (both, w))
        return text(_swap(typed.node, place, Call("is", (place.args[0], both))))
    return None


def with_same_as_for_alike(typed: Typed, q: QuestionReading) -> str | None:
    """``alike_K(all(X...))`` where the question compares other things with one ("Is anything else made of the same
    material as the metal sphere?"): exists(all(thing, same_K(the(X...)))), or a count where it asks how many;
    None otherwise."""
    if not alike_for_same_as(q, typed):
        return None
    node = typed.node
    if not (isinstance(node, Call) and node.op.startswith("alike_") and isinstance(node.args[0], Call)):
        return None
    key = node.op.removeprefix("alike_")
    others = Call("all", (Word("thing"), Call(f"same_{key}", (Call("the", node.args[0].args),))))
    return text(Call("count" if q.form() == "count" else "exists", (others,)))


def _run(phrases: list[Phrase], start: int, step: int) -> list[Phrase]:
    """The noun phrase next to ``start`` going ``step``: its kinds, properties and a noun of no kind ("purple things",
    "gray balls"), not past "either", a relation or anything else, ending at its noun going right; in the
    question's order, and [] where it names no kind and no property."""
    out: list[Phrase] = []
    i = start + (step if step < 0 else 0)
    while 0 <= i < len(phrases):
        p = phrases[i]
        if p.text == "either" or p.of("relation") or not p.of("label", "value", "generic"):
            break
        out.append(p)
        if step > 0 and p.of("label", "generic") and not p.of("value"):
            break  # the noun ends the phrase
        i += step
    if not any(p.of("label", "value") for p in out):
        return []
    return out[::-1] if step < 0 else out


def _joined(words: list[str]) -> Node:
    node: Node = Word(words[-1])
    for w in reversed(words[:-1]):
        node = Call("and", (Word(w), node))
    return node


def with_any_for_a(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program with each the(X) a relation is said to that the question calls "a X" as all(X), where that is
    all that is wrong; None otherwise."""
    targets = indefinite_targets(q, typed)
    if verdict.missing or verdict.invented or verdict.form or not targets \
            or len(verdict.misplaced) != len(targets):
        return None
    node = typed.node
    for t in targets:
        assert isinstance(t.node, Call)
        node = _swap(node, t.node, Call("all", t.node.args))
    return text(node)


PAIR_WORDS = frozenset({"the two", "both", "these two", "those two", "both of the", "the pair of"})


def with_the_two_alike(typed: Typed, q: QuestionReading) -> str | None:
    """``alike_K(all(X))`` for a question about "the two X" (or "both X") written as ``equal(K(the(X)),
    K(the(X)))`` (under a not for "different"), the same thing twice, maybe with a same_K(...) of itself inside;
    None for any other program."""
    if not any(p.text in PAIR_WORDS for p in q.phrases):
        return None
    node, negated = typed.node, False
    if isinstance(node, Call) and node.op == "not" and len(node.args) == 1:
        node, negated = node.args[0], True
    if not (isinstance(node, Call) and node.op == "equal" and len(node.args) == 2):
        return None
    a, b = node.args
    if not (isinstance(a, Call) and isinstance(b, Call) and a.op == b.op and len(a.args) == len(b.args) == 1):
        return None
    key = a.op
    sets = [a.args[0], b.args[0]]
    if not all(isinstance(x, Call) and x.op == "the" for x in sets):
        return None
    words = [tuple(c for c in x.args  # type: ignore[union-attr]
                   if not (isinstance(c, Call) and c.op.startswith("same_"))
                   and not (isinstance(c, Word) and c.text in ("one", "ones"))) for x in sets]
    if words[0] != words[1] or not words[0] or not all(isinstance(w, Word) for w in words[0]):
        return None
    alike = Call(f"alike_{key}", (Call("all", words[0]),))
    return text(Call("not", (alike,)) if negated else alike)


def with_the_other_image(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """The program about the image an earlier sentence names, asked of the other one where the question asks about
    "the other one" (two images) and that is all that is wrong; None otherwise."""
    other = q.other_than_stated()
    stated = set(q.stated_images())
    asks_other = {p.text for p in q.phrases if Reading("image_picker", "other") in p.readings}
    if not other or not set(verdict.missing) <= asks_other or verdict.invented or verdict.form \
            or len(verdict.misplaced) != 1:
        return None
    if _images(typed) != stated:
        return None
    return text(_replace(typed.node, next(iter(stated)), Word(other[0])))


def without_the_outer_not(typed: Typed, verdict: Verdict) -> str | None:
    """``not(P)`` as P where the program says not once more than the question and P has a not of its own ("Is
    there a block that isn't metallic?" written not(exists(all(block, not(metal))))); None otherwise."""
    if verdict.missing or verdict.misplaced or verdict.form or not any(i.startswith("not ") for i in verdict.invented):
        return None
    node = typed.node
    if isinstance(node, Call) and node.op == "not" and len(node.args) == 1 \
            and any(isinstance(n, Call) and n.op == "not" for n in _calls(node.args[0])):
        return text(node.args[0])
    return None


def without_the_answer_in_the_set(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """``is(E(all(... W ...)), W)`` as ``is(E(all(...)), W)``: the word asked about taken out of the set an extreme
    or ordinal is taken of, where the program says it more often than the question ("Is the leftmost object a
    cylinder?" written is(leftmost(all(cylinder)), cylinder)); "thing" where no other word is left."""
    if verdict.missing or verdict.misplaced or verdict.form or not verdict.invented:
        return None
    node = typed.node
    if not (isinstance(node, Call) and node.op == "is" and len(node.args) == 2 and isinstance(node.args[1], Word)):
        return None
    subject, asked = node.args
    assert isinstance(asked, Word)
    if not (isinstance(subject, Call) and subject.args and isinstance(subject.args[0], Call)
            and subject.args[0].op == "all"):
        return None
    group = subject.args[0]
    if not any(isinstance(a, Word) and a.text == asked.text for a in group.args):
        return None
    if not overused(q, typed):
        return None
    rest = tuple(a for a in group.args if not (isinstance(a, Word) and a.text == asked.text))
    if not any(isinstance(a, Word) for a in rest):
        rest = (Word("thing"), *rest)
    new_subject = Call(subject.op, (Call("all", rest), *subject.args[1:]))
    return text(Call("is", (new_subject, asked)))


def with_the_nth_for_an_extreme(typed: Typed, verdict: Verdict, phrases: dict[str, list[Reading]]) -> str | None:
    """``from_D(S, n)`` for the program's one extreme ``E(S)`` where all it left out is the question's ordinal n
    ("What color is the second closest object to the camera?" written color(frontmost(all(object)))); None
    otherwise. ``phrases``: the readings of the question's phrases, by their text."""
    if verdict.invented or verdict.misplaced or verdict.form or len(verdict.missing) != 1:
        return None
    ordinals = [r.value for r in phrases.get(verdict.missing[0], []) if r.kind == "ordinal"]
    if len(ordinals) != 1 or not isinstance(ordinals[0], int) or ordinals[0] < 2:
        return None
    from_side = {extreme: op for op, extreme in ORDINAL_EXTREMES.items()}
    extremes = [n for n in _calls(typed.node) if n.op in from_side]
    if len(extremes) != 1:
        return None
    one = extremes[0]
    return text(_swap(typed.node, one, Call(from_side[one.op], (*one.args, Number(ordinals[0])))))


def with_every_one_said_of_the_values(typed: Typed) -> str | None:
    """``every(all(V..., N), c)`` (or which_every) whose condition ``c`` is an image or no condition at all, as
    ``every(all(N), V...)``: what every one is, the values the set was written with; None otherwise."""
    for n in _calls(typed.node):
        if n.op not in ("every", "which_every") or len(n.args) != 2 or not isinstance(n.args[0], Call):
            continue
        cond = n.args[1]
        if not (isinstance(cond, Word) and (IMAGE_ID.fullmatch(cond.text) or cond.text == ALL_IMAGES)):
            continue
        group = n.args[0]
        values = [a for a in group.args if isinstance(a, Word) and _is_value(a.text)]
        rest = [a for a in group.args if a not in values]
        if not values or not rest:
            return None
        joined = _joined([v.text for v in values if isinstance(v, Word)])
        return text(_swap(typed.node, n, Call(n.op, (Call(group.op, tuple(rest)), joined))))
    return None


def _is_value(word: str) -> bool:
    kinds = {r.kind for r in lexicon().lookup(tuple(word.split()))}
    return "value" in kinds and not kinds & {"label", "generic"}


def with_one_side_each_image(typed: Typed, verdict: Verdict, scene: Scene) -> str | None:
    """A comparison of one set's count (or value) with itself, one side about no image or both about one, as the
    first image's against the second's, where the question compares the two images and that is all it left out;
    None otherwise."""
    if verdict.invented or verdict.misplaced or verdict.form or not verdict.missing or len(scene.images) != 2:
        return None
    if any(not verdict.hints.get(m, [""])[0].endswith(COMPARED_HINT) for m in verdict.missing):
        return None
    node = typed.node
    if not (isinstance(node, Call) and len(node.args) == 2 and typed.op is not None
            and (typed.op.name == "equal" or typed.op.family == "compare")):
        return None
    sides = [_without_images(a) for a in node.args]
    if sides[0] != sides[1] or _node_images(sides[0]):
        return None
    first, second = (_with_image(sides[0], image) for image in scene.images)
    return text(Call(node.op, (first, second)))


def _without_images(node: Node) -> Node:
    if isinstance(node, Call):
        return Call(node.op, tuple(_without_images(a) for a in node.args if not _is_image_word(a)))
    return node


def _with_image(node: Node, image: str) -> Node:
    """``node`` with ``image`` added to each of its sets (all/the)."""
    if isinstance(node, Call):
        args = tuple(_with_image(a, image) for a in node.args)
        return Call(node.op, (*args, Word(image)) if node.op in ("all", "the") else args)
    return node


def with_one_set_that_is_both(typed: Typed, verdict: Verdict, q: QuestionReading) -> str | None:
    """``exists(all(A..., B...))`` for ``and(exists(all(A...)), exists(all(B...)))`` where the question says one
    thing is "both A and B" and that is all that is wrong; None otherwise."""
    if verdict.missing or verdict.form or not both_of_one_thing(q, typed) or len(verdict.misplaced) != 1 \
            or not all(_said_too_often(m) for m in verdict.invented):  # the thing said on each side: said once
        return None
    node = typed.node
    if not (isinstance(node, Call) and node.op == "and" and len(node.args) == 2):
        return None
    sides = node.args
    if not all(isinstance(a, Call) and a.op == "exists" and isinstance(a.args[0], Call) and a.args[0].op == "all"
               for a in sides):
        return None
    words: list[Node] = []
    for side in sides:
        assert isinstance(side, Call) and isinstance(side.args[0], Call)
        words += [w for w in side.args[0].args if w not in words]
    return text(Call("exists", (Call("all", tuple(words)),)))
