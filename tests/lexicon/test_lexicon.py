"""The one lexicon: phrases and their readings, plurals, what a word means in a scene, number words, forms."""

from __future__ import annotations

from pathlib import Path

import yaml

from lavr.lexicon import COCO_LABELS, GENERIC, Lexicon, Reading, lexicon, load_data, tokens
from lavr.tools.query import SceneVocabulary

REPO = Path(__file__).resolve().parents[2]


def readings(text: str, scene=None) -> list[tuple[str, list[str]]]:
    return [(p.text, [str(r) for r in p.readings]) for p in lexicon().read(text, scene=scene)]


def test_tokens_split_contractions_and_hyphens():
    assert tokens("Isn't the left-most ball grey?") == ["is", "n't", "the", "left", "most", "ball", "grey"]
    assert tokens("in img_1") == ["in", "img_1"]


def test_phrases_are_read_longest_first_with_every_meaning():
    read = dict(readings("Is the thing to the left of the tiny matte block on the far right?"))
    assert read["to the left of"] == ["relation:left_of"]
    assert read["tiny"] == ["size=small"] and read["matte"] == ["material=rubber"]
    assert read["block"] == ["label:cube"] and read["far right"] == ["extreme:rightmost"]
    assert "generic:object" in read["thing"]


def test_a_side_of_the_picture_is_its_third_a_half_a_half_and_a_side_of_an_object_a_relation():
    """Read before, "on the left side of the image" was left_of(the image) and "right hand side" named arms; then
    it was the left half, where two blind writers, told "on the left" is the left third, meant that third."""
    for text, phrase in [("Is anyone on the left side of the image?", "on the left side of the image"),
                         ("Anything on the left-hand side of this photo?", "on the left hand side of this photo"),
                         ("Is anyone standing on the left side?", "left side")]:
        assert dict(readings(text))[phrase] == ["position=left"], text
    assert dict(readings("What is on the right hand side of the photo?"))[
        "on the right hand side of the photo"] == ["position=right"]
    assert dict(readings("Is there a person to the left of the picture?"))["to the left of the picture"] == [
        "region:left_half"]
    assert dict(readings("How many cubes are in the left half?"))["left half"] == ["region:left_half"]
    read = dict(readings("Is the dog on the left-hand side of the bus?"))
    assert read["on the left hand side of"] == ["relation:left_of"] and read["bus"] == ["label:bus"]
    assert dict(readings("Is the cup right of the bowl?"))["right of"] == ["relation:right_of"]


def test_plurals_and_synonyms_meet_at_one_label():
    lex = lexicon()
    assert lex.label_of("buses") == "bus" and lex.label_of("people") == "person"
    assert lex.label_of("traffic lights") == "traffic light" and lex.label_of("skis") == "skis"
    assert lex.label_of("motorbikes") == "motorcycle" and lex.label_of("things") == GENERIC
    assert lex.label_of("balls", known=["sphere"]) == "sphere"
    assert lex.label_of("ball", known=["sports ball"]) == "sports ball"
    assert set(lex.words_for_label("cube")) >= {"cube", "cubes", "block", "blocks"}
    assert lex.label_of("star") is None


def test_a_scene_keeps_only_what_its_experts_can_name():
    shapes = SceneVocabulary(labels=["cube", "sphere"], attributes={"color": ["red"], "size": ["small", "large"]})
    people = SceneVocabulary(labels=["person"], attributes={"posture": ["standing", "sitting", "lying"]})
    assert dict(readings("the ball", shapes))["ball"] == ["label:sphere"]
    # "standing" is a posture among people, a filler among drawn solids ("the cube standing left of ...")
    assert dict(readings("standing", people))["standing"] == ["posture=standing", "function"]
    assert dict(readings("standing", shapes))["standing"] == ["function"]
    assert dict(readings("a dog", shapes))["dog"] == []  # a label no expert of this scene finds
    # a label only this scene's expert has (no lexicon entry) is read as that label, in both numbers
    lamps = SceneVocabulary(labels=["lamp"], attributes={})
    assert dict(readings("two lamps", lamps))["lamps"] == ["label:lamp"]


