"""lavr's one lexicon: every word lavr knows and what it can mean (``words.yaml``, ``perception.yaml``).

The query grammar (which surface words a program may use), the checks of a program against its question (which
words a question says and which the program accounts for), the answers (number words, yes/no questions) and the
rendering of programs in words all read it. A word is added in the YAML files, nowhere else.

``Lexicon.read(text)`` splits a text into phrases, longest first, each with every ``Reading`` the lexicon has for
it ("ball": a sphere or a sports ball; "left": a position, or the direction of "second from the left").
``Lexicon.read(text, scene=...)`` keeps only the readings the scene's experts can give (a sphere where spheres
are known labels), so a word means what it can mean in that scene.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import yaml

from .nouns import plural_candidates, singular_candidates

__all__ = ["GENERIC", "LABEL_KEY", "Lexicon", "Phrase", "Reading", "SceneWords", "lexicon", "tokens"]

GENERIC = "object"  # the label of "any object"
LABEL_KEY = "label"  # the attribute key of an object's own label ("what kind of thing is it?")
DATA_FILES = ("words.yaml", "perception.yaml")

ReadingKind = Literal["label", "generic", "value", "key", "relation", "region", "extreme", "ordinal", "direction",
                      "number", "image_noun", "image_picker", "image_id", "logic", "compare", "same", "form",
                      "picture", "function"]
# "on the left side of the image": a side of the picture, not a relation to an object.
SIDE_REGIONS = {"left_of": "left_half", "right_of": "right_half"}
# "on the left of the picture" says no half: it is "on the left", the left third (the position value); so is "on
# the left side of the picture" (as the blind sets' writers read it, given "on the left" is the left third).
THIRD_OF_THE_PICTURE = {
    **{f"{on}{where}{side} of": where for where in ("left", "right") for on in ("on the ", "to the ", "")
       for side in (" side", " hand side", "-hand side")},
    "on the left of": "left", "on the right of": "right",
}
# Readings that carry no content: a phrase with one of them need not be accounted for by a program.
OPTIONAL_KINDS = frozenset({"generic", "image_noun", "function", "form"})


@dataclass(frozen=True)
class Reading:
    """One meaning of a phrase: ``kind`` and what it names (``("color", "red")`` for a value, ``"left_of"``...)."""

    kind: ReadingKind
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "value":
            return f"{self.value[0]}={self.value[1]}"
        return f"{self.kind}:{self.value}" if self.value is not None else self.kind


@dataclass
class Phrase:
    """Words ``start``..``end`` (exclusive) of a text, as written, with their readings."""

    text: str
    start: int
    end: int
    readings: list[Reading] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {r.kind for r in self.readings}

    def of(self, *kinds: str) -> list[Reading]:
        return [r for r in self.readings if r.kind in kinds]

    @property
    def known(self) -> bool:
        return bool(self.readings)

    @property
    def optional(self) -> bool:
        """Whether the phrase may go unaccounted for: it can be read as a word of no content."""
        return any(r.kind in OPTIONAL_KINDS for r in self.readings)


class SceneWords(Protocol):
    """What the experts of one scene can name (``lavr.tools.query.SceneVocabulary`` is one)."""

    labels: list[str]
    attributes: dict[str, list[str]]


_TOKEN = re.compile(r"img_\d+|n't|'s|[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens: ``"Isn't the left-most ball grey?"`` -> is, n't, the, left, most, ball, grey."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(\w)n't\b", r"\1 n't", text)
    return _TOKEN.findall(text)


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(tokens(phrase))


class Lexicon:
    """The words of ``data`` (the parsed YAML files, merged), indexed by phrase."""

    def __init__(self, data: dict[str, Any], *, coco_labels: Iterable[str] = ()):
        self.data = data
        self.table: dict[tuple[str, ...], list[Reading]] = {}
        self.label_words: dict[str, list[str]] = {}
        for label in coco_labels:
            self.label_words.setdefault(label, [])
        for label, words in (data.get("labels") or {}).items():
            self.label_words.setdefault(str(label), []).extend(str(w) for w in words or [])
        for label, words in self.label_words.items():
            for word in [label, *words]:
                self._add(word, Reading("label", label))
        for category, labels in (data.get("categories") or {}).items():
            for label in labels:  # "animal": each of its labels (a condition on it is any of them)
                self._add(str(category), Reading("label", str(label)))
        for word in data.get("generic") or []:
            self._add(word, Reading("generic", GENERIC))
        self.values: dict[str, dict[str, list[str]]] = {}
        for key, values in (data.get("values") or {}).items():
            for value, words in (values or {}).items():
                self.values.setdefault(str(key), {}).setdefault(str(value), []).extend(str(w) for w in words or [])
        for key, values in self.values.items():
            for value, words in values.items():
                for word in [value, *words]:
                    self._add(word, Reading("value", (key, value)))
        self.keys: dict[str, list[str]] = {str(k): [str(w) for w in ws] for k, ws in (data.get("keys") or {}).items()}
        for key, words in self.keys.items():
            for word in words:
                self._add(word, Reading("key", key))
        simple = {"relations": "relation", "regions": "region", "extremes": "extreme",
                  "ordinal_directions": "direction", "image_pickers": "image_picker", "logic": "logic",
                  "comparisons": "compare", "sameness": "same", "question_forms": "form"}
        for section, kind in simple.items():
            for name, words in (data.get(section) or {}).items():
                for word in words or []:
                    self._add(str(word), Reading(kind, name))  # type: ignore[arg-type]
        numbers = data.get("numbers") or {}
        self.numbers: dict[int, list[str]] = {int(n): [str(w) for w in ws] for n, ws in numbers.items()}
        for n, words in self.numbers.items():
            for word in words:
                self._add(word, Reading("number", n))
        for n, words in (data.get("ordinals") or {}).items():
            for word in words:
                self._add(str(word), Reading("ordinal", int(n)))
        self.image_nouns = {str(w) for w in data.get("image_nouns") or []}
        for word in self.image_nouns:
            self._add(word, Reading("image_noun"))
        for word in data.get("picture_words") or []:
            self._add(str(word), Reading("picture"))
        for word in data.get("function_words") or []:
            self._add(str(word), Reading("function"))
        self.longest = max((len(k) for k in self.table), default=1)

    def _add(self, phrase: str, reading: Reading) -> None:
        key = _key(phrase)
        if not key:
            return
        readings = self.table.setdefault(key, [])
        if reading not in readings:
            readings.append(reading)

    # Look-ups ----------------------------------------------------------------------------------------------
    def lookup(self, words: tuple[str, ...]) -> list[Reading]:
        """The readings of a phrase; a plural label ("buses", "traffic lights") reads as its singular."""
        found = list(self.table.get(words, []))
        if words and not any(r.kind == "label" for r in found):
            head, last = words[:-1], words[-1]
            for one in singular_candidates(last):
                if one != last:
                    found += [r for r in self.table.get((*head, one), []) if r.kind in ("label", "generic")
                              and r not in found]
        if len(words) == 1 and re.fullmatch(r"\d+", words[0]):
            found.append(Reading("number", int(words[0])))
        if len(words) == 1 and re.fullmatch(r"img_\d+", words[0]):
            found.append(Reading("image_id", words[0]))
        return found

    def read(self, text: str, *, scene: SceneWords | None = None) -> list[Phrase]:
        """The phrases of ``text``, longest match first, with their readings (only those ``scene`` can give)."""
        words = tokens(text)
        out: list[Phrase] = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                readings = self.lookup(tuple(words[i:i + n]))
                if scene is not None:
                    readings = self.in_scene(readings + self.scene_labels(tuple(words[i:i + n]), scene), scene)
                if readings or n == 1:
                    out.append(Phrase(" ".join(words[i:i + n]), i, i + n, readings))
                    i += n
                    break
        out = pictures_as_subjects(sides_of_the_picture(out), self.image_nouns)
        return numbers_of_pictures(numbers_compared(sizes_or_counts(out), self.lookup), self.image_nouns)

    def scene_labels(self, words: tuple[str, ...], scene: SceneWords) -> list[Reading]:
        """A label only the scene's experts have (no entry here: "frame"), named by its own word in either number."""
        if not words:
            return []
        head, last = words[:-1], words[-1]
        for one in [last, *singular_candidates(last)]:
            label = " ".join((*head, one))
            if label in scene.labels and label not in self.label_words:
                return [Reading("label", label)]
        return []

    def in_scene(self, readings: list[Reading], scene: SceneWords) -> list[Reading]:
        """The readings a scene's experts can give: its labels, its attribute keys and their values.

        Of a word's label readings, those the scene knows are kept ("ball": sphere where spheres are known);
        a value of a key the scene does not have is dropped ("sitting" is no posture among drawn shapes).
        """
        labels = set(scene.labels)
        kept = []
        for r in readings:
            if r.kind == "label" and r.value not in labels:
                continue
            if r.kind == "value" and not self.scene_has_value(scene, *r.value):
                continue
            if r.kind == "key" and r.value not in (LABEL_KEY, "shape") and r.value not in scene.attributes:
                continue
            kept.append(r)
        return kept

    @staticmethod
    def scene_has_value(scene: SceneWords, key: str, value: str) -> bool:
        values = scene.attributes.get(key)
        if values is None:
            return False
        return value in values or any(value in v.split("-") for v in values)

    # One word at a time ------------------------------------------------------------------------------------
    def label_of(self, word: str, known: Iterable[str] | None = None) -> str | None:
        """The canonical label a word or phrase names ("buses" -> bus, "ball" -> sphere where sphere is known),
        GENERIC for a generic noun, None for no label."""
        readings = self.lookup(_key(word))
        labels = list(dict.fromkeys(r.value for r in readings if r.kind == "label"))
        if known is not None:
            known = set(known)
            inside = [lbl for lbl in labels if lbl in known]
            labels = inside or labels
        if len(labels) > 1:  # "animal", "ball": a kind or an ambiguous word, not one label
            own = " ".join(tokens(word))
            return own if own in labels else None
        if labels:
            return str(labels[0])
        if any(r.kind == "generic" for r in readings):
            return GENERIC
        return None

    def values_of(self, word: str) -> list[tuple[str, str]]:
        """The (key, value) pairs a word names: "shiny" -> [("material", "metal")]."""
        return [r.value for r in self.lookup(_key(word)) if r.kind == "value"]

    def key_of(self, word: str) -> str | None:
        """The attribute key a word names ("colour" -> color); a key's own name names it."""
        w = " ".join(tokens(word))
        if w in self.keys or w == LABEL_KEY:
            return w
        found = [r.value for r in self.lookup(_key(word)) if r.kind == "key"]
        return str(found[0]) if found else None

    def number_of(self, word: str) -> int | None:
        found = [r.value for r in self.lookup(_key(word)) if r.kind == "number"]
        return int(found[0]) if found else None

    def words_for_label(self, label: str) -> list[str]:
        """Every word that names ``label``, singular and plural: cube, cubes, block, blocks, cuboid, ...; a label
        the lexicon does not list is named by its own word."""
        if label not in self.label_words:
            return [label, plural_candidates(label)[0]]
        out: list[str] = []
        for word in [label, *self.label_words.get(label, [])]:
            for form in [word, *plural_candidates(word)]:
                if form not in out and label in [r.value for r in self.lookup(_key(form)) if r.kind == "label"]:
                    out.append(form)
        return out

    def category_words(self, labels: Iterable[str]) -> list[str]:
        """Words for kinds of things ("animal", "vehicle") with a member among ``labels``, in both numbers."""
        known = set(labels)
        out: list[str] = []
        for category, members in (self.data.get("categories") or {}).items():
            if known & {str(m) for m in members}:
                out += [str(category), plural_candidates(str(category))[0]]
        return out

    def words_for_value(self, key: str, value: str) -> list[str]:
        return [value, *self.values.get(key, {}).get(value, [])]

    def generic_words(self) -> list[str]:
        return [str(w) for w in self.data.get("generic") or []]

    def section(self, name: str) -> dict[str, list[str]]:
        """A section of name -> words ("relations", "extremes", ...), as written."""
        return {str(k): [str(w) for w in v] for k, v in (self.data.get(name) or {}).items()}

    def number_words(self) -> dict[str, int]:
        """Number words -> their value ("three" -> 3), for answers."""
        return {w: n for n, ws in self.numbers.items() for w in ws if " " not in w}

    def is_yes_no_question(self, question: str) -> bool:
        """Whether a question is answered yes or no: it starts with an auxiliary verb ("Is there...", "Can you
        see...") and offers no choice between values ("Is it metal or rubber?" is answered with a value)."""
        words = tokens(question)
        starts = {w for w in self.section("question_forms").get("yes_no", [])}
        return bool(words) and words[0] in starts and "or" not in words

    def asks_count(self, question: str) -> bool:
        """Whether a question asks for a number ("how many", "what number of", "count the ...")."""
        return any(r == Reading("form", "count") for p in self.read(question) for r in p.readings)


