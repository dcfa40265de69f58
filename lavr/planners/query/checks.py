"""Does a program answer the whole question, and only the question? A check of a typed program against the
question's words, read by the one lexicon.

Each phrase of the question either carries no content (articles, "is there", "thing", a picture noun) or must
be accounted for by the program: a label, a value, a relation, a part of the picture, an extreme or ordinal, a
number, an image, a negation, an "or", a comparison, a "same". Conversely every label, value, relation, number and
image the program names must come from the question (or from the earlier questions of a chat, for "them").
And the program must answer in the question's form: a count for "how many", yes or no for "is there",
an image for "which image", a value for "what color".

``Reading`` equality is the lexicon's: "ball" and "sphere" are one label where spheres are known, "shiny" and
"metal" one value. A question with a word the lexicon does not know at all is not understood: no program can
account for it. Where a check fails the planner feeds the problems back once, then answers "cannot tell".
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from ...lexicon import GENERIC, Phrase, Reading, lexicon, tokens
from ...tools.query.evaluation import reading_test
from ...tools.query.executor import Typed
from ...tools.query.ops import Op
from ...tools.query.program import Call, Number, Word, text
from ...tools.query.scene import REGIONS, Scene
from .noun_phrases import read_noun_phrase

# Reading kinds a question's phrase must see in its program (when it has no optional reading that serves).
CONTENT = ("label", "value", "relation", "region", "extreme", "ordinal", "number", "image_picker", "image_id",
           "logic", "compare", "same", "key")


# Readings whose word in the language a feedback names for a phrase left out (one word each: a region, a relation,
# an extreme, a value, a label); a rewrite that did not know how to say a phrase then has the word for it.
HINTED = ("region", "relation", "extreme", "value", "label")


EVERY_IMAGE = Reading("image_picker", "every")
EACH_IMAGE = Reading("image_picker", "each")
EACH_HINT = ", each by name (and(...) of one answer per image)"
COMPARED_HINT = ", one count or value of each image, compared"


def _term(r: Reading) -> str:
    if r in (EVERY_IMAGE, EACH_IMAGE):
        return "all_images"
    return str(r.value[1] if r.kind == "value" else r.value)


@dataclass
class Verdict:
    """What a check found: phrases left out, names the question does not say, a wrong form, unknown words."""

    missing: list[str] = field(default_factory=list)
    # for a phrase left out, the words of the language that say it ("on the right of the picture": right_half)
    hints: dict[str, list[str]] = field(default_factory=dict)
    invented: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    form: str | None = None
    # what a rewrite must not use again (the question says none of it): words by their meaning, ops by name
    not_said: set[Reading] = field(default_factory=set)
    not_said_ops: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    not_detectable: list[str] = field(default_factory=list)
    # "only metal objects", "are all the cubes red" where the program does not say every(...)
    every_one: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.invented or self.misplaced or self.form or self.unknown
                    or self.not_detectable or self.every_one)

    @property
    def fixable(self) -> bool:
        """Whether writing the program again can help (unknown words and undetectable things cannot)."""
        return not (self.unknown or self.not_detectable)

    def feedback(self) -> str:
        """The problems, as the model reads them before writing the program again."""
        parts = []
        if self.missing:
            parts.append("it leaves out " + ", ".join(
                f'"{m}"' + (f" ({' or '.join(self.hints[m])})" if self.hints.get(m) else "") for m in self.missing))
        if self.invented:
            parts.append("it uses " + ", ".join(f'"{m}"' for m in self.invented) + ", which the question does not say")
        parts += self.misplaced
        if self.every_one:
            parts.append(_every_one_words(self.every_one) + ": every(S, c), or which_every(S, c) for which image")
        if self.form:
            parts.append(self.form)
        return "The program does not match the question: " + "; ".join(parts) + "."

    def reason(self) -> str:
        """Why the question is not answered, for the user."""
        if self.unknown:
            return "I do not know the word" + "s" * (len(self.unknown) > 1) + " " + ", ".join(
                f'"{w}"' for w in self.unknown)
        if self.not_detectable:
            return "the experts here cannot find " + ", ".join(self.not_detectable)
        parts = []
        if self.missing:
            parts.append("could not use " + ", ".join(f'"{m}"' for m in self.missing))
        if self.invented:
            parts.append("added " + ", ".join(f'"{m}"' for m in self.invented))
        parts += self.misplaced
        if self.every_one:
            parts.append(_every_one_words(self.every_one))
        if self.form:
            parts.append(self.form)
        return "I could not write a program for the whole question (" + "; ".join(parts) + ")"


def _every_one_words(words: list[str]) -> str:
    return "it says " + " or ".join(f'"{w}"' for w in dict.fromkeys(words)) + " of every one of a kind"


DEFINITE = frozenset({"the", "this", "that", "these", "those"})  # a noun after them is taken to be there
INDEFINITE = frozenset({"a", "an", "any", "some"})  # a noun after them is any one of its kind
EVERY_ONE = frozenset({"all", "all the", "all of the", "every", "each"})  # before a kind: every one of them


@dataclass
class QuestionReading:
    """A question read against a scene: its phrases, what it needs from a program, and how it asks."""

    phrases: list[Phrase]
    context: list[Phrase]
    scene: Scene
    clause_start: int = 0  # the token where the last clause begins (after the last ";")

    @property
    def content(self) -> list[Phrase]:
        return [p for p in self.phrases if _required(p, self)]

    def unknown_words(self) -> list[str]:
        """Phrases with no meaning at all (a phrase read as a whole, "on the left of the picture", has one)."""
        return [p.text for p in self.phrases if not p.readings and not lexicon().lookup(tuple(p.text.split()))]

    @cached_property
    def every_one_words(self) -> frozenset[str]:
        return frozenset(self.says_every_one())

    def says_every_one(self) -> list[str]:
        """Words that say something of every one of a kind, which only every(S, c) and which_every(S, c) say: "only"
        before a kind or a value ("Which image has only metal objects?"), and "all"/"every" before a kind in a
        yes/no or which-image question ("In which image are all of the objects small?": read as words of no
        content, both were answered which images have one such object, confidently)."""
        out = []
        for i, p in enumerate(self.phrases):
            after = self.phrases[i + 1:]
            if p.text == "only" and after and after[0].of("value", "label", "generic") and not after[0].of("number") \
                    and not (i and self.phrases[i - 1].text == "the"):  # "the only thing that ...": the one
                out.append(p.text)
            elif p.text in EVERY_ONE and self.form() in ("bool", "image"):
                for x in after:
                    if x.of("image_noun", "number", "image_picker", "ordinal", "image_id") \
                            or x.text.split()[0] in lexicon().image_nouns:  # "every picture have": one phrase
                        break
                    if x.of("label", "generic"):
                        out.append(p.text)
                        break
        return out

    def undetectable(self) -> list[str]:
        """Labels the question names that the experts of this scene cannot find ("dog" among drawn shapes)."""
        out = []
        for p in self.phrases:
            if p.readings:
                continue
            labels = [r.value for r in lexicon().lookup(tuple(p.text.split())) if r.kind == "label"]
            if labels:
                out.append(p.text)
        return out

    def presupposed_missing(self) -> list[str]:
        """Things the question takes to be there that no image of the scene has: "Is the bench left of the
        motorcycle?" with no bench found. A yes/no or a count over an empty set would answer another question
        ("is there a bench left of ..."): a false presupposition gets "cannot tell", never "no"."""
        if any(r.kind == "compare" or r == Reading("form", "count") for p in self.phrases for r in p.readings):
            return []  # "Do the triangles outnumber the squares?" speaks of kinds: none is a count of 0
        missing = []
        for i, p in enumerate(self.phrases):
            if p.text not in DEFINITE:
                continue
            following = self.phrases[i + 1:]
            while following and following[0].readings and all(r.kind == "value" for r in following[0].readings):
                following = following[1:]  # "the red bench"
            if not following or not following[0].readings:
                continue
            noun = following[0]
            if any(r.kind != "label" for r in noun.readings):
                continue  # "the object", "the left", "the picture": no kind of thing that could be missing
            tests = [t for t in map(reading_test, noun.readings) if t is not None]
            if not any(t(o) for t in tests for o in self.scene.objects):
                missing.append(noun.text)
        return list(dict.fromkeys(missing))

    def asks_about_the_picture(self) -> bool:
        """A word about the picture as a whole ("background", "drawing"): no program over objects answers it."""
        return any(r.kind == "picture" for p in self.phrases for r in lexicon().lookup(tuple(p.text.split())))

    def names_nothing(self) -> bool:
        """Only words of no content, not even a generic noun: "What is in this picture?" (the picture tool's
        question, not a program's); "How many objects are there?" names objects."""
        return not self.content and not any(p.of("label", "generic") for p in self.phrases)

    def asking_clause(self) -> list[Phrase]:
        """The clause that asks: "There is a small ball; what is it made of?" asks in its last clause."""
        return [p for p in self.phrases if p.start >= self.clause_start] or self.phrases

    def form(self) -> str:
        """``count``, ``image``, ``bool`` or ``value``: the kind of answer the question asks for."""
        clause = self.asking_clause()
        first = clause[0].text.split()[0] if clause else ""
        if Reading("form", "yes_no") in lexicon().lookup((first,)) and not self.offers_choice() \
                and not _requests_an_answer(clause):
            return "bool"  # "Is the number of cubes ...?" asks yes or no
        if any(r == Reading("form", "which_image") for p in self.phrases for r in p.readings) \
                or self.which_image_phrase is not None:
            return "image"
        if any(r == Reading("form", "count") for p in self.phrases for r in p.readings):
            return "count"
        if first not in WH_WORDS and any(p.of("same") for p in clause):
            return "bool"  # "The blue cylinder and the blue ball, are they the same size?", "same colour or not?"
        return "value"

    @cached_property
    def which_image_phrase(self) -> tuple[int, int] | None:
        """Where "which"/"what" asks for one of the images, in words the lexicon has no phrase for ("Which of the
        three photos ...", "In which of the two images ...", "Which scene ..."): the indexes of "which" and of the
        image noun; None where it does not."""
        for i, p in enumerate(self.phrases):
            if p.text not in ("which", "what"):
                continue
            j = i + 1
            while j < len(self.phrases) and (self.phrases[j].text in WHICH_OF or self.phrases[j].of("image_picker")
                                             or self.phrases[j].of("number")):
                j += 1
            if j < len(self.phrases) and (self.phrases[j].of("image_noun")
                                          or self.phrases[j].text.split()[0] in lexicon().image_nouns):
                return i, j  # "which scene has": a phrase read whole that starts with the image noun
            rest = self.phrases[j:]
            if len(self.scene.images) > 1 and all(p.text in WHICH_ONE_ENDS for p in rest) \
                    and any(x.of("image_noun") for x in self.phrases[:i]):
                return i, j  # "One of these pictures has a cube. Which one?": the pictures named before
        return None

    def stated_images(self) -> list[str]:
        """The images the sentences before the asking one name by ordinal ("The second image has a dog. ...")."""
        images = self.scene.images
        out = []
        for p in self.phrases:
            if p.start < self.clause_start and p.of("ordinal") and _before_image_noun(p, self):
                n = p.of("ordinal")[0].value
                index = n - 1 if n > 0 else len(images) - 1
                if 0 <= index < len(images):
                    out.append(images[index])
        return out

    @cached_property
    def _other_than_stated(self) -> tuple[str, ...]:
        stated = set(self.stated_images())
        asks_other = any(Reading("image_picker", "other") in p.readings for p in self.asking_clause())
        if len(self.scene.images) != 2 or len(stated) != 1 or not asks_other:
            return ()
        return tuple(i for i in self.scene.images if i not in stated)

    def other_than_stated(self) -> list[str]:
        """"The second image has a dog. Does the other one ...?": of two images, the one the earlier sentence does
        not name; [] where the asking clause says no "other" or there are not two images. (The earlier sentence is
        a given, not part of what is asked.)"""
        return list(self._other_than_stated)

    def offers_choice(self) -> bool:
        """"Is it metal or rubber?": an "or" between two values of one key (answered with the value)."""
        return bool(self.choices())

    def choices(self) -> list[Phrase]:
        """The phrases offered as answers in a choice question: "metal", "rubber" of "Is it metal or rubber?" (a
        question that starts as a yes/no one) or of "How big is it, small or large?" (one that asks what, and ends
        with the choice; "How many things are green or purple?" is a union)."""
        clause = self.asking_clause()
        first = clause[0].text.split()[0] if clause else ""
        ends_with_choice = not any(r in (Reading("form", "count"), Reading("form", "which_image"))
                                   for p in self.phrases for r in p.readings) and \
            len(self.phrases) > 2 and Reading("logic", "or") in self.phrases[-2].readings
        if Reading("form", "yes_no") not in lexicon().lookup((first,)) and not ends_with_choice:
            return []
        for i, p in enumerate(self.phrases):
            if Reading("logic", "or") in p.readings and 0 < i < len(self.phrases) - 1:
                before, after = self.phrases[i - 1].of("value", "label"), self.phrases[i + 1].of("value", "label")
                keys_before = {r.value[0] if r.kind == "value" else "label" for r in before}
                keys_after = {r.value[0] if r.kind == "value" else "label" for r in after}
                if keys_before & keys_after:
                    return [self.phrases[i - 1], self.phrases[i + 1]]
        return []


def read_question(question: str, scene: Scene, context: list[str] = ()) -> QuestionReading:  # type: ignore[assignment]
    lex = lexicon()
    phrases = lex.read(question, scene=scene.vocabulary)
    context_phrases = [p for q in context for p in lex.read(q, scene=scene.vocabulary)]
    ends = [m.end() for m in CLAUSE_END.finditer(question)]  # "There is a ...; what ...", "One ... has a cube. Which?"
    clause_start = len(tokens(question[:ends[-1]])) if ends else 0
    return QuestionReading(phrases, context_phrases, scene, clause_start)


CLAUSE_END = re.compile(r"[;.!?](?=\s+\S)")


# "Could you tell me how many ...": a request for the answer, not a yes/no question.
REQUESTS = frozenset({"could you", "can you", "would you", "will you", "can you tell", "could you tell",
                      "would you tell", "could you please", "can you please", "would you please"})
ASKING_VERBS = frozenset({"tell", "me", "please", "count", "name", "say", "give", "list", "let", "me know"})


def _requests_an_answer(clause: list[Phrase]) -> bool:
    """Whether a clause is a request for an answer ("Could you tell me how many ...", "Can you count the ...",
    "Could you name the colour of ..."), not a yes/no question ("Can you see a cube?", "Can you tell me whether
    ...")."""
    if not clause or clause[0].text not in REQUESTS:
        return False
    rest = clause[1:]
    verbs = [p for p in rest[:3] if p.text in ASKING_VERBS]
    if not verbs and clause[0].text not in ("can you tell", "could you tell", "would you tell"):
        return False
    after = rest[len(verbs):]
    return bool(after) and after[0].text not in ("whether", "if")


def _after_a_request(q: QuestionReading, i: int) -> bool:
    """Whether phrase ``i`` comes right after the words of a request ("Could you name ...")."""
    return all(p.text in REQUESTS or p.text in ASKING_VERBS for p in q.phrases[:i])


# Words between "which" and the image noun of a question that asks for an image ("which one of the two images").
WHICH_OF = frozenset({"of", "one", "one of", "the", "these", "those", "of the two", "of the three"})
# What may follow a bare "which one" that asks for one of the pictures named before it ("Which one is it?").
WHICH_ONE_ENDS = frozenset({"is", "is it", "it", "it is", "that", "is that", "'s", "has it", "does"})


def _required(p: Phrase, q: QuestionReading) -> bool:
    """Whether a question's phrase must be accounted for by the program."""
    span = q.which_image_phrase  # read once per question, not once per phrase
    if span is not None and span[0] < q.phrases.index(p) < span[1]:
        return False  # "Which of the three photos ...": which image is asked, not each of the three
    if p.text == "name" and _after_a_request(q, q.phrases.index(p)):
        return False  # "(Could you) name the colour of ...": a verb that asks, not the key "name"
    if p.start < q.clause_start and q.other_than_stated():
        return False  # "The first picture has one yellow ball. How many balls does the other have?": a given
    if p.text in q.every_one_words:
        return False  # "Are all the people standing?": every(...) says it (else Verdict.every_one), no image
    if p.text in EXCLUDING and _excludes_what_same_excludes(p, q):
        return False  # "Apart from the grey cylinder, how many objects have its colour?": same_color leaves it out
    strong = [r for r in p.readings if r.kind in ("label", "value", "relation", "region", "extreme", "compare",
                                                  "same", "key")]
    if strong and {r.kind for r in strong} == {"key"} and "generic" in p.kinds() and not _names_a_key(p, q):
        return False  # "a large metal shape": the noun, not the shape asked about
    if strong:
        return True  # a value the scene has ("sitting" among people) counts even where it could be a filler
    if len(q.scene.images) > 1 and p.of("image_picker", "ordinal") and _before_image_noun(p, q) \
            and p.of("image_picker") != [Reading("image_picker", "this")]:
        return True  # "the other picture", "the first image": which image, among several
    if len(q.scene.images) > 1 and p.text in TOTAL_WORDS and EVERY_IMAGE in p.readings and not _names_one_image(q):
        return True  # "How many cylinders are there altogether?" about several images: all of them, not one
    if p.optional:
        return False
    kinds = p.kinds()
    if "number" in kinds:
        before = q.phrases[q.phrases.index(p) - 1].text if q.phrases.index(p) else ""
        return before not in ("the", "these", "those", "both")  # "the two cubes": a determiner, not a count
    if kinds & {"ordinal", "image_picker"}:
        return len(q.scene.images) > 1 or "ordinal" in kinds and not _before_image_noun(p, q)
    if "logic" in kinds:
        if Reading("logic", "and") in p.readings and len(kinds) == 1:
            return False
        return not (p.start == 0 and p.text.endswith("n't"))  # "Isn't the ball yellow?" asks yes or no
    return bool(kinds & set(CONTENT))


# "Apart from X": words that leave one thing out.
EXCLUDING = frozenset({"except", "except for", "besides", "other than", "apart from", "aside from", "excluding",
                       "not counting", "ignoring", "disregarding", "leaving out", "leaving aside"})
SELF = frozenset({"it", "itself", "that one", "this one", "them", "themselves"})
# Words that name again a thing the question has named ("... and in front of it", "its colour").
REFERRING = SELF | {"its", "their"}


def _noun_phrase_at(q: QuestionReading, i: int) -> tuple[str, frozenset[tuple[str, str]]] | None:
    """(label, values) of the noun phrase that starts at or after phrase ``i`` ("the big grey cylinder"), over
    determiners; None where something else comes first."""
    values: set[tuple[str, str]] = set()
    for p in q.phrases[i:]:
        if p.of("label") or p.of("generic") and not p.of("value"):
            return (str(p.of("label")[0].value) if p.of("label") else GENERIC), frozenset(values)
        if p.of("value"):
            values |= {r.value for r in p.of("value")}
        elif not (p.optional and not p.of(*CONTENT)):
            return None
    return None


def _excludes_what_same_excludes(p: Phrase, q: QuestionReading) -> bool:
    """Whether "apart from X" leaves out the very thing a "same ... as" compares with ("Apart from the grey
    cylinder, how many objects have the same colour as it?", "... as the grey cylinder"): a same_* op never counts
    the thing itself, so the words say nothing more."""
    i = q.phrases.index(p)
    left_out = _noun_phrase_at(q, i + 1)
    if left_out is None:
        return False
    for j, x in enumerate(q.phrases):
        if j <= i or not x.of("same"):
            continue
        for k in range(j + 1, len(q.phrases)):
            if q.phrases[k].text in ("as", "of", "with"):  # "the same colour as", "share the colour of"
                after = q.phrases[k + 1] if k + 1 < len(q.phrases) else None
                if after is not None and after.text in SELF:
                    return True
                return _noun_phrase_at(q, k + 1) == left_out
        return True  # "Besides the purple ball, how many objects have that same shape?": the same as it
    return False


# Words that take several images as one where the question names none of them ("in total", "altogether").
TOTAL_WORDS = frozenset({"altogether", "in total", "total", "overall", "combined", "together", "in all", "adding up",
                         "add up", "added up", "added together", "summed", "between them", "between the two of them",
                         "between both", "in sum", "put together"})


def _names_one_image(q: QuestionReading) -> bool:
    """Whether the question names one of several images ("the first image", "img_1", "the other photo")."""
    return any(p.of("image_id") or p.of("ordinal", "image_picker") and _before_image_noun(p, q)
               and not {EVERY_IMAGE, EACH_IMAGE} & set(p.readings) for p in q.phrases)


KEY_BEFORE = {"what", "which", "same", "the same", "its", "their", "his", "her", "what's"}
KEY_AFTER = {"of"}


def _names_a_key(p: Phrase, q: QuestionReading) -> bool:
    """"What shape is ...", "the same shape as", "the shape of", "an identical shape as": a word such as "shape"
    names the attribute; in "as many small shapes as large shapes" it is the noun."""
    i = q.phrases.index(p)
    before = q.phrases[i - 1].text if i else ""
    after = q.phrases[i + 1].text if i + 1 < len(q.phrases) else ""
    sameness = any(x.of("same") for x in q.phrases[:i])
    return before in KEY_BEFORE or after in KEY_AFTER or after == "as" and sameness


BEFORE_A_PICTURE = {"of", "the", "of the", "these", "those", "my", "our"}


def _before_image_noun(p: Phrase, q: QuestionReading) -> bool:
    """Whether an image noun follows, with only determiners between ("the other photo", "all of the images"; "the
    other picture have": a phrase read whole that starts with one)."""
    i = q.phrases.index(p)
    for x in q.phrases[i + 1:i + 5]:
        if x.of("image_noun") or x.text.split()[0] in lexicon().image_nouns:
            return True
        if x.text not in BEFORE_A_PICTURE and not x.of("image_picker", "number"):
            return False
    return False


# The program's side --------------------------------------------------------------------------------------------

# The extreme an ordinal counts from: the second closest is the second from the front.
ORDINAL_EXTREMES = {"from_left": "leftmost", "from_right": "rightmost", "from_top": "topmost",
                    "from_bottom": "bottommost", "from_front": "frontmost", "from_back": "backmost"}


def program_readings(typed: Typed) -> list[Reading]:
    """Everything a program names, as lexicon readings (words, ops, numbers, images)."""
    out: list[Reading] = []
    nodes = typed.walk()
    places = {id(t.args[-1]) for t in nodes if t.op is not None and t.op.family == "ordinal" and t.args}
    for t in nodes:
        out += t.readings
        if t.op is None:
            if isinstance(t.node, Number):
                out.append(Reading("ordinal" if id(t) in places else "number", t.node.value))
            continue
        out += list(t.op.reads)
        if t.op.family == "ordinal":  # "the second closest to the camera": the n-th from the front
            out.append(Reading("extreme", ORDINAL_EXTREMES[t.op.name]))
        if t.op.name == "equal":
            out.append(Reading("compare", "equal") if t.args[0].type == "number" else Reading("same", "same"))
            out += [Reading("key", k) for a in t.args if a.op is not None for k in a.op.keys]
        if t.op.family == "query":
            out.append(Reading("key", t.op.keys[0]))
    return out


def _root_form(typed: Typed) -> str:
    if typed.op is not None and typed.op.name == "count":
        return "count"
    return {"number": "count", "bool": "bool", "value": "value", "image": "image"}.get(typed.type, typed.type)


def _covers(q: Phrase, have: list[Reading], scene: Scene, typed: Typed, choice: bool, each_apart: bool) -> bool:
    """Whether the program's readings account for one required phrase of the question (``each_apart``: a yes/no
    question, where "both images" means each image by name, not the images as one)."""
    if Reading("number", 0) in q.readings and Reading("logic", "not") in q.readings:
        # "Which picture has no cylinders?": none of them (a count of 0, a yes/no answer negated), never the things
        # that are not cylinders (which(all(not(cylinder))) was the picture with anything else)
        return Reading("number", 0) in have or any(t.op is not None and t.op.name == "not" and t.op.result == "bool"
                                                   for t in typed.walk())
    for r in q.readings:
        if r in have:
            return True
        if r.kind == "value" and choice and Reading("key", r.value[0]) in have:
            return True  # "Is it metal or rubber?": the material asked for
        if r.kind == "label" and choice and any(h in have for h in (Reading("key", "shape"), Reading("key", "label"))):
            return True  # "Is it a cube or a sphere?"
        if r.kind == "key":
            key = r.value
            if any(h.kind == "value" and h.value[0] == key for h in have):
                return True  # "a cube made of metal": the material key, by a material value
            if key in ("shape", "label") and any(h in have for h in (Reading("key", "shape"), Reading("key", "label"))):
                return True
            if key == "shape" and any(h.kind == "label" for h in have):
                return True  # "the shape of": a label where no expert gives shape
        if r.kind == "logic" and r.value == "not" and Reading("number", 0) in have:
            return True  # "no cubes": count ... 0
        if r.kind == "ordinal" and len(scene.images) > 1:
            index = r.value - 1 if r.value > 0 else len(scene.images) - 1
            if 0 <= index < len(scene.images) and Reading("image_id", scene.images[index]) in have:
                return True  # "the first image"
        if r.kind == "image_picker":
            images = {h.value for h in have if h.kind == "image_id"}
            if r.value == "this" and (not images or images == {scene.focus}):
                return True
            if r.value == "other" and images - {scene.focus}:
                return True
            if r == EACH_IMAGE and each_apart:  # "Is there a dog in both images?": asked of each image by name
                if images == set(scene.images) and _one_image_a_set(typed):
                    return True
                continue
            if r.value in ("every", "each") and (len(images) > 1 or Reading("image_picker", "every") in have
                                       or typed.type == "image" or any(h == Reading("form", "which_image")
                                                                       for h in have)):
                return True
        if r.kind == "same" and (Reading("same", "same") in have or Reading("compare", "equal") in have):
            return True  # "different": not(equal(...)); "the same in both images": equal(count, count)
        if r.kind == "compare" and r.value in ("at_least", "at_most") and any(
                h.kind == "compare" for h in have):
            return True
    return False


def _justified(r: Reading, said: list[Reading], scene: Scene) -> bool:
    if r in said:
        return True
    if r.kind == "number" and r.value in (0, 1):  # "no cubes", "more than one"; also "a cube" compared with 1
        return True
    if r.kind == "image_id":
        if r.value == scene.focus and (Reading("image_picker", "this") in said
                                       or not any(s.kind in ("image_picker", "ordinal") for s in said)):
            return True
        index = scene.images.index(r.value) if r.value in scene.images else -1
        return any(s.kind == "ordinal" and (s.value - 1 == index or s.value == -1 and index == len(scene.images) - 1)
                   for s in said) or any(s.kind == "image_picker" and s.value in ("other", "every", "each")
                                         for s in said)
    if r.kind == "image_picker":
        return any(s.kind in ("image_picker", "ordinal", "image_noun") for s in said) or len(scene.images) > 1
    if r.kind == "ordinal" and r.value == 1:
        return any(s.kind == "extreme" for s in said)  # "the leftmost" written as from_left(S, 1)
    return False


def check(question: str, typed: Typed, scene: Scene, *, context: list[str] = ()) -> Verdict:  # type: ignore[assignment]
    """Check a typed program against its question (and the chat's earlier questions, ``context``)."""
    q = read_question(question, scene, context)
    says_every = any(t.op is not None and Reading("logic", "every") in t.op.reads for t in typed.walk())
    verdict = Verdict(unknown=q.unknown_words(), not_detectable=q.undetectable(),
                      every_one=[] if says_every else q.says_every_one())
    if typed.type == "unsupported":  # the fallback answers it: nothing to account for here
        return verdict
    have = program_readings(typed)
    choice = q.offers_choice()
    each_apart = q.form() == "bool"
    for p in q.content:
        if p.of("key") and p.of("generic") and _names_a_key(p, q):
            p = Phrase(p.text, p.start, p.end, p.of("key"))  # "Which shape is ...": the key, not the noun
        if q.other_than_stated() and Reading("image_picker", "other") in p.readings \
                and {h.value for h in have if h.kind == "image_id"} == set(q.other_than_stated()):
            continue  # "The first picture has a cube; does the other one ...": the second image, named
        if not _covers(p, have, scene, typed, choice, each_apart):
            verdict.missing.append(p.text)
            if EACH_IMAGE in p.readings and each_apart:
                compared = typed.op is not None and (typed.op.name == "equal" or typed.op.family == "compare")
                verdict.hints[p.text] = [" and ".join(scene.images) + (COMPARED_HINT if compared else EACH_HINT)]
                continue
            terms = list(dict.fromkeys(_term(r) for r in p.readings if r.kind in HINTED or r == EVERY_IMAGE
                                       or r == EACH_IMAGE))
            if terms and terms != [p.text]:  # "leftmost" needs no hint
                verdict.hints[p.text] = terms
    said = _said(q)
    for t in typed.walk():
        if t.op is None and not isinstance(t.node, Number):
            named = [r for r in t.readings if r.kind in ("label", "value", "region", "image_id")]
            if named and not any(_justified(r, said, scene) for r in named):
                verdict.invented.append(t.words())
                verdict.not_said |= set(named)
    verdict.invented += repeated_words(q, typed) + repeated_negations(q, typed) + two_kinds(typed)
    for t in typed.walk():
        if t.op is None:
            continue
        if t.op.name == "or" and _images_as_one(q, said) and _image_union(t) == set(scene.images):
            continue  # "in either image": or(img_0, img_1) is all_images
        for r in t.op.reads:
            if _op_reading_invented(r, said, scene):
                verdict.invented.append(str(r.value).replace("_", " "))
                verdict.not_said_ops.add(t.op.name)
    for t in typed.walk():  # "the second object from the back" written from_right(...): another direction
        if t.op is not None and t.op.family == "ordinal" and not any(
                r in said for r in (*t.op.reads, Reading("extreme", ORDINAL_EXTREMES[t.op.name]))):
            verdict.invented.append(f"{t.op.name} (the question counts from no such side)")
            verdict.not_said_ops.add(t.op.name)
    for r in program_readings(typed):
        if r.kind == "number" and not _justified(r, said, scene):
            verdict.invented.append(str(r.value))
    for t in typed.walk():  # "Which picture has a cube?" is which(...): which_count's number must be said
        if t.op is not None and t.op.name == "which_count" and isinstance(t.args[1].node, Number) \
                and Reading("number", t.args[1].node.value) not in said:
            verdict.invented.append(f"exactly {t.args[1].node.value}")
            verdict.not_said_ops.add(t.op.name)
    asked = _asked_keys(q)
    for t in typed.walk():  # "Which shape is ...?" answered with a color: another question
        if t.op is not None and t.op.family == "query" and t.op.keys[0] not in asked:
            verdict.invented.append(t.op.keys[0])
            verdict.not_said_ops.add(t.op.name)
    for t in typed.walk():  # "only shiny objects" written which_every(all(shiny, object), all_images)
        if t.op is not None and t.op.family in ("every", "image") and len(t.args) == 2 and t.args[1].op is None \
                and t.args[1].readings and all(r.kind in ("image_id", "image_picker") for r in t.args[1].readings):
            verdict.invented.append(f"{t.args[1].words()} as what every one of {t.args[0].words()} is")
    offered = [r for p in q.choices() for r in p.readings]
    for t in typed.walk():  # "Is the square small or large?": the choices are answers, never conditions
        if t.op is None and not isinstance(t.node, Number) and any(r in offered for r in t.readings):
            verdict.invented.append(f"{t.words()} (one of the answers to choose from, not a condition)")
            verdict.not_said |= set(offered)
    verdict.invented = list(dict.fromkeys(verdict.invented))
    other = q.other_than_stated()
    used_images = {str(r.value) for t in typed.walk() for r in t.readings if r.kind == "image_id"}
    if other and used_images and used_images != set(other):
        verdict.misplaced.append(f'"the other one" is {other[0]}: the earlier sentence names '
                                 f'{", ".join(sorted(set(q.stated_images())))}')
    verdict.misplaced += both_of_one_thing(q, typed) + premise_elsewhere(q, typed) + in_two_images(typed) \
        + not_of_the_answer(q, typed) + alike_for_same_as(q, typed) \
        + [f"the set says {c} and not({c}): nothing is both" for c in contradictions(typed)]
    verdict.misplaced += misplaced_relations(q, typed) + misplaced_subjects(q, typed) + misplaced_images(q, typed) \
        + misplaced_or_sides(q, typed) + [f'in the question it is "{_indefinite_words(q, t)}" (any of them): '
                                          f"all(...), not the(...)" for t in indefinite_targets(q, typed)]
    wanted, got = q.form(), _root_form(typed)
    if got != "unsupported" and got not in _accepted_forms(q):
        verdict.form = {"count": "the question asks how many: the answer must be count(...)",
                        "bool": "the question asks yes or no: the answer must be yes/no (exists, equal, more, ...)",
                        "image": "the question asks which image: the answer must be which, most or fewest",
                        "value": "the question asks what something is: the answer must be a value, e.g. "
                                 "color(the(...))"}[wanted]
        if typed.op is not None and _answers_no_part_of(got, wanted):
            verdict.not_said_ops.add(typed.op.name)  # a rewrite that starts the same way fails the same way
    return verdict


def _said(q: QuestionReading) -> list[Reading]:
    """Every meaning the question (and the chat's earlier questions) says, each phrase also read as a whole."""
    said = [r for p in [*q.phrases, *q.context] for r in p.readings]
    every = [Reading("logic", "every")] if q.says_every_one() else []  # "are all the cubes red": every(...)
    return said + every + [r for p in [*q.phrases, *q.context] for r in lexicon().lookup(tuple(p.text.split()))]


def _images_as_one(q: QuestionReading, said: list[Reading]) -> bool:
    """Whether the question takes its images as one ("in either image", "in both images" of a count)."""
    return EVERY_IMAGE in said or EACH_IMAGE in said and q.form() != "bool"


def _op_reading_invented(r: Reading, said: list[Reading], scene: Scene) -> bool:
    """Whether an op's reading (a relation, an extreme, a comparison, a "same", an "or", a "not") is one the
    question does not say, in any of its words."""
    if r.kind in ("relation", "extreme", "compare", "same"):
        return not _justified(r, said, scene) and not _equivalent_said(r, said)
    if r.kind == "logic" and r.value in ("or", "not", "every"):
        return not _justified(r, said, scene) and not (r.value == "not" and Reading("same", "different") in said)
    return False


def _asked_keys(q: QuestionReading) -> set[str]:
    """The attribute keys an answer may ask for: those the question names, but not right before a value of theirs
    ("the ball made of metal"), its choices' key, shape and label."""
    asked = {"label"}
    phrases = [*q.phrases, *q.context]
    for i, p in enumerate(phrases):
        value = phrases[i + 1].of("value") if i + 1 < len(phrases) else []
        asked |= {str(r.value) for r in [*p.readings, *lexicon().lookup(tuple(p.text.split()))] if r.kind == "key"
                  and not any(v.value[0] == r.value for v in value)}  # "made of metal" says it, asks no material
    asked |= {"shape", "label"} if "shape" in asked or "label" in asked else set()
    return asked | {k for p in q.choices() for r in p.readings if r.kind == "value" for k in [r.value[0]]}


def _accepted_forms(q: QuestionReading) -> set[str]:
    """The forms of answer the question accepts: its own, and for "what ..." that names no attribute also a count
    or a yes/no (read as the question's own answer)."""
    wanted = q.form()
    return {wanted, "count", "bool"} if wanted == "value" and not _asks_value(q) else {wanted}


@dataclass(frozen=True)
class Bounds:
    """What the check rejects in every program for one question, known before a program is written: meanings the
    question does not say, the answers a choice question offers (never conditions), ops that say what it does not,
    and the forms of answer it does not ask for. The grammar leaves these out, so the model's first program is
    never one the check must send back for them; the program the question means uses none of them, so leaving
    them out cannot exclude it."""

    not_said: frozenset[Reading]  # labels, values, parts of the picture and images the question does not say
    offered: frozenset[Reading]
    asked_keys: frozenset[str]
    forms: frozenset[str]
    said: tuple[Reading, ...]
    every_image: bool
    scene: Scene

    def allows_word(self, readings: list[Reading]) -> bool:
        """A condition word, by its label, value, region and image readings in the scene (none: a generic noun)."""
        if any(r in self.offered for r in readings):
            return False
        return not readings or not all(r in self.not_said for r in readings)

    def allows_op(self, op: Op) -> bool:
        if op.family == "query":
            return op.keys[0] in self.asked_keys
        if op.name == "or" and self.every_image:
            return True  # "in either image": or(img_0, img_1)
        return not any(_op_reading_invented(r, list(self.said), self.scene) for r in op.reads)


def bounds(question: str, scene: Scene, context: list[str] = ()) -> Bounds:  # type: ignore[assignment]
    """The ``Bounds`` of a question over a scene (and a chat's earlier questions, ``context``)."""
    q = read_question(question, scene, context)
    said = _said(q)
    vocabulary = scene.vocabulary
    candidates = [Reading("label", label) for label in vocabulary.labels]
    candidates += [Reading("value", (key, value)) for key, values in vocabulary.attributes.items()
                   for value in values]
    candidates += [Reading("region", region) for region in REGIONS]
    candidates += [Reading("image_id", image) for image in scene.images] if len(scene.images) > 1 else []
    return Bounds(not_said=frozenset(r for r in candidates if not _justified(r, said, scene)),
                  offered=frozenset(r for p in q.choices() for r in p.readings),
                  asked_keys=frozenset(_asked_keys(q)), forms=frozenset(_accepted_forms(q)),
                  said=tuple(said), every_image=_images_as_one(q, said), scene=scene)


def repeated_words(q: QuestionReading, typed: Typed) -> list[str]:
    """Labels and values the program uses more often than the question (and a chat's earlier questions) says them:
    "Count the things that are either cyan or red." written all(cyan, or(red, cyan)) (seen, with three more like
    it: confident wrong counts). A word said twice among one set's conditions (``all(thing, and(matte, rubber))``
    for "made of rubber") counts once: the same set either way. Each image of several may have its own copy ("in
    both images", "more in the first image than in the second"); "a red circle and a blue one" says the noun once
    more."""
    words: dict[Reading, str] = {}
    return [f"{words[r]} (more often than the question says it)" for r in overused(q, typed, words)]


def overused(q: QuestionReading, typed: Typed, words: dict[Reading, str] | None = None) -> dict[Reading, int]:
    """The labels and values a program names more often than the question allows (``repeated_words``), each with
    how many times too often; ``words`` gets each one's word in the program."""
    said: Counter[Reading] = Counter()
    for p in [*q.phrases, *q.context]:
        said.update({r for r in p.readings if r.kind in ("label", "value")})
    again = sum(1 for p in q.phrases if p.text in ("one", "ones"))
    used: Counter[Reading] = Counter()
    _count_uses(typed, used, {} if words is None else words)
    copies = max(1, len(q.scene.images))
    back = _named_again(q, typed)
    allowed = {r: (said[r] + (again if r.kind == "label" else 0)) * copies + back[r] for r in used}
    return {r: n - allowed[r] for r, n in used.items() if said[r] and n > allowed[r]}


def _named_again(q: QuestionReading, typed: Typed) -> Counter[Reading]:
    """The words of one object named again, once for each pronoun of the question ("left of the gray cylinder and
    in front of it" written with the(gray, cylinder) twice): the same the(...) written again, nothing else."""
    pronouns = sum(1 for p in q.phrases if p.text in REFERRING)
    seen: set[str] = set()
    again: Counter[Reading] = Counter()
    for t in typed.walk():
        if pronouns <= 0:
            break
        if t.op is None or t.op.name != "the":
            continue
        written = t.words()
        if written in seen:
            pronouns -= 1
            _count_uses(t, again, {})
        seen.add(written)
    return again


def repeated_negations(q: QuestionReading, typed: Typed) -> list[str]:
    """More "not"s than the question says: "Is there a block that isn't metallic?" written
    not(exists(all(block, not(metal)))) (seen, four confident wrong answers of this form). "different" written
    not(equal(...)) says its own not."""
    said = sum(1 for p in [*q.phrases, *q.context] if Reading("logic", "not") in p.readings)
    nots = [t for t in typed.walk() if t.op is not None and t.op.name == "not"
            and not (t.args and t.args[0].op is not None
                     and (t.args[0].op.name == "equal" or t.args[0].op.family in ("same", "alike")))]
    if len(nots) > said * max(1, len(q.scene.images)):
        return [f"not {len(nots)} times (the question says it {said} time{'s' * (said != 1)})"]
    return []


def two_kinds(typed: Typed) -> list[str]:
    """A set of two kinds of thing that nothing is both: "Can you see the face of the person?" written
    exists(all(face, individual)) answered "no" (seen: a face is not a person; the set is always empty)."""
    out = []
    for t in typed.walk():
        if t.op is None or t.op.family != "set":
            continue
        kinds: list[tuple[str, set[str]]] = []
        pending = list(t.args)
        while pending:
            a = pending.pop()
            if a.op is not None and a.op.name == "and" and a.op.result == "cond":
                pending += a.args
            elif a.op is None and a.readings and all(r.kind == "label" for r in a.readings):
                kinds.append((a.words(), {str(r.value) for r in a.readings}))
        for i, (word, labels) in enumerate(kinds):
            clash = next((w for w, other in kinds[i + 1:] if not labels & other), None)
            if clash is not None:
                out.append(f"{clash} and {word} in one set (nothing is both)")
    return list(dict.fromkeys(out))


def _count_uses(t: Typed, used: Counter[Reading], words: dict[Reading, str]) -> None:
    """Count each label and value a program names: once a set for its own conditions (joined by and), once an
    occurrence anywhere else (inside or/not, a condition of ``is``)."""
    def named(w: Typed) -> set[Reading]:
        found = {r for r in w.readings if r.kind in ("label", "value")}
        words.update({r: w.words() for r in found})
        return found

    if t.op is None:
        if not isinstance(t.node, Number):
            used.update(named(t))
        return
    if t.op.family != "set":
        for a in t.args:
            _count_uses(a, used, words)
        return
    group: set[Reading] = set()
    pending = list(t.args)
    while pending:
        a = pending.pop()
        if a.op is None and not isinstance(a.node, Number):
            group |= named(a)
        elif a.op is not None and a.op.name == "and" and a.op.result == "cond":
            pending += a.args
        else:
            _count_uses(a, used, words)
    used.update(group)


def _answers_no_part_of(got: str, wanted: str) -> bool:
    """Whether a program answering in form ``got`` can have no part in one answering in form ``wanted`` (a yes/no
    op in a count; a count in "what is ..."; but a count may sit inside a yes/no comparison)."""
    return (got in ("bool", "image") or got == "count" and wanted in ("value", "image")
            or got == "value" and wanted in ("count", "image"))


def _one_image_a_set(typed: Typed) -> bool:
    """Whether no set names two images (``all(gray, img_0, img_1)`` is a gray thing in either: not each)."""
    return all(sum(1 for c in t.args if c.op is None for r in c.readings if r.kind == "image_id") <= 1
               for t in typed.walk() if t.op is not None and t.op.family == "set")


def _image_union(t: Typed) -> set[str] | None:
    """The images a union of bare image ids names (``or(img_0, or(img_1, img_2))``); None: not such a union."""
    if t.op is None:
        ids = {str(r.value) for r in t.readings if r.kind == "image_id"}
        return ids if ids and len(ids) == len(t.readings) else None
    if t.op.name != "or":
        return None
    named: set[str] = set()
    for a in t.args:
        part = _image_union(a)
        if part is None:
            return None
        named |= part
    return named


def head_label(t: Typed) -> str | None:
    """The label a set or object is of ("the red cube" -> cube, "all(things)" -> object); None: unknown."""
    if t.op is None:
        return None
    if t.op.family == "set":
        labels = [r.value for c in t.args if c.op is None for r in c.readings if r.kind == "label"]
        if labels:
            return str(labels[0])
        return GENERIC if any(r.kind == "generic" for c in t.args if c.op is None for r in c.readings) else None
    if t.op.family in ("extreme", "ordinal") and t.args:
        return head_label(t.args[0])
    return None


def _noun_after(q: QuestionReading, i: int) -> str | None:
    """The label of the noun a relation phrase at ``i`` points to ("left of the big cube" -> cube), or None
    ("left of it", or another relation comes first)."""
    if set(q.phrases[i].text.split()) & PRONOUNS:
        return None  # "to its left"
    for p in q.phrases[i + 1:]:
        if p.of("relation") or p.text in PRONOUNS:
            return None  # "a sphere behind it": what "it" is, the check does not say
        labels = [r.value for r in p.of("label")]
        if labels:
            return str(labels[0])
        if p.of("generic") and not (p.of("key") and _names_a_key(p, q)):  # "left of the yellow shape": a noun
            return GENERIC
    return None


def _values_after(q: QuestionReading, i: int) -> frozenset[tuple[str, str]]:
    """The values of the noun phrase a relation phrase at ``i`` points to ("below the yellow object" -> yellow),
    up to its noun."""
    values: set[tuple[str, str]] = set()
    for p in q.phrases[i + 1:]:
        if p.of("relation") or p.of("label") or p.of("generic") and not p.of("value"):
            break
        values |= {r.value for r in p.of("value")}
    return frozenset(values)


def set_values(t: Typed) -> set[tuple[str, str]]:
    """The values a set or object names in its own conditions (``the(small, object)`` -> small)."""
    if t.op is None:
        return set()
    if t.op.family == "set":
        return {r.value for c in t.args if c.op is None for r in c.readings if r.kind == "value"}
    if t.op.family in ("extreme", "ordinal") and t.args:
        return set_values(t.args[0])
    return set()


def misplaced_relations(q: QuestionReading, typed: Typed) -> list[str]:
    """Relations whose object is not the one the question gives them: "the cubes behind the sphere that is left
    of the cylinder" written with left_of(the sphere) and behind(the cylinder) (seen); "Is the small object below
    the yellow object?" written with below(the small object) (seen: nouns alike, told apart by their values)."""
    said: dict[str, list[tuple[str, frozenset[tuple[str, str]]]]] = {}
    for i, p in enumerate(q.phrases):
        for r in p.of("relation"):
            noun = _noun_after(q, i)
            if noun is not None:
                said.setdefault(str(r.value), []).append((noun, _values_after(q, i)))
    out = []
    settled = premise_settled(q, typed)
    for t in typed.walk():
        if t.op is None or t.op.family != "relation" or t.op.name not in said or t.op.name in settled:
            continue
        head, values = head_label(t.args[0]), set_values(t.args[0])
        nouns = {noun for noun, _ in said[t.op.name]}
        relation = t.op.name.replace("_", " ")
        if head is not None and head not in nouns and nouns != {GENERIC}:
            wanted = " or ".join(sorted(n for n in nouns if n != GENERIC))
            out.append(f'in the question "{relation}" is said of the {wanted}, '
                       f'not of the {head if head != GENERIC else "thing"}')
        elif values and all(said_values and not said_values & values for _, said_values in said[t.op.name]):
            wanted = " or ".join(sorted(" ".join(v for _, v in sorted(sv)) for _, sv in said[t.op.name]))
            out.append(f'in the question "{relation}" is said of the {wanted} one, '
                       f'not of the {" ".join(v for _, v in sorted(values))} one')
    return list(dict.fromkeys(out))


# Words that join two conditions of one thing ("left of the cube and behind the ball"): a relation after one is
# not said of the noun before it.
COORDINATORS = frozenset({"and", "or", "but", "both", "either", "neither", "nor", "than", "as well as"})
PRONOUNS = frozenset({"it", "its", "they", "them", "their", "he", "she", "him", "her", "his"})
_BETWEEN_KINDS = ("relation", "logic", "compare", "same", "number", "region", "extreme", "ordinal", "image_picker",
                  "image_id")


@dataclass(frozen=True)
class SaidNoun:
    """A noun phrase of the question as the check compares it with a program's sets: its label (or the generic
    noun), its values, and whether it is one definite thing ("the sphere", not "spheres")."""

    label: str
    values: frozenset[tuple[str, str]]
    the_one: bool = False

    def fits(self, t: Typed) -> bool:
        """Whether the set or object ``t`` is this noun phrase: its label (any, for "thing") and at least its values."""
        head = head_label(t)
        return head is not None and (self.label == GENERIC or head == self.label) and self.values <= set_values(t)

    def words(self) -> str:
        return " ".join([v for _, v in sorted(self.values)] + [self.label if self.label != GENERIC else "thing"])


def said_subject(q: QuestionReading, i: int) -> SaidNoun | None:
    """The noun phrase the relation phrase at ``i`` is said of: the nearest noun before it, over words of no
    content ("the cylinder to the right of", "the ball that is behind"); None where a coordinator, a pronoun or any
    other content comes between, or the clause starts, so that the question's words do not say it."""
    j = i - 1
    while j >= 0:
        p = q.phrases[j]
        if p.text in COORDINATORS or p.text in PRONOUNS or p.of(*_BETWEEN_KINDS) \
                or p.start < q.clause_start <= q.phrases[i].start:
            return None
        if p.of("label") or p.of("generic") and not p.of("value", "key"):
            labels = p.of("label")
            values: set[tuple[str, str]] = set()
            k = j - 1
            while k >= 0 and q.phrases[k].of("value") and not q.phrases[k].of("label", "relation"):
                values |= {r.value for r in q.phrases[k].of("value")}
                k -= 1
            the_one = k >= 0 and q.phrases[k].text == "the" and not _plural(p.text)
            return SaidNoun(str(labels[0].value) if labels else GENERIC, frozenset(values), the_one)
        if p.of("value", "key", "label", "generic"):
            return None
        j -= 1
    return None


def _plural(noun: str) -> bool:
    word = noun.split()[-1]
    return word in ("people", "men", "women", "children") or word.endswith("s") and not word.endswith("ss")


def said_of(said: SaidNoun, subject: Typed, typed: Typed) -> bool:
    """Whether a program's set ``subject`` is the noun phrase ``said``: it fits, and where the question says one
    definite thing ("the sphere that is right of ..."), the program does not take a set of them while another of
    its sets is that one thing (``all(spheres, right_of(...), in_front_of(the(sphere)))``)."""
    if not said.fits(subject):
        return False
    return not (said.the_one and subject.op is not None and subject.op.name == "all" and any(
        t is not subject and t.op is not None and t.op.name == "the" and said.fits(t) for t in typed.walk()))


def relation_subjects(t: Typed, subject: Typed | None = None) -> list[tuple[Typed, Typed]]:
    """(the set or object a relation is a condition of, the relation) for each relation of a program whose
    subject the program makes plain: a condition of a set (also under not/and/or), or ``is(X, relation(...))``."""
    if t.op is None:
        return []
    out: list[tuple[Typed, Typed]] = []
    if t.op.family == "relation":
        if subject is not None:
            out.append((subject, t))
        subjects: list[Typed | None] = [None] * len(t.args)
    elif t.op.family == "set":
        subjects = [t] * len(t.args)
    elif t.op.name == "is" and len(t.args) == 2:
        subjects = [None, t.args[0]]
    elif t.type == "cond":
        subjects = [subject] * len(t.args)
    else:
        subjects = [None] * len(t.args)
    for arg, sub in zip(t.args, subjects):
        out += relation_subjects(arg, sub)
    return out


def misplaced_subjects(q: QuestionReading, typed: Typed) -> list[str]:
    """Relations the program says of another thing than the question does: "the cylinder to the right of the blue
    object that is behind the blue cylinder" written with behind(...) a condition of the cylinder, not of the
    blue object (seen, answered confidently)."""
    out = []
    settled = premise_settled(q, typed)
    for subject, relation, subjects in unsaid_relations(q, typed):
        assert relation.op is not None
        if relation.op.name in settled:
            continue
        wanted = " or ".join(sorted({s.words() for s in subjects}))
        got = SaidNoun(head_label(subject) or GENERIC, frozenset(set_values(subject))).words()
        out.append(f'in the question "{relation.op.name.replace("_", " ")}" is said of the {wanted}, '
                   f"not of {'the ' if subject.op and subject.op.name == 'the' else 'all the '}{got}"
                   + ("s" if subject.op and subject.op.name == "all" else ""))
    return list(dict.fromkeys(out))


def unsaid_relations(q: QuestionReading, typed: Typed) -> list[tuple[Typed, Typed, list[SaidNoun]]]:
    """(subject, relation, what the question says it of) for each relation of the program said of a thing the
    question does not say it of. A relation the question says twice ("the spheres left of the large cube that's to
    the left of the ball") is two things' relation: where the program has it no more often than the question, each
    mention goes to a relation of its own (``all(spheres, left_of(the(cube)), left_of(the(ball)))`` gives both to
    the spheres: one is the cube's)."""
    said = said_subjects(q)
    by_name: dict[str, list[tuple[Typed, Typed]]] = {}
    for subject, relation in relation_subjects(typed):
        assert relation.op is not None
        by_name.setdefault(relation.op.name, []).append((subject, relation))
    out = []
    for name, instances in by_name.items():
        mentions = said.get(name)
        if not mentions or any(s is None for s in mentions):
            continue
        nouns = [s for s in mentions if s is not None]
        known = [(sub, rel) for sub, rel in instances if head_label(sub) is not None]
        fits = [[said_of(n, sub, typed) for n in nouns] for sub, _ in known]
        if len(known) <= len(nouns):
            matched = _best_matching(fits)
            for k, (sub, rel) in enumerate(known):
                if k not in matched:
                    out.append((sub, rel, [n for j, n in enumerate(nouns) if j not in matched.values()] or nouns))
        else:
            out += [(sub, rel, nouns) for k, (sub, rel) in enumerate(known) if not any(fits[k])]
    return out


def _best_matching(fits: list[list[bool]]) -> dict[int, int]:
    """The largest assignment of rows to distinct columns where ``fits`` (few of each: relations of one name), the
    first in order among equals."""
    best: dict[int, int] = {}
    columns = range(len(fits[0])) if fits else range(0)
    for order in itertools.permutations(columns, len(fits)):
        matched = {k: j for k, j in enumerate(order) if fits[k][j]}
        if len(matched) > len(best):
            best = matched
    return best


def in_two_images(typed: Typed) -> list[str]:
    """"Is there a gray cylinder in both the first and the second image?" written exists(all(gray, cylinder,
    and(img_0, img_1))) asks for one object in two images: nothing is (seen: a confident wrong "no")."""
    for t in typed.walk():
        if t.op is not None and t.op.name == "and" and t.type == "cond" and len(t.args) == 2:
            images = [{str(r.value) for r in a.readings if r.kind == "image_id"} for a in t.args]
            if all(len(i) == 1 and a.op is None for i, a in zip(images, t.args)) and images[0] != images[1]:
                return ["no object is in two images: and(img_a, img_b) in a set is nothing; ask each image: "
                        "and(exists(all(..., img_a)), exists(all(..., img_b)))"]
    return []


RELATIVE_WORDS = frozenset({"that", "which", "who"})
WH_WORDS = frozenset({"what", "which", "how", "who", "where", "what's", "whats", "tell", "name", "describe"})


def relative_not(q: QuestionReading) -> Phrase | None:
    """The phrase a "not" says of a noun in a relative clause ("cylinders that are not red": red), or None."""
    for i, p in enumerate(q.phrases):
        if Reading("logic", "not") not in p.readings or i + 1 >= len(q.phrases):
            continue
        before = [x.text for x in q.phrases[max(i - 2, 0):i]]
        if before and (before[-1] in RELATIVE_WORDS or (len(before) == 2 and before[0] in RELATIVE_WORDS
                                                        and before[1] in ("are", "is"))):
            nxt = q.phrases[i + 1]
            if nxt.of("value", "label"):
                return nxt
    return None


def not_of_the_answer(q: QuestionReading, typed: Typed) -> list[str]:
    """"Are there any cylinders that are not red?" written not(exists(all(cylinder, red))) answers whether there
    are no red cylinders (seen: a confident wrong "no"): the relative clause's not is a condition of the set."""
    said = relative_not(q)
    if said is None:
        return []
    nots = [t for t in typed.walk() if t.op is not None and t.op.name == "not"]
    if nots and all(t.type != "cond" for t in nots):
        return [f'in the question "not {said.text}" is said of the things: a condition not({said.text}) in the '
                "set, not not(...) of the answer"]
    return []


def contradictions(typed: Typed) -> list[str]:
    """The conditions a set says together with their not: "How many things other than the gray cube are the same
    size as it?" written all(things, not(same_size(the(gray, cube))), same_size(the(gray, cube))) counted nothing
    (seen: a confident wrong 0; same_size already leaves the cube itself out)."""
    out = []
    for t in typed.walk():
        if t.op is None or t.op.family != "set":
            continue
        said = {text(a.node) for a in t.args}
        out += [text(a.args[0].node) for a in t.args if a.op is not None and a.op.name == "not" and a.args
                and text(a.args[0].node) in said]
    return out


def alike_for_same_as(q: QuestionReading, typed: Typed) -> list[str]:
    """"Is anything else made of the same material as the metal sphere?" written alike_material(all(metal,
    sphere)) asks whether the metal spheres share a material (seen: "cannot tell: nothing matches two or more"):
    "the same K as X" compares other things with X, same_K(X)."""
    said = [i for i, p in enumerate(q.phrases) if p.of("same")]
    if not said or not any(p.text == "as" for p in q.phrases[said[0] + 1:]):
        return []
    alike = [t for t in typed.walk() if t.op is not None and t.op.family == "alike"]
    return [f'in the question "the same {t.op.keys[0]} as" compares other things with one: same_{t.op.keys[0]}'
            f"(the(...)), not {t.op.name}(...)" for t in alike if t.op is not None]


def both_of_one_thing(q: QuestionReading, typed: Typed) -> list[str]:
    """"Is there anything that is both green and rubber?" says one thing is both: written and(exists(all(green,
    thing)), exists(all(rubber, thing))) it asks whether there is something of each (seen, answered "yes")."""
    for i, p in enumerate(q.phrases[:-1]):
        nxt = q.phrases[i + 1]
        if p.text == "both" and (nxt.of("value") and not nxt.of("label", "generic") or nxt.of("relation")) and any(
                t.op is not None and t.op.name == "and" and t.type == "bool" for t in typed.walk()):
            return [f'in the question one thing is "both {nxt.text} and ...": one set that is both, not and(...)']
    return []


def misplaced_or_sides(q: QuestionReading, typed: Typed) -> list[str]:
    """The kind or property right before a question's "or" is one side of it: "How many items are either red
    cylinders or gray balls?" written all(red, cylinder, or(gray, ball)) counted gray balls that are red
    cylinders (seen: a confident wrong count). Where the program has an or, that word must be inside it."""
    ors = [t for t in typed.walk() if t.op is not None and t.op.name == "or"]
    if not ors or q.offers_choice():  # "Is it metal or rubber?": the choices are answers, not sides of a set
        return []
    inside = {r for t in ors for a in t.args for n in a.walk() for r in n.readings}
    out = []
    for i, p in enumerate(q.phrases):
        if p.text != "or":
            continue
        before = next((x for x in reversed(q.phrases[:i]) if x.of(*CONTENT) and not x.optional), None)
        if before is None or not before.of("label", "value"):
            continue  # "in the first or the second image": images, not kinds
        if not any(r in inside for r in before.of("label", "value")):
            out.append(f'in the question "{before.text}" is one side of "or", but the program has it outside or(...)')
    return out


def indefinite_targets(q: QuestionReading, typed: Typed) -> list[Typed]:
    """The the(...) objects of relations whose kind the question only ever says after "a", "an", "any" or "some":
    "Is anyone wearing a tie?" written exists(all(person, contains(the(tie)))) with two ties found ("cannot tell:
    2 objects match the tie", seen); a tie is any tie, all(tie)."""
    out = []
    for t in typed.walk():
        if t.op is None or t.op.family != "relation":
            continue
        for a in t.args:
            label = head_label(a) if a.op is not None and a.op.name == "the" else None
            if label is None or label == GENERIC:
                continue
            said = [i for i, p in enumerate(q.phrases) if Reading("label", label) in p.readings]
            if said and all(_determiner_of(q, i) in INDEFINITE and not _introduced(q, i) for i in said):
                out.append(a)
    return out


@dataclass(frozen=True)
class Premise:
    """What "There is an object left of the blue cube; how many objects are in front of it?" says first: one
    thing (``thing``: the(...) with its relations, ``relation`` the first of them), named again by a pronoun the
    asked clause's relation ``asked`` is said to ("in front of it", "to its right", "behind that one")."""

    thing: Call
    relation: str
    asked: str

    def program(self) -> str:
        return text(self.thing)


# how a first sentence says a thing is there: "There is a cube left of the ball.", "Look at the big ball ..."
PREMISE_STARTS = frozenset({"there is", "there's", "there 's", "there was", "look at", "consider", "find",
                            "take", "i see", "i can see", "you can see", "we see", "notice"})
# what names it again: "it", "its" (inside "to its right"), "that one", "that thing", "this object"
PRONOUN_NOUNS = frozenset({"one", "thing", "object", "item", "shape"})


def premise_of_the_pronoun(q: QuestionReading) -> Premise | None:
    """The premise of a question whose first sentence is "There is X R Y ..." (a noun phrase with relations and
    nothing else) and whose asked clause says one relation of "it" ("behind it", "to its right"); None for any
    other."""
    head = [p for p in q.phrases if p.start < q.clause_start]
    asked = [p for p in q.phrases if p.start >= q.clause_start]
    if len(head) < 4:
        return None
    starts = " ".join(p.text for p in head[:2])
    skip = 2 if starts in PREMISE_STARTS else 1 if head[0].text in PREMISE_STARTS else 0
    if not skip:
        return None
    np = read_noun_phrase(head, skip)
    if np is None or np.end != len(head) or not np.relations:
        return None
    relations = [a for a in np.node.args if isinstance(a, Call)]
    said = []
    named = {w for w in np.node.args if isinstance(w, Word)}
    for j, p in enumerate(asked):
        if not p.of("relation"):
            continue
        after = [x.text for x in asked[j + 1:j + 3]]
        again = read_noun_phrase(asked, j + 1, nested=True)  # "the metal ball" named again by its words
        if set(p.text.split()) & {"its", "it"} or after[:1] == ["it"] or (
                after[:1] in (["that"], ["this"]) and after[1:] and after[1] in PRONOUN_NOUNS) or (
                again is not None and not again.relations and again.node.op == "the"
                and set(again.node.args) == named):
            said.append(str(p.of("relation")[0].value))
    if len(said) != 1 or not relations:
        return None
    return Premise(Call("the", np.node.args), relations[0].op, said[0])


def premise_settled(q: QuestionReading, typed: Typed) -> set[str]:
    """The relations of a premise the program says as ``premise_elsewhere`` wants: checked there, since "its" names
    no noun the relation checks could go by."""
    premise = premise_of_the_pronoun(q)
    return {premise.relation, premise.asked} if premise is not None and not premise_elsewhere(q, typed) else set()


def premise_elsewhere(q: QuestionReading, typed: Typed) -> list[str]:
    """"There is an object left of the blue cube; how many objects are in front of it?" written with left_of(...)
    a condition of the objects counted (seen; "cannot tell: 5 objects match the object"): the premise's relation
    belongs to the thing "it" names, the one the asked relation is said to."""
    premise = premise_of_the_pronoun(q)
    if premise is None:
        return []
    for t in typed.walk():
        if t.op is None or t.op.name != premise.asked:
            continue
        for a in t.args:
            if a.op is not None and a.op.name == "the" and any(
                    c.op is not None and c.op.name == premise.relation for c in a.args):
                return []
    return [f'the question names again the thing the first sentence says is there: '
            f"{premise.asked}({premise.program()})"]


def _before_values(q: QuestionReading, i: int) -> int:
    """The index of the phrase before the noun phrase whose noun is phrase ``i``, over its values ("a" of "a small
    red cube"); -1 where the question starts with it."""
    j = i - 1
    while j >= 0 and q.phrases[j].of("value") and not q.phrases[j].of("label", "relation"):
        j -= 1
    return j


def _determiner_of(q: QuestionReading, i: int) -> str:
    j = _before_values(q, i)
    return q.phrases[j].text if j >= 0 else ""


def _introduced(q: QuestionReading, i: int) -> bool:
    """Whether the noun phrase of phrase ``i`` is one "There is a ..." introduces: that one thing, named again by
    "it" ("There is a small sphere; how many cubes are left of it?")."""
    j = _before_values(q, i)
    return j >= 1 and q.phrases[j - 1].text in ("there is", "there's", "there was") \
        and any(p.text in REFERRING for p in q.phrases[i + 1:])


def _indefinite_words(q: QuestionReading, t: Typed) -> str:
    label = head_label(t)
    i = next(i for i, p in enumerate(q.phrases) if Reading("label", label) in p.readings)
    return " ".join(p.text for p in q.phrases[max(_before_values(q, i), 0):i + 1])


def said_subjects(q: QuestionReading) -> dict[str, list[SaidNoun | None]]:
    """For each relation the question says, what it says it of (``said_subject``), in the order said."""
    said: dict[str, list[SaidNoun | None]] = {}
    for i, p in enumerate(q.phrases):
        for r in p.of("relation"):
            said.setdefault(str(r.value), []).append(said_subject(q, i))
    return said


def misplaced_images(q: QuestionReading, typed: Typed) -> list[str]:
    """Images compared in the other order than the question's: "Does the second picture have more cubes than the
    third?" written more(count(... img_2), count(... img_1)) (seen; "more" is not symmetric)."""
    images = q.scene.images
    out = []
    for t, first, second in reversed_comparisons(q, typed):
        assert t.op is not None
        out.append(f"in the question {second} ({_ordinal_word(images.index(second))} image) comes first: "
                   f"{t.op.name}(... {second} ..., ... {first} ...)")
    return out


def reversed_comparisons(q: QuestionReading, typed: Typed) -> list[tuple[Typed, str, str]]:
    """(comparison, its first image, its second image) for each comparison of two images, one on each side, in
    the other order than the question's ordinals name them."""
    images = q.scene.images
    if len(images) < 2:
        return []
    named: list[str] = []  # the images the question's ordinals name, in its order
    for i, p in enumerate(q.phrases):
        if p.of("ordinal") and (_before_image_noun(p, q) or i == len(q.phrases) - 1):
            n = p.of("ordinal")[0].value
            index = n - 1 if n > 0 else len(images) - 1
            if 0 <= index < len(images):
                named.append(images[index])
    out = []
    for t in typed.walk():
        if t.op is None or t.op.family != "compare" or len(t.args) != 2:
            continue
        ids = [{str(r.value) for a in arg.walk() for r in a.readings if r.kind == "image_id"} for arg in t.args]
        if all(len(i) == 1 for i in ids) and ids[0] != ids[1] and all(i <= set(named) for i in ids):
            first, second = next(iter(ids[0])), next(iter(ids[1]))
            if named.index(first) > named.index(second):
                out.append((t, first, second))
    return out


def _ordinal_word(index: int) -> str:
    return next((w for n, ws in lexicon().section("ordinals").items() if int(n) == index + 1 for w in ws[:1]),
                str(index + 1))


def _asks_value(q: QuestionReading) -> bool:
    """A wh-question about an attribute ("what color", "which shape", "what is ... made of")."""
    return any(p.of("key") for p in q.phrases) or any(p.text in ("what", "which") for p in q.phrases[:1])


def _equivalent_said(r: Reading, said: list[Reading]) -> bool:
    """Readings the question says in other words: "more" as "most", "same" as a "same number" comparison."""
    if r.kind == "compare" and r.value in ("at_least", "at_most"):
        return any(s.kind == "compare" for s in said)
    if r.kind == "compare" and r.value == "equal":
        return Reading("same", "same") in said
    if r.kind == "same":
        return any(s.kind == "same" for s in said) or Reading("compare", "equal") in said
    return False


__all__ = ["Bounds", "QuestionReading", "Verdict", "bounds", "check", "program_readings", "read_question"]