def test_values_keys_numbers_and_question_forms():
    lex = lexicon()
    assert lex.values_of("shiny") == [("material", "metal")] and lex.values_of("grey") == [("color", "gray")]
    assert lex.key_of("colour") == "color" and lex.key_of("made of") == "material"
    assert lex.number_of("seven") == 7 and lex.number_of("12") == 12
    assert lex.number_words()["three"] == 3
    assert lex.is_yes_no_question("Are there any cubes?") and not lex.is_yes_no_question("Is it metal or rubber?")
    assert lex.asks_count("What number of spheres are there?") and not lex.asks_count("What color is it?")


def test_a_word_is_one_value_of_a_key_and_the_coco_labels_are_ultralytics():
    # (a word may name two labels: "ball" is a sphere among solids, a sports ball in a photo; the scene decides)
    data = load_data()
    seen: dict[tuple[str, str], str] = {}
    for key, values in data["values"].items():
        for value, words in values.items():
            for w in words:
                k = (f"value:{key}", " ".join(tokens(w)))
                assert k not in seen or seen[k] == value, f"{w!r} is two {key} values"
                seen[k] = value
    coco = yaml.safe_load((REPO / ".venv/lib/python3.11/site-packages/ultralytics/cfg/datasets/coco.yaml")
                          .read_text()) if (REPO / ".venv/lib/python3.11/site-packages/ultralytics").exists() else None
    if coco is not None:
        assert tuple(coco["names"].values()) == COCO_LABELS


def test_a_lexicon_is_data_a_new_word_needs_no_code():
    lex = Lexicon({"labels": {"teapot": ["kettle"]}, "values": {"color": {"teal": ["bluegreen"]}}})
    assert lex.label_of("kettles") == "teapot"
    assert lex.values_of("bluegreen") == [("color", "teal")]
    assert lex.lookup(("kettle",)) == [Reading("label", "teapot")]


def test_every_word_of_the_lexicon_files_is_read_as_written():
    """YAML 1.1 reads no, on, off, yes as booleans: "no" was False and "on" True (so "Which picture has no cubes?"
    had an unknown word, and "false" read as "not"). Every word stays the word it is."""
    data = load_data()

    def words(node):
        if isinstance(node, dict):
            for k, v in node.items():
                assert not isinstance(k, bool), k
                yield from words(v)
        elif isinstance(node, list):
            for v in node:
                yield from words(v) if isinstance(v, (dict, list)) else [v]

    found = list(words(data))
    assert found and all(isinstance(w, str) for w in found), [w for w in found if not isinstance(w, str)]
    lex = lexicon()
    assert Reading("number", 0) in lex.lookup(("no",)) and Reading("logic", "not") in lex.lookup(("no",))
    assert lex.lookup(("on",)) == [Reading("function")] and lex.lookup(("false",)) == []
    assert lex.number_words()["no"] == 0


def test_a_comparative_of_size_after_a_count_compares_the_numbers():
    assert dict(readings("Is the number of cubes smaller than the number of spheres?"))["smaller than"] == [
        "compare:fewer"]
    assert dict(readings("Is the number of cubes bigger than 3?"))["bigger than"] == ["compare:more"]
    for sizes in ("Is the cube smaller than the sphere?", "How many things are smaller than the ball?"):
        assert dict(readings(sizes))["smaller than"] == ["relation:smaller_than"]  # sizes compared, not numbers
    assert dict(readings("Is the red cube bigger?"))["bigger"] == ["size=large", "extreme:largest"]
    assert dict(readings("How big is the cube, small or large?"))["how big"] == ["key:size"]
    assert "same" not in str(readings("Is there a cube and also a ball?"))


def test_a_number_that_counts_the_pictures_names_every_picture():
    for text, number in [("How many objects are there in all three images?", "three"),
                         ("How many cubes are in the two photos?", "two")]:
        assert dict(readings(text))[number] == ["image_picker:each"], text
    assert "number:3" in dict(readings("Are there three pictures with cubes?"))["three"]  # no determiner
    assert "number:3" in dict(readings("Are there three cubes in the images?"))["three"]
