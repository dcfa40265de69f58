"""The grammar of a query program for one scene: llama.cpp GBNF built from the op registry, the scene's
vocabulary and the lexicon's words for it.

Bounded by what the scene's experts can name and the words that name it (every label's singular, plural and
synonyms, every value's synonyms: "big", "tiny", "shiny", "matte", "ball" are legal and mean what the lexicon
says), never narrowed by the question's wording: a phrasing no table foresaw must not force the model down a
wrong path. What the question does say is checked after generation (``checks.py``).

The prompt ends at ``P:`` and the grammar writes the space before the program: the worked examples read
``P: count(...)``, so the model's preferred first token is the space-prefixed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...lexicon import LABEL_KEY, lexicon
from ...lexicon.nouns import plural_candidates
from ...tools.query.executor import ALL_IMAGES
from ...tools.query.ops import QUERY_KEYS, REGISTRY, Op
from ...tools.query.scene import REGIONS, SceneVocabulary

# Parameter kinds -> grammar rules
_PARAM_RULE = {"set": "set", "object": "object", "cond": "cond", "conds": "conds", "target": "target",
               "number": "numarg", "int": "int", "bool": "bool"}


@dataclass(frozen=True)
class Grammar:
    """A GBNF grammar (llama.cpp's format) and the words it allows, for one scene."""

    gbnf: str
    words: tuple[str, ...]
    keys: tuple[str, ...]


def scene_words(vocabulary: SceneVocabulary, images: list[str]) -> list[str]:
    """Every condition word a program may write for this scene, as people write them."""
    lex = lexicon()
    words: list[str] = []
    for label in vocabulary.labels:
        words += lex.words_for_label(label)
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
    seen: dict[str, None] = {}
    for w in words:
        w = " ".join(w.lower().split())
        if w.replace(" ", "").replace("-", "").replace("_", "").isalnum():
            seen.setdefault(w, None)
    return list(seen)


def query_keys(vocabulary: SceneVocabulary) -> list[str]:
    """The attribute keys an answer may ask for here: the scene's own, shape (a label where no expert gives
    one) and label."""
    keys = [k for k in vocabulary.attributes if k != "position"]
    return list(dict.fromkeys([*QUERY_KEYS[:1], *keys, "shape", LABEL_KEY]))


def _alt(strings: list[str]) -> str:
    return " | ".join(json.dumps(s) for s in strings)


def _call(name: str, params: tuple[str, ...]) -> str:
    if params == ("comparable", "comparable"):
        return (f'{json.dumps(name + "(")} value ", " value ")" | '
                f'{json.dumps(name + "(")} numarg ", " numarg ")"')
    if not params:
        return json.dumps(name + "()")
    inner = ' ", " '.join(_PARAM_RULE[p] for p in params)
    return f'{json.dumps(name + "(")} {inner} ")"'


def build_grammar(vocabulary: SceneVocabulary, images: list[str]) -> Grammar:
    """The grammar of programs for a scene of ``images`` (ids in order) with ``vocabulary``."""
    keys = query_keys(vocabulary)
    same_keys = [k for k in keys if k != LABEL_KEY]
    for k in keys:  # make the per-key ops exist in the registry
        REGISTRY.named(k)
    for k in same_keys:
        REGISTRY.named(f"same_{k}")
    several = len(images) > 1
    rules: dict[str, list[str]] = {"answer": [], "number": [], "bool": [], "value": [], "image": [],
                                   "set": [], "object": [], "cond": []}
    for op in REGISTRY.all():
        if not _offered(op, keys, same_keys, several):
            continue
        target = "answer" if op.result == "unsupported" else op.result
        rules[target].append(_call(op.name, op.params))
    rules["answer"] = [r for r in ["number", "bool", "value", "image" if several else ""] if r] + rules["answer"]
    words = scene_words(vocabulary, images)
    lines = ['root ::= " " answer']
    for name in ("answer", "number", "bool", "value", "image", "set", "object", "cond"):
        if rules[name]:
            lines.append(f"{name} ::= " + " | ".join(rules[name]))
    lines[-1] += " | word"  # cond: a word too
    lines += ['conds ::= cond (", " cond)*', "target ::= object | set", "numarg ::= number | int",
              'int ::= [0-9] | [1-9] [0-9]', f"word ::= {_alt(words)}"]
    return Grammar(gbnf="\n".join(lines) + "\n", words=tuple(words), keys=tuple(keys))


def _offered(op: Op, keys: list[str], same_keys: list[str], several: bool) -> bool:
    if op.family == "query":
        return op.keys[0] in keys
    if op.family == "same":
        return op.keys[0] in same_keys
    if op.family == "image":
        return several
    return True


__all__ = ["Grammar", "build_grammar", "query_keys", "scene_words"]
