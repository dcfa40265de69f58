"""English noun number for label matching: ``singular_candidates("buses")`` and ``plural_candidates("ski")``.

Labels and question words meet at one form (``canonical_label``). The rules are the regular English ones plus a
table of irregular and invariable nouns; where a suffix is ambiguous ("houses" -> "house" or "hous", "ties" ->
"tie" or "ty") every reading is a candidate and the caller keeps the one that is a known label. Written here
rather than imported because the ``inflect`` package costs seconds of import time on a cold ``lavr ask`` (its
functions are instrumented by typeguard when it loads).
"""

from __future__ import annotations

IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "persons": "person", "men": "man", "women": "woman", "children": "child",
    "mice": "mouse", "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "lice": "louse",
    "dice": "die", "knives": "knife", "wives": "wife", "lives": "life", "leaves": "leaf", "wolves": "wolf",
    "halves": "half", "shelves": "shelf", "loaves": "loaf", "calves": "calf", "scarves": "scarf",
    "thieves": "thief", "elves": "elf", "selves": "self", "sheaves": "sheaf", "hooves": "hoof",
    "cacti": "cactus", "fungi": "fungus", "octopi": "octopus", "radii": "radius", "indices": "index",
    "matrices": "matrix", "vertices": "vertex", "axes": "axis", "analyses": "analysis", "crises": "crisis",
    "phenomena": "phenomenon", "criteria": "criterion", "data": "datum", "media": "medium",
    "buses": "bus", "gases": "gas", "lenses": "lens", "canvases": "canvas",
}
SINGULAR_OF_IRREGULAR: dict[str, str] = {v: k for k, v in IRREGULAR_PLURALS.items() if k != "persons"}
# Same in both numbers.
SAME_IN_BOTH: frozenset[str] = frozenset({
    "sheep", "fish", "deer", "moose", "series", "species", "aircraft", "salmon", "trout", "bison", "shrimp",
    "scissors", "pants", "trousers", "jeans", "shorts", "news", "clothes", "stairs"})
# Not plurals although they end in "s".
INVARIABLE: frozenset[str] = SAME_IN_BOTH | frozenset({"bus", "gas", "lens",
    "canvas", "cactus", "octopus", "virus", "status", "campus", "circus", "bonus", "tennis", "chess", "grass",
    "glass", "dress", "cross", "class", "mattress", "compass", "bass", "boss", "moss", "axis", "analysis",
    "crisis", "basis", "chassis", "plus", "yes", "this", "its", "was", "has", "does", "is",
})
_SIBILANT_ENDINGS = ("ches", "shes", "sses", "xes", "zzes", "zes")
# -oes plurals of -o nouns (the others, shoes and toes, only add an s).
_O_ES = frozenset({"tomatoes", "potatoes", "heroes", "echoes", "volcanoes", "mosquitoes", "torpedoes", "vetoes",
                   "dominoes", "mangoes", "buffaloes", "cargoes", "tornadoes", "mottoes", "embargoes"})
# -ies plurals of -ie nouns (the others come from -y: ponies, bodies).
_IE_S = frozenset({"movies", "cookies", "zombies", "calories", "brownies", "rookies", "smoothies", "goalies",
                   "selfies", "hoodies", "pixies", "lies", "ties", "pies", "dies", "magpies", "budgies"})
_CHE_S = frozenset({"headaches", "mustaches", "moustaches", "caches", "niches", "cliches", "avalanches",
                    "microfiches", "psyches"})


def singular_candidates(word: str) -> list[str]:
    """Readings of ``word`` as the singular, most likely first; ``word`` itself is always one of them. In a
    compound only the last word has a number ("wine glasses" -> "wine glass")."""
    w = word.lower()
    if " " in w:
        head, last = w.rsplit(" ", 1)
        return [f"{head} {c}" for c in singular_candidates(last)]
    irregular = [IRREGULAR_PLURALS[w]] if w in IRREGULAR_PLURALS else []
    if w in INVARIABLE or len(w) < 3 or not w.endswith("s") or w.endswith(("ss", "us", "is")):
        return [*irregular, w]
    if w.endswith("zzes"):
        out = [w[:-3], w[:-2]]  # quizzes -> quiz, buzzes -> buzz
    elif w.endswith("ies") and w not in _IE_S:
        out = [w[:-3] + "y", w[:-1]]  # ponies -> pony (movies -> movie is in the table)
    elif w.endswith(_SIBILANT_ENDINGS) and w not in _CHE_S:
        out = [w[:-2], w[:-1]]  # boxes -> box, benches -> bench, glasses -> glass
    elif w.endswith("oes") and w in _O_ES:
        out = [w[:-2], w[:-1]]  # tomatoes -> tomato
    else:
        out = [w[:-1], w[:-2]] if w.endswith("es") else [w[:-1]]  # houses -> house, shoes -> shoe, dogs -> dog
    return [*dict.fromkeys(irregular + out + [w])]  # axes: axis, then axe


def singular(word: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """The singular of ``word``: the first reading that is in ``known`` if any, else the most likely one."""
    candidates = singular_candidates(word)
    return next((c for c in candidates if c in known), candidates[0])


def plural_candidates(word: str) -> list[str]:
    """Readings of ``word`` as a plural: ``ski`` -> ``skis``, ``box`` -> ``boxes``, ``pony`` -> ``ponies``."""
    w = word.lower()
    if " " in w:
        head, last = w.rsplit(" ", 1)
        return [f"{head} {c}" for c in plural_candidates(last)]
    if w in SINGULAR_OF_IRREGULAR:
        return [SINGULAR_OF_IRREGULAR[w]]
    if w in SAME_IN_BOTH:
        return [w]
    if w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        return [w[:-1] + "ies", w + "s"]
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return [w + "es", w + "s"]
    if w.endswith("o"):
        return [w + "es", w + "s"] if w + "es" in _O_ES else [w + "s", w + "es"]
    return [w + "s"]
