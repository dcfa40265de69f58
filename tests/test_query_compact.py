"""The compact form: nested expressions flatten to the executor's steps, nest back, and errors name the
sub-expression the model wrote (it wrote no step numbers)."""

from __future__ import annotations

import pytest

from lavr.tools.query import (ProgramSyntaxError, QueryError, SceneVocabulary, TypeMismatch, UnknownLabel,
                              UnknownOperation, execute, flatten, nest, parse_compact)
from lavr.tools.query.compact import unused_names
from lavr.tools.query.grammar import allowed_names
from query_scenes import shapes


def vocab() -> SceneVocabulary:
    return SceneVocabulary.from_graph(shapes())


@pytest.mark.parametrize("expression,answer", [
    (["count", "square"], "3"),
    (["count", ["filter", "object", "red"]], "2"),
    (["count", ["filter", "object", "small", "yellow"]], "1"),  # several values: a filter chain
    (["exist", ["filter", "square", "green"]], "yes"),
    (["count", ["relate", "circle", "left_of", "triangle"]], "2"),
    (["count", ["relate", ["filter", "circle", "red"], "left_of", "triangle"]], "1"),  # a set as the subject
    (["query", ["relate", "object", "inside", "frame"], "label"], "circle"),
    (["verify", ["filter", "circle", "red"], "left_of", ["filter", "square", "green"]], "yes"),
    (["more", "square", "circle"], "yes"),
    (["exactly", "circle", 2], "yes"),
    (["query", ["rightmost", "object"], "color"], "yellow"),
    (["count", ["except", "square", ["filter", "square", "red"]]], "2"),
    (["or", ["exist", "star"], ["exist", "frame"]], "yes"),
    (["not", ["exist", "star"]], "yes"),
    (["same", ["filter", "square", "yellow"], "color", "triangle"], "yes"),
    ({"count": "circle"}, "2"),  # the op written as a key
    ('```json\n["count", "circle"]\n```', "2"),  # fenced text
    ({"program": ["count", "triangle"]}, "1"),
])
def test_expressions_execute_exactly(expression, answer):
    assert execute(parse_compact(expression, vocab()), shapes()).answer == answer


def test_flatten_and_nest_are_inverse_and_the_steps_are_innermost_first():
    expression = ["count", ["relate", "circle", "left_of", ["filter", "triangle", "yellow"]]]
    steps = flatten(expression)
    assert [s["op"] for s in steps] == ["select", "filter", "relate", "count"]
    assert steps[2] == {"op": "relate", "input": 1, "relation": "left_of", "label": "circle"}
    assert nest(parse_compact(expression)) == expression


def test_errors_quote_the_sub_expression():
    with pytest.raises(UnknownOperation, match="tally"):
        parse_compact(["tally", "circle"])
    with pytest.raises(ProgramSyntaxError, match=r'\["count"\]: count takes 1 argument'):
        parse_compact(["count"])
    with pytest.raises(TypeMismatch, match=r'in \["count", \["count", "circle"\]\]') as err:
        parse_compact(["count", ["count", "circle"]])
    assert "step " not in str(err.value)  # no step numbers: the model wrote none
    with pytest.raises(UnknownLabel, match=r'in "giraffe": no expert can find'):
        parse_compact(["exist", "giraffe"], vocab())
    with pytest.raises(ProgramSyntaxError):
        parse_compact("not json at all")
    with pytest.raises(QueryError, match="at most"):
        parse_compact(["count", ["filter", "object", *["red"] * 20]])


def test_unused_names_finds_what_the_question_named_and_the_program_left_out():
    v = vocab()
    question = "Is there a small red circle?"
    allowed = allowed_names(v, question)
    assert unused_names(parse_compact(["exist", "circle"], v), allowed) == ["red", "small"]
    assert unused_names(parse_compact(["exist", ["filter", "circle", "small", "red"]], v), allowed) == []
    # the values of an attribute the program asks about are the choices, not filters
    choice = "Is the triangle yellow or red?"
    assert unused_names(parse_compact(["query", "triangle", "color"], v), allowed_names(v, choice)) == []
    # a compound value covers its parts
    corner = "Is there a square in the top left?"
    assert unused_names(parse_compact(["exist", ["filter", "square", "top-left"]], v), allowed_names(v, corner)) == []
