"""English noun number (``lavr.lexicon.nouns``) and label matching through ``canonical_label``."""

import pytest

from lavr.lexicon.nouns import plural_candidates, singular, singular_candidates
from lavr.tools.detect import canonical_label


@pytest.mark.parametrize("plural,one", [
    ("dogs", "dog"), ("boxes", "box"), ("benches", "bench"), ("dishes", "dish"), ("glasses", "glass"),
    ("houses", "house"), ("vases", "vase"), ("shoes", "shoe"), ("tomatoes", "tomato"), ("ponies", "pony"),
    ("cherries", "cherry"), ("movies", "movie"), ("ties", "tie"), ("keys", "key"), ("knives", "knife"),
    ("leaves", "leaf"), ("curves", "curve"), ("children", "child"), ("people", "person"), ("mice", "mouse"),
    ("buses", "bus"), ("quizzes", "quiz"), ("headaches", "headache"), ("circles", "circle"), ("sheep", "sheep"),
    ("wine glasses", "wine glass"), ("police women", "police woman"), ("hot dogs", "hot dog"),
])
def test_plurals_become_singular(plural, one):
    assert singular(plural) == one


@pytest.mark.parametrize("word", ["bus", "glass", "grass", "cactus", "tennis", "axis", "dog", "person", "series"])
def test_singular_words_stay(word):
    assert singular(word) == word and singular_candidates(word)[0] == word


@pytest.mark.parametrize("one,plural", [("dog", "dogs"), ("box", "boxes"), ("glass", "glasses"), ("pony", "ponies"),
                                        ("key", "keys"), ("tomato", "tomatoes"), ("piano", "pianos"),
                                        ("child", "children"), ("knife", "knives"), ("sheep", "sheep"),
                                        ("teddy bear", "teddy bears"), ("fire truck", "fire trucks")])
def test_plural_first_reading(one, plural):
    assert plural_candidates(one)[0] == plural


def test_an_ambiguous_suffix_takes_the_reading_that_is_a_known_label():
    assert singular("hoses") == "hose"
    assert singular("ties", {"tie"}) == "tie" and singular("axes", {"axe"}) == "axe"
    assert canonical_label("axes", ["axe"]) == "axe" and canonical_label("axes") == "axis"


def test_labels_meet_at_one_form_in_both_numbers():
    vocab = ["shoe", "cherry", "skis", "glasses"]  # a detector's own labels, one of them a plural noun
    for word, label in [("shoes", "shoe"), ("Shoe", "shoe"), ("cherries", "cherry"), ("ski", "skis"),
                        ("skis", "skis"), ("glasses", "glasses")]:
        assert canonical_label(word, vocab) == label
