"""The language's JSON schema: valid programs pass, invented names fail, and the question narrows the names."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lavr.planners.query.prompt import load_worked_examples
from lavr.tools.query import SceneVocabulary, allowed_names, parse_program, program_schema
from query_scenes import scene, shapes


def valid(schema: dict, program: dict) -> bool:
    try:
        jsonschema.validate(program, schema)
        return True
    except jsonschema.ValidationError:
        return False


def vocab() -> SceneVocabulary:
    return SceneVocabulary.from_graph(shapes())


COUNT_RED = {"steps": [{"op": "select", "label": "object"},
                       {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
                       {"op": "count", "input": 1}]}


def test_every_worked_example_fits_the_schema_of_its_scene_and_question():
    for ex in load_worked_examples():
        program = json.loads(ex.parsed().to_json())
        v = SceneVocabulary.from_graph(ex.scene.graph())
        assert valid(program_schema(v), program), ex.id
        assert valid(program_schema(v, ex.question), program), ex.id  # narrowing keeps the right program


def test_invented_names_and_shapes_are_rejected():
    schema = program_schema(vocab())
    assert valid(schema, COUNT_RED)
    bad_value = json.loads(json.dumps(COUNT_RED).replace('"red"', '"plaid"'))
    bad_key = json.loads(json.dumps(COUNT_RED).replace('"color"', '"material"'))
    bad_label = json.loads(json.dumps(COUNT_RED).replace('"object"', '"giraffe"'))
    bad_op = json.loads(json.dumps(COUNT_RED).replace('"count"', '"tally"'))
    extra = json.loads(json.dumps(COUNT_RED).replace('"input": 1}', '"input": 1, "why": "x"}'))
    missing = {"steps": [{"op": "select"}]}
    for program in (bad_value, bad_key, bad_label, bad_op, extra, missing, {"steps": []}, {"plan": []}):
        assert not valid(schema, program), program
    relation = {"steps": [{"op": "select", "label": "circle"}, {"op": "select", "label": "square"},
                          {"op": "verify", "input": 0, "relation": "left_of", "other": 1}]}
    assert valid(schema, relation)
    assert not valid(schema, json.loads(json.dumps(relation).replace("left_of", "beyond")))


def test_a_generic_noun_cannot_become_a_filter_value():
    # The failure seen with a loose schema: "Count the red shapes." -> filter shape=circle.
    schema = program_schema(vocab(), "Count the red shapes.")
    assert valid(schema, COUNT_RED)
    invented = {"steps": [{"op": "select", "label": "circle"}, *COUNT_RED["steps"][1:]]}
    assert not valid(schema, invented)
    other_value = json.loads(json.dumps(COUNT_RED).replace('"red"', '"blue"'))
    assert not valid(schema, other_value)
    allowed = allowed_names(vocab(), "Count the red shapes.")
    assert allowed.labels == ["object"] and allowed.values == ["red"] and allowed.keys == ["color"]


def test_an_attribute_given_shape_is_not_invented_either():
    g = scene(("object", [0.1, 0.1, 0.2, 0.2], {"shape": "circle", "color": "red"}),
              ("object", [0.5, 0.5, 0.6, 0.6], {"shape": "square", "color": "blue"}))
    allowed = allowed_names(SceneVocabulary.from_graph(g), "How many red shapes are there?")
    assert allowed.values == ["red"] and allowed.labels == ["object"]
    allowed = allowed_names(SceneVocabulary.from_graph(g), "How many red circles are there?")
    assert allowed.values == ["circle", "red"] and allowed.keys == ["color", "shape"]


@pytest.mark.parametrize("question,field,expected", [
    ("How many circles are there?", "labels", ["circle"]),
    ("Are there more squares than triangles?", "labels", ["square", "triangle"]),
    ("Is the frame bigger than the star?", "labels", ["frame", "star"]),
    ("Is there a giraffe?", "labels", "any"),  # no known label, no generic noun: free, checked after generation
    ("What is to the left of the blue circle?", "relations", ["left_of"]),
    ("Is the square under the frame or next to it?", "relations", ["below", "near"]),
    ("Is the circle inside the frame?", "relations", ["inside"]),
    ("How many circles are there?", "relations", []),  # nothing named: no relate, no verify
    ("What color is the leftmost object?", "extremes", ["leftmost"]),
    ("Which shape is the biggest?", "extremes", ["largest"]),
    ("What color is the square?", "extremes", None),
    ("Is there a grey circle?", "values", ["gray"]),
    ("How many objects are in the top left?", "values", ["left", "top", "top-left"]),
    ("What color is the square?", "values", []),  # no value named: no filter at all (nothing to invent)
    ("Is there a star?", "labels", ["star"]),  # no generic word: "object" is not offered
    ("What is left of the star?", "labels", ["object", "star"]),
])
def test_narrowing_by_the_questions_words(question, field, expected):
    full = allowed_names(vocab())
    got = getattr(allowed_names(vocab(), question), field)
    if expected is None:
        expected = getattr(full, field)
    assert got == (None if expected == "any" else expected)


def test_no_filter_is_offered_when_the_question_names_no_value():
    schema = program_schema(vocab(), "Is there a star?")
    ops = json.dumps(schema)
    assert '"filter"' not in ops and '"exist"' in ops
    invented = {"steps": [{"op": "select", "label": "star"},
                          {"op": "filter", "input": 0, "attribute": "color", "value": "yellow"},
                          {"op": "exist", "input": 1}]}
    assert not valid(schema, invented)
    assert valid(schema, {"steps": [{"op": "select", "label": "star"}, {"op": "exist", "input": 0}]})


def test_a_free_label_is_a_string_in_the_schema():
    schema = program_schema(vocab(), "Is there a giraffe?")
    giraffe = {"steps": [{"op": "select", "label": "giraffe"}, {"op": "exist", "input": 0}]}
    assert valid(schema, giraffe)  # the grammar lets it through; check_vocabulary raises UnknownLabel


def test_left_of_is_a_relation_and_on_the_left_a_position():
    rel = allowed_names(vocab(), "How many circles are left of the triangle?")
    assert rel.relations == ["left_of"] and rel.values == []
    pos = allowed_names(vocab(), "How many circles are on the left?")
    assert pos.values == ["left"] and pos.relations == []  # a position, no relation
    assert '"relate"' not in json.dumps(program_schema(vocab(), "How many circles are on the left?"))
    assert allowed_names(vocab(), "What is on top of the frame?").relations == ["above"]


def test_relate_names_the_subject_before_the_relation_word():
    allowed = allowed_names(vocab(), "How many circles are left of the triangle?")
    # select names the reference (after the relation word), relate the subject (before it)
    assert allowed.labels == ["triangle"] and allowed.relate_labels == ["circle"]
    schema = program_schema(vocab(), "How many circles are left of the triangle?")
    right = {"steps": [{"op": "select", "label": "triangle"},
                       {"op": "relate", "input": 0, "relation": "left_of", "label": "circle"},
                       {"op": "count", "input": 1}]}
    reversed_ = {"steps": [{"op": "select", "label": "circle"},
                           {"op": "relate", "input": 0, "relation": "left_of", "label": "triangle"},
                           {"op": "count", "input": 1}]}
    assert valid(schema, right) and not valid(schema, reversed_)
    assert allowed_names(vocab(), "What is inside the frame?").relate_labels == ["object"]
    # a yes/no about two definite objects: verify, with both labels, and no relate
    verify = allowed_names(vocab(), "Is the red circle left of the green square?")
    assert verify.labels == ["circle", "square"] and "relate" in verify.excluded_ops


def test_is_there_asks_for_existence_not_verify():
    schema = json.dumps(program_schema(vocab(), "Is there a square below the red circle?"))
    assert '"verify"' not in schema and '"relate"' in schema and '"exist"' in schema
    assert '"verify"' in json.dumps(program_schema(vocab(), "Is the square below the red circle?"))
    # counting and existence are always expressible: no "unsupported" way out
    assert '"unsupported"' not in schema
    assert '"unsupported"' not in json.dumps(program_schema(vocab(), "How many stars are there?"))
    assert '"unsupported"' in json.dumps(program_schema(vocab(), "What does the text on the frame say?"))


def test_people_words_select_person():
    g = scene(("person", [0.1, 0.1, 0.2, 0.5], {"posture": "fallen"}), known_labels=["person"])
    g.add_node("obj_9", label="person", box=g.nodes["obj_0"]["box"], attributes={"posture": "upright"})
    v = SceneVocabulary.from_graph(g)
    assert allowed_names(v, "Is anyone lying on the ground?").labels == ["person"]
    assert allowed_names(v, "How many people are standing?").values == ["upright"]
    assert allowed_names(v, "Is anyone on the ground?").values == ["fallen"]
    assert allowed_names(v, "How many people are there?").values == []


def test_the_schema_is_compact_and_a_llama_cpp_grammar():
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    schema = program_schema(vocab(), "Is the red circle to the left of the green square?")
    branches = schema["properties"]["steps"]["items"]["anyOf"]
    assert len(branches) <= 10
    assert all("anyOf" not in json.dumps(b) for b in branches)  # no nested alternatives
    assert len(json.dumps(schema)) < 2500
    gbnf = json_schema_to_gbnf(json.dumps(schema))
    assert '"\\"left_of\\""' in gbnf and "giraffe" not in gbnf
    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # parses as a grammar


def test_programs_the_schema_accepts_parse_and_run():
    schema = program_schema(vocab(), "How many red objects are there?")
    assert valid(schema, COUNT_RED)
    assert parse_program(COUNT_RED).steps[2].op == "count"
