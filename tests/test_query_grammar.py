"""The compact form's JSON schema: valid expressions pass, invented names fail, and the question narrows the names,
per position where the question's word order tells (the subject of a relation before its word, the reference
after it)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lavr.planners.query.prompt import load_worked_examples
from lavr.tools.query import SceneVocabulary, allowed_names, compact_schema, parse_compact
from lavr.tools.query.compact import MAX_DEPTH
from query_scenes import scene, shapes


def valid(schema: dict, expression) -> bool:
    try:
        jsonschema.validate(expression, schema)
        return True
    except jsonschema.ValidationError:
        return False


def vocab() -> SceneVocabulary:
    return SceneVocabulary.from_graph(shapes())


COUNT_RED = ["count", ["filter", "object", "red"]]


def test_every_worked_example_fits_the_schema_of_its_scene_and_question():
    for ex in load_worked_examples():
        v = SceneVocabulary.from_graph(ex.scene.graph())
        assert valid(compact_schema(v), ex.program), ex.id
        assert valid(compact_schema(v, ex.question), ex.program), ex.id  # narrowing keeps the right program


def test_invented_names_and_shapes_are_rejected():
    schema = compact_schema(vocab())
    assert valid(schema, COUNT_RED)
    for bad in (["count", ["filter", "object", "plaid"]],  # a value no expert gives
                ["count", ["filter", "giraffe", "red"]],  # a label no expert knows
                ["tally", ["filter", "object", "red"]],  # an op that does not exist
                ["count", ["filter", "object", "red"], "why"],  # an extra argument
                ["count"], [], {"steps": []}, "circle"):  # too short, empty, the flat form, a set as the answer
        assert not valid(schema, bad), bad
    relation = ["verify", "circle", "left_of", "square"]
    assert valid(schema, relation)
    assert not valid(schema, ["verify", "circle", "beyond", "square"])


def test_sets_nest_at_most_max_depth_deep():
    schema = compact_schema(vocab())
    expr: object = "circle"
    for _ in range(MAX_DEPTH):
        expr = ["filter", expr, "red"]
    assert valid(schema, ["count", expr])
    assert not valid(schema, ["count", ["filter", expr, "red"]])  # a model cannot loop a filter forever


def test_a_generic_noun_cannot_become_a_filter_value():
    # The failure seen with a loose schema: "Count the red shapes." -> filter shape=circle.
    schema = compact_schema(vocab(), "Count the red shapes.")
    assert valid(schema, COUNT_RED)
    assert not valid(schema, ["count", ["filter", "circle", "red"]])
    assert not valid(schema, ["count", ["filter", "object", "blue"]])
    allowed = allowed_names(vocab(), "Count the red shapes.")
    assert allowed.all_labels == ["object"] and allowed.values == ["red"] and allowed.keys == ["color"]


def test_an_attribute_given_shape_is_not_invented_either():
    g = scene(("object", [0.1, 0.1, 0.2, 0.2], {"shape": "circle", "color": "red"}),
              ("object", [0.5, 0.5, 0.6, 0.6], {"shape": "square", "color": "blue"}))
    allowed = allowed_names(SceneVocabulary.from_graph(g), "How many red shapes are there?")
    assert allowed.values == ["red"] and allowed.labels == ["object"]
    allowed = allowed_names(SceneVocabulary.from_graph(g), "How many red circles are there?")
    assert allowed.values == ["circle", "red"] and allowed.keys == ["color", "shape"]


@pytest.mark.parametrize("question,field,expected", [
    ("How many circles are there?", "all_labels", ["circle"]),
    ("Are there more squares than triangles?", "all_labels", ["square", "triangle"]),
    ("Is the frame bigger than the star?", "all_labels", ["frame", "star"]),
    ("Is there a giraffe?", "all_labels", "any"),  # no known label, no generic noun: free, checked after generation
    ("What is to the left of the blue circle?", "relations", ["left_of"]),
    ("Is the square under the frame or next to it?", "relations", ["below", "near"]),
    ("Is the circle inside the frame?", "relations", ["inside"]),
    ("How many circles are there?", "relations", []),  # nothing named: no relate, no verify
    ("How many circles are in this picture?", "relations", []),  # "in" relates only when a nameable thing follows
    ("What color is the leftmost object?", "named_extremes", ["leftmost"]),
    ("Which shape is the biggest?", "named_extremes", ["largest"]),
    ("What color is the square?", "named_extremes", []),
    ("Is there a grey circle?", "values", ["gray"]),
    ("How many objects are in the top left?", "values", ["left", "top", "top-left"]),
    ("What color is the square?", "values", []),  # no value named: no filter at all (nothing to invent)
    ("Is there a star?", "all_labels", ["star"]),  # no generic word: "object" is not offered
    ("What is left of the star?", "all_labels", ["object", "star"]),
    ("How many squares are not red?", "logic", ["except", "not"]),
    ("Is there a star or a frame?", "logic", ["or"]),  # only the join its words make
    ("Are there both a star and a frame?", "logic", ["and"]),
    ("How many red squares are there?", "logic", []),
])
def test_narrowing_by_the_questions_words(question, field, expected):
    got = getattr(allowed_names(vocab(), question), field)
    assert got == (None if expected == "any" else expected)


def test_no_filter_is_offered_when_the_question_names_no_value():
    schema = compact_schema(vocab(), "Is there a star?")
    assert '"filter"' not in json.dumps(schema)
    assert not valid(schema, ["exist", ["filter", "star", "yellow"]])
    assert valid(schema, ["exist", "star"])


def test_a_free_label_is_a_string_in_the_schema():
    schema = compact_schema(vocab(), "Is there a giraffe?")
    assert valid(schema, ["exist", "giraffe"])  # the grammar lets it through; the vocabulary check refuses it


def test_left_of_is_a_relation_and_on_the_left_a_position():
    rel = allowed_names(vocab(), "How many circles are left of the triangle?")
    assert rel.relations == ["left_of"] and rel.values == []
    pos = allowed_names(vocab(), "How many circles are on the left?")
    assert pos.values == ["left"] and pos.relations == []  # a position, no relation
    assert '"relate"' not in json.dumps(compact_schema(vocab(), "How many circles are on the left?"))
    assert allowed_names(vocab(), "What is on top of the frame?").relations == ["above"]


def test_the_subject_comes_before_the_relation_word_and_the_reference_after_it():
    question = "How many circles are left of the triangle?"
    allowed = allowed_names(vocab(), question)
    assert allowed.relate_labels == ["circle"] and allowed.reference_labels == ["triangle"]
    schema = compact_schema(vocab(), question)
    assert valid(schema, ["count", ["relate", "circle", "left_of", "triangle"]])
    assert not valid(schema, ["count", ["relate", "triangle", "left_of", "circle"]])  # reversed
    assert allowed_names(vocab(), "What is inside the frame?").relate_labels == ["object"]
    verify = compact_schema(vocab(), "Is the red circle left of the green square?")
    assert valid(verify, ["verify", ["filter", "circle", "red"], "left_of", ["filter", "square", "green"]])
    assert not valid(verify, ["verify", ["filter", "square", "green"], "left_of", ["filter", "circle", "red"]])
    assert "relate" in allowed_names(vocab(), "Is the red circle left of the green square?").excluded_ops


def test_is_there_asks_for_existence_not_verify():
    schema = json.dumps(compact_schema(vocab(), "Is there a square below the red circle?"))
    assert '"verify"' not in schema and '"relate"' in schema and '"exist"' in schema
    assert '"verify"' in json.dumps(compact_schema(vocab(), "Is the square below the red circle?"))
    # counting and existence are always expressible: no "unsupported" way out
    assert '"unsupported"' not in schema
    assert '"unsupported"' not in json.dumps(compact_schema(vocab(), "How many stars are there?"))
    assert '"unsupported"' in json.dumps(compact_schema(vocab(), "What does the text on the frame say?"))


def test_numbers_are_those_the_question_names():
    schema = compact_schema(vocab(), "Are there more than three squares?")
    assert valid(schema, ["more_than", "square", 3]) and not valid(schema, ["more_than", "square", 4])
    assert valid(compact_schema(vocab(), "Are there exactly 2 circles?"), ["exactly", "circle", 2])


def test_people_words_select_person():
    g = scene(("person", [0.1, 0.1, 0.2, 0.5], {"posture": "fallen"}), known_labels=["person"])
    g.add_node("obj_9", label="person", box=g.nodes["obj_0"]["box"], attributes={"posture": "upright"})
    v = SceneVocabulary.from_graph(g)
    assert allowed_names(v, "Is anyone lying on the ground?").labels == ["person"]
    assert allowed_names(v, "How many people are standing?").values == ["upright"]
    assert allowed_names(v, "Is anyone on the ground?").values == ["fallen"]
    assert allowed_names(v, "How many people are there?").values == []


def test_the_schema_is_a_llama_cpp_grammar():
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    schema = compact_schema(vocab(), "Is the red circle to the left of the green square?")
    gbnf = json_schema_to_gbnf(json.dumps(schema))
    assert '"\\"left_of\\""' in gbnf and "giraffe" not in gbnf
    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # parses as a grammar


def test_expressions_the_schema_accepts_parse_and_run():
    schema = compact_schema(vocab(), "How many red objects are there?")
    assert valid(schema, COUNT_RED)
    program = parse_compact(COUNT_RED, vocab())
    assert [s.op for s in program.steps] == ["select", "filter", "count"]


def test_a_question_naming_no_object_can_only_be_unsupported():
    for question in ("What color is the background?", "Is this image a photograph or a drawing?",
                     "On what color of background are the shapes drawn?"):  # the shapes: only where it is drawn
        assert compact_schema(vocab(), question)["anyOf"] == [
            {"type": "array", "prefixItems": [{"const": "unsupported"}], "items": False, "minItems": 1,
             "maxItems": 1}], question
    assert len(compact_schema(vocab(), "Which shape is the biggest?")["anyOf"]) > 1  # a generic noun names objects
    assert len(compact_schema(vocab(), "How many giraffes are there?")["anyOf"]) > 1  # counting stays expressible


def test_a_yes_no_question_is_not_answered_with_a_number():
    for question in ("Can you see the square?", "Is there a circle?", "Are the squares red?"):
        assert '"count"' not in json.dumps(compact_schema(vocab(), question)["anyOf"]), question
    schema = compact_schema(vocab(), "Are there more than two squares?")
    assert valid(schema, ["more_than", "square", 2])  # a count inside a comparison stays
    assert '"count"' in json.dumps(compact_schema(vocab(), "How many squares are there?"))


def materials() -> SceneVocabulary:
    """A CLEVR-like scene, as the shapes set describes it: shape, colour, size and material."""
    return SceneVocabulary.from_graph(scene(
        ("circle", [0.70, 0.10, 0.85, 0.25], {"shape": "circle", "color": "green", "size": "small", "material": "metal"}),
        ("square", [0.10, 0.10, 0.40, 0.40], {"shape": "square", "color": "yellow", "size": "large", "material": "rubber"}),
        ("square", [0.10, 0.60, 0.40, 0.90], {"shape": "square", "color": "red", "size": "large", "material": "metal"}),
        known_labels=["circle", "square"]))


def test_a_yes_no_question_is_not_answered_with_a_label():
    schema = compact_schema(vocab(), "Is the small triangle below the yellow square?")
    small_triangle, yellow_square = ["filter", "triangle", "small"], ["filter", "square", "yellow"]
    assert not valid(schema, ["query", ["relate", small_triangle, "below", yellow_square], "label"])
    assert valid(schema, ["verify", small_triangle, "below", yellow_square])


def test_a_choice_of_values_is_answered_by_a_query_and_its_words_still_describe():
    question = "Is the circle right of the large rubber square made of metal or rubber?"
    schema = compact_schema(materials(), question)
    right = ["query", ["relate", "circle", "right_of", ["filter", "square", "large", "rubber"]], "material"]
    assert valid(schema, right)
    assert parse_compact(right, materials())
    # "rubber" before "square" describes it; the same word in "metal or rubber" is a candidate answer
    assert not valid(schema, ["query", ["relate", "circle", "right_of", ["filter", "square", "large"]], "material"])
    assert not valid(schema, ["verify", "circle", "right_of", ["filter", "square", "large", "rubber"]])
    assert not valid(schema, ["exist", ["relate", "circle", "right_of", ["filter", "square", "large", "rubber"]]])
    # an existence question with "or" is not a choice: yes or no, never a material
    assert not valid(compact_schema(materials(), "Is there a metal or rubber circle?"), ["query", "circle", "material"])


def test_same_number_compares_counts_and_same_shape_compares_an_attribute():
    counts = compact_schema(materials(), "Are there the same number of rubber objects and metal shapes?")
    assert valid(counts, ["equal", ["filter", "object", "rubber"], ["filter", "object", "metal"]])
    assert not valid(counts, ["same", ["filter", "object", "metal"], "shape"])
    attribute = compact_schema(materials(), "Is the green object the same shape as the yellow object?")
    assert valid(attribute, ["same", ["filter", "object", "green"], "shape", ["filter", "object", "yellow"]])
    assert not valid(attribute, ["same", "object", "shape", "object"])  # "shape" there names no object
    assert not valid(attribute, ["equal", ["filter", "object", "green"], ["filter", "object", "yellow"]])