def _merge(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = [*into[key], *[v for v in value if v not in into[key]]]
        else:
            into[key] = value
    return into


class _WordLoader(yaml.SafeLoader):
    """YAML with words as words: "no", "on", "off", "yes" stay strings (YAML 1.1 reads them as booleans, and
    "no" became False); numbers stay numbers (the keys of ``numbers`` and ``ordinals``)."""


_WordLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_data(files: Iterable[str] = DATA_FILES) -> dict[str, Any]:
    data: dict[str, Any] = {}
    root = importlib.resources.files(__package__)
    for name in files:
        resource = root / name
        if resource.is_file():
            _merge(data, yaml.load(resource.read_text(encoding="utf-8"), Loader=_WordLoader) or {})  # noqa: S506
    return data


COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
"""The 80 COCO labels (as in ultralytics' coco.yaml; a test checks they agree), known without being listed."""


@functools.cache
def lexicon() -> Lexicon:
    """The package's lexicon (loaded once)."""
    return Lexicon(load_data(), coco_labels=COCO_LABELS)


def sides_of_the_picture(phrases: list[Phrase]) -> list[Phrase]:
    """A left/right relation whose object is the picture itself ("to the left of the photo", "on the right-hand
    side of the image") becomes that half of the picture, one phrase."""
    out: list[Phrase] = []
    i = 0
    while i < len(phrases):
        phrase = phrases[i]
        region = next((SIDE_REGIONS[r.value] for r in phrase.readings
                       if r.kind == "relation" and r.value in SIDE_REGIONS), None)
        j = i + 1
        while region and j < len(phrases) and phrases[j].text in ("the", "this", "that"):
            j += 1
        if region and j < len(phrases) and "image_noun" in phrases[j].kinds():
            third = THIRD_OF_THE_PICTURE.get(phrase.text)  # "on the left of the picture" is "on the left"
            out.append(Phrase(" ".join(p.text for p in phrases[i:j + 1]), phrase.start, phrases[j].end,
                              [Reading("value", ("position", third)) if third else Reading("region", region)]))
            i = j + 1
            continue
        out.append(phrase)
        i += 1
    return out


def sizes_or_counts(phrases: list[Phrase]) -> list[Phrase]:
    """"larger than", "smaller than" compare numbers before a count or a number ("Is the number of cubes smaller
    than the number of spheres?", "... bigger than 3?") and the sizes of things elsewhere ("Is the cube smaller than
    the sphere?", "How many things are smaller than the ball?"), as ``numbers_compared`` reads "smaller"."""
    out = []
    for i, p in enumerate(phrases):
        if "compare" in p.kinds() and any(r.value in ("larger_than", "smaller_than") for r in p.of("relation")):
            after = [x for x in phrases[i + 1:i + 3] if x.text not in ("the", "a")]
            counted = bool(after) and any(r == Reading("form", "count") or r.kind == "number"
                                          for r in after[0].readings)
            keep = "compare" if counted else "relation"
            p = Phrase(p.text, p.start, p.end, [r for r in p.readings if r.kind == keep])
        out.append(p)
    return out


def pictures_as_subjects(phrases: list[Phrase], image_nouns: set[str]) -> list[Phrase]:
    """A verb of having whose subject is a picture ("Does either image contain ...", "Do both photos include ...")
    says only that something is in it, never the ``contains`` relation between objects."""
    out: list[Phrase] = []
    for i, phrase in enumerate(phrases):
        before = phrases[i - 1].text.split()[-1] if i else ""
        if before in image_nouns and phrase.readings and all(
                r in (Reading("relation", "contains"), Reading("function")) for r in phrase.readings):
            phrase = Phrase(phrase.text, phrase.start, phrase.end, [Reading("function")])
        out.append(phrase)
    return out


# A comparative of size that compares two counts: its comparison.
COMPARATIVE_SIZES = {"small": "fewer", "large": "more"}


def numbers_compared(phrases: list[Phrase], lookup: Callable[[tuple[str, ...]], list[Reading]]) -> list[Phrase]:
    """"Is the number of cubes smaller than the number of spheres?", "... bigger than 3?": a comparative of size
    ("smaller", "bigger") followed by "than" and a number or a count compares numbers, not sizes (read in the
    lexicon, whatever the scene's attributes); "bigger than the ball" stays a size."""
    out: list[Phrase] = []
    for i, phrase in enumerate(phrases):
        sizes = [r.value[1] for r in lookup(tuple(phrase.text.split()))
                 if r.kind == "value" and r.value[0] == "size" and r.value[1] in COMPARATIVE_SIZES]
        after = [p for p in phrases[i + 1:i + 4] if p.text not in ("the", "a")]
        if sizes and phrase.text.endswith("er") and len(after) > 1 and after[0].text == "than" and any(
                r == Reading("form", "count") or r.kind == "number" for r in after[1].readings):
            phrase = Phrase(phrase.text, phrase.start, phrase.end, [Reading("compare", COMPARATIVE_SIZES[sizes[0]])])
        out.append(phrase)
    return out


PICTURES_DETERMINERS = frozenset({"all", "the", "these", "those", "both", "my", "our"})


def numbers_of_pictures(phrases: list[Phrase], image_nouns: set[str]) -> list[Phrase]:
    """"In all three images", "across the two pictures": a number after a determiner that counts the pictures
    names every one of them, never a count of things ("Are there two pictures with cubes?" is not read so)."""
    out: list[Phrase] = []
    for i, phrase in enumerate(phrases):
        following = phrases[i + 1] if i + 1 < len(phrases) else None
        before = phrases[i - 1].text.split()[-1] if i else ""
        noun = following.text.split()[0] if following is not None else ""  # "images contain": one phrase
        if phrase.of("number") and noun.endswith("s") and noun in image_nouns and before in PICTURES_DETERMINERS:
            phrase = Phrase(phrase.text, phrase.start, phrase.end, [Reading("image_picker", "each")])
        out.append(phrase)
    return out
