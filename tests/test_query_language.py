"""Parsing and checking query programs: tolerated spellings, and typed errors for everything else."""

from __future__ import annotations

import pytest

from lavr.errors import ToolError
from lavr.tools.query import (ProgramSyntaxError, QueryError, ReferenceProblem, SceneVocabulary, TypeMismatch,
                        UnknownAttribute, UnknownLabel, UnknownOperation, UnknownRelation, UnknownValue,
                        check_vocabulary, execute, parse_program)
from lavr.tools.query.language import Filter, Relate, Select
from query_scenes import shapes


def test_parse_the_canonical_form_and_round_trip():
    text = ('{"steps":[{"op":"select","label":"circle"},{"op":"filter","input":0,"attribute":"color","value":"red"},'
            '{"op":"count","input":1}]}')
    program = parse_program(text)
    assert [type(s) for s in program.steps][:2] == [Select, Filter]
    assert program.to_json() == text
    assert program.result_types() == ["objects", "objects", "number"]


@pytest.mark.parametrize("source", [
    # a bare list, a "program" key with a thought, code fences around it, other key names and spellings
    [{"op": "select", "label": "Circles"}, {"op": "filter", "input": "$0", "color": "red"},
     {"op": "Count", "input": [1]}],
    {"thought": "red circles", "program": [{"operation": "select", "name": "circle"},
                                           {"op": "filter", "inputs": ["0"], "attr": "colour", "value": "Red"},
                                           {"op": "count", "input": "1"}]},
    'Here is the program:\n```json\n{"steps": [{"op": "select", "object": "circle"}, {"op": "filter", "input": 0, '
    '"value": "red"}, {"op": "count", "input": 1}]}\n```',
])
def test_small_deviations_of_shape_are_forgiven(source):
    ex = execute(source, shapes())
    assert ex.answer == "1"
    assert ex.program.steps[1].attribute == "color" and ex.program.steps[1].value == "red"


def test_op_and_relation_spellings():
    program = parse_program([{"op": "select", "label": "square"},
                             {"op": "relate", "input": 0, "relation": "to the left of"},
                             {"op": "exists", "input": 1}])
    assert isinstance(program.steps[1], Relate) and program.steps[1].relation == "left_of"
    assert program.steps[1].label == "object" and program.steps[2].op == "exist"
    assert parse_program([{"op": "select", "label": "x"}, {"op": "difference", "input": 0, "other": 0}]) \
        .steps[1].op == "except"
    assert parse_program([{"op": "select", "label": "x"}, {"op": "exactly", "input": 0, "number": "two"}]) \
        .steps[1].number == 2
    # "Are all squares the same color?" written with other = itself or a later step: all of input
    for other in (0, 1, 5):
        same = parse_program([{"op": "select", "label": "x"},
                              {"op": "same", "input": 0, "attribute": "color", "other": other}]).steps[1]
        assert same.other is None


@pytest.mark.parametrize("source,error,fragment", [
    ("not json at all", ProgramSyntaxError, "not JSON"),
    ({"steps": []}, ProgramSyntaxError, "at least one step"),
    ({"steps": ["select circle"]}, ProgramSyntaxError, "step 0: a step must be a JSON object"),
    ([{"label": "circle"}], ProgramSyntaxError, "needs an `op`"),
    ([{"op": "paint", "input": 0}], UnknownOperation, "unknown op 'paint'"),
    ([{"op": "select"}], ProgramSyntaxError, "select needs `label`"),
    ([{"op": "select", "label": "circle", "colour": "red"}], ProgramSyntaxError, "select has no field `colour`"),
    ([{"op": "select", "label": "circle"}, {"op": "relate", "input": 0, "relation": "beyond", "label": "x"}],
     UnknownRelation, "unknown relation 'beyond'"),
    ([{"op": "select", "label": "circle"}, {"op": "relate", "input": 0, "relation": "near", "other": 0}],
     ProgramSyntaxError, "relate has no field `other` (fields: op, input, relation, label)"),
    ([{"op": "count", "input": 0}], ReferenceProblem, "step 0: `input` is 0, but no step come before"),
    ([{"op": "select", "label": "circle"}, {"op": "count", "input": 2}], ReferenceProblem,
     "step 1: `input` is 2, but steps 0..0 come before step 1"),
    ([{"op": "select", "label": "circle"}, {"op": "count", "input": 0}, {"op": "count", "input": 1}], TypeMismatch,
     "count needs objects as `input`, but step 1 (count) gives number"),
    ([{"op": "select", "label": "circle"}, {"op": "exist", "input": 0}, {"op": "and", "input": 0, "other": 1}],
     TypeMismatch, "two results of one type"),
    ([{"op": "select", "label": "circle"}, {"op": "not", "input": 0}], TypeMismatch, "not needs boolean"),
    ([{"op": "select", "label": "circle"}, {"op": "count", "input": -1}], ProgramSyntaxError, "count `input`"),
    ([{"op": "select", "label": "circle"}, {"op": "count", "input": "the circles"}], ProgramSyntaxError,
     "must be the number of an earlier step"),
    ([{"op": "select", "label": "circle"}] * 13, ProgramSyntaxError, "at most 12 steps"),
])
def test_malformed_programs_raise_typed_errors(source, error, fragment):
    with pytest.raises(error) as info:
        parse_program(source)
    assert fragment in str(info.value)
    assert isinstance(info.value, QueryError) and isinstance(info.value, ToolError)  # fed back to the LLM


