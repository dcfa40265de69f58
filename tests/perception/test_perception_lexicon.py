"""lavr/lexicon/perception.yaml: the words the perception experts add to the query language."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import yaml

from lavr.tools.body_attributes import ARMS, FACINGS, POSTURES
from lavr.tools.detect import COCO_LABELS
from lavr.tools.face_attributes import AGES, EXPRESSIONS
from lavr.tools.yolo import LABEL_MAPS


def lexicon() -> dict:
    return yaml.safe_load(resources.files("lavr").joinpath("lexicon/perception.yaml").read_text())


def test_every_coco_label_has_an_entry_and_nothing_else_does():
    assert list(lexicon()["labels"]) == list(COCO_LABELS)


def test_the_attribute_values_are_exactly_those_the_experts_give():
    values = lexicon()["values"]
    # the keypoints' postures and the person detector's ("upright": not fallen; "lying": fallen)
    detector = {a["posture"] for labels in LABEL_MAPS.values() for _, a in labels.values() if "posture" in a}
    given = {"posture": {*POSTURES, *detector}, "arms": ARMS, "facing": FACINGS, "expression": EXPRESSIONS,
             "age": AGES}
    assert {k: set(v) for k, v in values.items()} == {k: set(v) for k, v in given.items()}
    assert set(lexicon()["keys"]) == set(values)


def test_each_word_means_one_thing():
    lex = lexicon()
    words = [w for label, others in lex["labels"].items() for w in [label, *others]]
    words += [w for key, vals in lex["values"].items() for value, others in vals.items() for w in [value, *others]]
    twice = sorted(w for w, n in Counter(words).items() if n > 1)
    assert twice == []


def test_words_are_lower_case_and_plain():
    lex = lexicon()
    groups = [*lex["labels"].values(), *(o for vals in lex["values"].values() for o in vals.values()),
              *lex["keys"].values()]
    for word in (w for group in groups for w in group):
        assert word == word.strip().lower() and "  " not in word, word


def test_words_left_out_on_purpose_stay_out():
    lex = lexicon()
    labels = {w for others in lex["labels"].values() for w in others}
    # eyeglasses, any bag, a motorcycle's seat, gloves, and people of an age are not these labels
    assert not labels & {"glass", "glasses", "bag", "seat", "glove", "gloves", "child", "kid", "adult"}
