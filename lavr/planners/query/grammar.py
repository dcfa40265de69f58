"""The grammar of a query program for one scene: llama.cpp GBNF built from the op registry, the scene's
vocabulary and the lexicon's words for it.

Bounded by what the scene's experts can name and the words that name it (every label's singular, plural and
synonyms, every value's synonyms: "big", "tiny", "shiny", "matte", "ball" are legal and mean what the lexicon
says), and by what the check of the question (``checks.py``) rejects in every program: a word, op or form of answer
it would send back. Never narrowed by word tables of its own: a phrasing no table foresaw must not force the model
down a wrong path. Whether the program says the whole question is checked after generation.

The prompt ends at ``P:`` and the grammar writes the space before the program: the worked examples read
``P: count(...)``, so the model's preferred first token is the space-prefixed one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ...lexicon import LABEL_KEY, Reading, lexicon, tokens
from ...lexicon.nouns import plural_candidates
from ...tools.query.executor import ALL_IMAGES, word_readings
from ...tools.query.ops import QUERY_KEYS, REGISTRY, Op
from ...tools.query.scene import REGIONS, SceneVocabulary
from .checks import Bounds

# Parameter kinds -> grammar rules
_PARAM_RULE = {"set": "set", "object": "object", "cond": "cond", "conds": "conds", "target": "target",
               "number": "numarg", "int": "int", "bool": "bool"}


@dataclass(frozen=True)
class Grammar:
    """A GBNF grammar (llama.cpp's format) and the words it allows, for one scene."""

    gbnf: str
    words: tuple[str, ...]
    keys: tuple[str, ...]


def scene_words(vocabulary: SceneVocabulary, images: list[str], *,
                without: frozenset[Reading] = frozenset(), bounds: Bounds | None = None) -> list[str]:
    """Every condition word a program may write for this scene, as people write them; ``without``: words that
    only mean one of these (what a rewrite must not use again); ``bounds``: only words the question's check can
    accept."""
    lex = lexicon()
    words: list[str] = []
    for label in vocabulary.labels:
        words += lex.words_for_label(label)
    words += lex.category_words(vocabulary.labels)
    for w in lex.generic_words():  # "things", "objects"; not "anythings"
        words += [w] if w.endswith(("thing", "stuff")) and w != "thing" else [w, plural_candidates(w)[0]]
    for key, values in vocabulary.attributes.items():
        for value in values:
            if "-" in value and key == "position":
                continue  # compound positions are written as two words: top, left
            words += lex.words_for_value(key, value)
    words += list(REGIONS)
    if len(images) > 1:
        words += [*images, ALL_IMAGES]
    if without:
        words = [w for w in words if not _only_means(w, vocabulary, without)]
    if bounds is not None:
        words = [w for w in words if w == ALL_IMAGES or bounds.allows_word(
            [r for r in word_readings(w, bounds.scene) if r.kind in ("label", "value", "region", "image_id")])]
    seen: dict[str, None] = {}
    for w in words:
        w = " ".join(w.lower().split())
        if w.replace(" ", "").replace("-", "").replace("_", "").isalnum():
            seen.setdefault(w, None)
    return list(seen)


def _only_means(word: str, vocabulary: SceneVocabulary, meanings: frozenset[Reading]) -> bool:
    lex = lexicon()
    words = tuple(tokens(word))
    readings = [r for r in lex.in_scene(lex.lookup(words) + lex.scene_labels(words, vocabulary), vocabulary)
                if r.kind in ("label", "value")]
    return bool(readings) and all(r in meanings for r in readings)


def query_keys(vocabulary: SceneVocabulary) -> list[str]:
    """The attribute keys an answer may ask for here: the scene's own, shape (a label where no expert gives
    one) and label."""
    keys = [k for k in vocabulary.attributes if k != "position"]
    return list(dict.fromkeys([*QUERY_KEYS[:1], *keys, "shape", LABEL_KEY]))


def _alt(strings: list[str]) -> str:
    return " | ".join(json.dumps(s) for s in strings)


MAX_DEPTH = 4  # sets nested in conditions: three chained relations ("left of the X above the Y behind the Z")
DEPTH_KINDS = ("set", "object", "cond", "conds", "target")  # the rules written once per nesting depth


def _rule(param: str, depth: int) -> str:
    """The rule a parameter takes at ``depth`` (set, object, conditions... are written once per depth)."""
    name = _PARAM_RULE[param]
    return f"{name}{depth}" if name in DEPTH_KINDS else name


def _call(name: str, params: tuple[str, ...], depth: int = MAX_DEPTH) -> str:
    if params == ("comparable", "comparable"):
        return (f'{json.dumps(name + "(")} value ", " value ")" | '
                f'{json.dumps(name + "(")} numarg ", " numarg ")"')
    if not params:
        return json.dumps(name + "()")
    inner = ' ", " '.join(_rule(p, depth) for p in params)
    return f'{json.dumps(name + "(")} {inner} ")"'


def build_grammar(vocabulary: SceneVocabulary, images: list[str], *, without: frozenset[Reading] = frozenset(),
                  without_ops: frozenset[str] = frozenset(), bounds: Bounds | None = None) -> Grammar:
    """The grammar of programs for a scene of ``images`` (ids in order) with ``vocabulary``.

    Sets, objects and conditions are written once per nesting depth (``MAX_DEPTH``): a condition's own sets
    ("left of the X") are one level deeper, so a model cannot loop ``left_of(the(thing, left_of(...)))`` until
    its tokens run out (seen), and the grammar stays finite.

    ``without`` and ``without_ops``: for a rewrite, the meanings and ops the first program used although the
    question says none of them (``checks.Verdict``). The program the question means never uses them, so
    leaving them out cannot exclude it; the model, which was seen writing "metal" for "not rubber" again after
    being told, cannot.

    ``bounds``: what the check of this question rejects in any program (``checks.Bounds``): words and ops that say
    what the question does not, the offered answers of a choice as conditions, answers of another form. Bounded
    by the check itself, not by word tables: a program left out here is one that would never be answered."""
    keys = query_keys(vocabulary)
    same_keys = [k for k in keys if k != LABEL_KEY]
    for k in keys:  # make the per-key ops exist in the registry
        REGISTRY.named(k)
    for k in same_keys:
        REGISTRY.named(f"same_{k}")
        REGISTRY.named(f"alike_{k}")
    several = len(images) > 1
    rules: dict[str, list[str]] = {"answer": [], "number": [], "bool": [], "value": [], "image": []}
    rules.update({f"{kind}{d}": [] for kind in ("set", "object", "cond") for d in range(MAX_DEPTH + 1)})
    for op in REGISTRY.all():
        if not _offered(op, keys, same_keys, several) or op.name in without_ops:
            continue
        if bounds is not None and not bounds.allows_op(op):
            continue
        if op.result in ("set", "object"):
            for d in range(MAX_DEPTH + 1):
                rules[f"{op.result}{d}"].append(_call(op.name, op.params, d))
        elif op.result == "cond":
            for d in range(1, MAX_DEPTH + 1):  # a condition's own sets and conditions are one level deeper
                rules[f"cond{d}"].append(_call(op.name, op.params, d - 1))
        else:
            rules["answer" if op.result == "unsupported" else op.result].append(_call(op.name, op.params))
    forms = {"number": "count", "bool": "bool", "value": "value", "image": "image"}
    rules["answer"] = [r for r in ["number", "bool", "value", "image" if several else ""]
                       if r and (bounds is None or forms[r] in bounds.forms)] + rules["answer"]
    words = scene_words(vocabulary, images, without=without, bounds=bounds)
    generic = [w for w in words if _is_generic(w)]
    for d in range(MAX_DEPTH + 1):
        rules[f"cond{d}"].append("cword")
        rules[f"cc{d}"] = [f'cond{d} (", " cond{d})*']
        # at most one word that names no kind ("thing", "ones"), never inside not/or/and: repeated or nested, such
        # words were a model's loop until its tokens ran out (seen: "the(things, and(something, and(something, ...")
        rules[f"conds{d}"] = ["gword", f'gword ", " cc{d}', f"cc{d}", f'cc{d} ", " gword',
                              f'cc{d} ", " gword ", " cc{d}']
        rules[f"target{d}"] = [f"object{d}", f"set{d}"]
    rules["numarg"] = ["number", "int"]
    rules["int"] = ["[0-9]", "[1-9] [0-9]"]
    rules["gword"] = [_alt(generic)] if generic else []
    rules["cword"] = [_alt([w for w in words if w not in generic])] if len(generic) < len(words) else []
    lines = ['root ::= " " answer']
    lines += [f"{name} ::= " + " | ".join(alternatives) for name, alternatives in _prune(rules).items()]
    return Grammar(gbnf="\n".join(lines) + "\n", words=tuple(words), keys=tuple(keys))


def _is_generic(word: str) -> bool:
    """A word that names no kind of thing and no property ("thing", "objects", "one")."""
    kinds = {r.kind for r in lexicon().lookup(tuple(tokens(word)))}
    return "generic" in kinds and not kinds & {"label", "value"}


_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _prune(rules: dict[str, list[str]]) -> dict[str, list[str]]:
    """Without the rules that derive nothing (no words of that kind here, every op of it left out) and the
    alternatives that need one of them."""
    while True:
        empty = {name for name, alternatives in rules.items() if not alternatives}
        if not empty:
            return rules
        rules = {name: [a for a in alternatives if not set(_NAME.findall(_LITERAL.sub("", a))) & empty]
                 for name, alternatives in rules.items() if name not in empty}


def _offered(op: Op, keys: list[str], same_keys: list[str], several: bool) -> bool:
    if op.family == "query":
        return op.keys[0] in keys
    if op.family in ("same", "alike"):
        return op.keys[0] in same_keys
    if op.family == "image":
        return several
    return True


__all__ = ["Grammar", "build_grammar", "query_keys", "scene_words"]