def test_names_are_checked_against_the_scene():
    vocab = SceneVocabulary.from_graph(shapes())
    with pytest.raises(UnknownLabel, match="no expert can find 'giraffe'; labels: circle, frame, square, star"):
        check_vocabulary(parse_program([{"op": "select", "label": "giraffes"}]), vocab)
    with pytest.raises(UnknownAttribute, match="unknown attribute 'material'"):
        execute([{"op": "select", "label": "circle"}, {"op": "query", "input": 0, "attribute": "material"}],
                shapes())
    with pytest.raises(UnknownAttribute, match="unknown attribute 'material'"):
        execute([{"op": "select", "label": "circle"},
                 {"op": "filter", "input": 0, "attribute": "material", "value": "metal"}], shapes())
    with pytest.raises(UnknownValue, match="color is never 'plaid' here; color values: black, blue"):
        execute([{"op": "select", "label": "circle"},
                 {"op": "filter", "input": 0, "attribute": "color", "value": "plaid"}], shapes())
    with pytest.raises(UnknownValue, match="no expert gives 'plaid'; attributes: color: black"):
        execute([{"op": "select", "label": "circle"}, {"op": "filter", "input": 0, "value": "plaid"}], shapes())
    assert execute([{"op": "select", "label": "circle"}, {"op": "filter", "input": 0, "attribute": "label",
                                                         "value": "object"}, {"op": "count", "input": 1}],
                   shapes()).answer == "2"
    with pytest.raises(UnknownLabel, match="no expert can find 'giraffe'"):
        execute([{"op": "select", "label": "object"},
                 {"op": "filter", "input": 0, "attribute": "label", "value": "giraffe"}], shapes())


def test_a_value_written_under_the_wrong_key_is_resolved_by_the_scene():
    ex = execute([{"op": "select", "label": "object"}, {"op": "filter", "input": 0, "attribute": "shape",
                                                       "value": "red"}, {"op": "count", "input": 1}], shapes())
    assert ex.answer == "2" and ex.program.steps[1].attribute == "color"
    # shape when shapes are labels
    ex = execute([{"op": "select", "label": "object"}, {"op": "filter", "input": 0, "attribute": "shape",
                                                       "value": "squares"}, {"op": "count", "input": 1}], shapes())
    assert ex.answer == "3" and ex.program.steps[1].attribute == "label"


def test_vocabulary_from_graph():
    vocab = SceneVocabulary.from_graph(shapes())
    assert vocab.labels == ["circle", "frame", "square", "star", "triangle"]
    assert vocab.scene_labels == ["circle", "frame", "square", "triangle"]
    assert {"red", "purple", "gray"} <= set(vocab.attributes["color"])  # found, and known to the colour namer
    assert {"top-left", "left", "top"} <= set(vocab.attributes["position"])
    assert vocab.scene_attributes["color"] == ["blue", "gray", "green", "red", "yellow"]
    assert vocab.summary() == "objects: circle, frame, square, triangle; color: blue, gray, green, red, yellow"
