"""The query executor on hand-built scene graphs: every operation, empty and ambiguous selections included."""

from __future__ import annotations

import pytest

from query_scenes import run, scene, shapes

def sel(label: str) -> dict:
    return {"op": "select", "label": label}


def test_select_by_label_plural_synonym_and_generic():
    g = shapes()
    assert run(g, sel("circle")).steps[0].objects == ["obj_0", "obj_1"]
    assert run(g, sel("Squares")).steps[0].objects == ["obj_2", "obj_3", "obj_4"]
    for generic in ("object", "things", "shapes", "item"):
        assert run(g, sel(generic)).steps[0].objects == [f"obj_{i}" for i in range(7)]
    people = scene(("person", [0.1, 0.1, 0.2, 0.5], {}), ("dog", [0.5, 0.5, 0.6, 0.6], {}))
    assert run(people, sel("people"), {"op": "count", "input": 0}).answer == "1"
    assert run(people, sel("women"), {"op": "count", "input": 0}).answer == "1"
    # a label the detector knows but did not find: an exact empty selection
    ex = run(g, sel("star"), {"op": "count", "input": 0})
    assert (ex.answer, ex.answer_type) == ("0", "number")


def test_select_a_noun_that_the_experts_give_as_an_attribute():
    g = scene(("object", [0.1, 0.1, 0.2, 0.2], {"shape": "cube", "color": "red"}),
              ("object", [0.5, 0.5, 0.6, 0.6], {"shape": "sphere", "color": "red"}),
              ("object", [0.7, 0.7, 0.8, 0.8], {"shape": "cube", "color": "blue"}))
    ex = run(g, sel("cubes"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
             {"op": "count", "input": 1})
    assert ex.answer == "1" and ex.steps[0].objects == ["obj_0", "obj_2"]
    ex = run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "shape", "value": "sphere"},
             {"op": "query", "input": 1, "attribute": "color"})
    assert ex.answer == "red"


def test_filter_by_colour_size_position_label_and_posture():
    g = shapes()
    assert run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"}).steps[1].objects \
        == ["obj_0", "obj_2"]
    assert run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "size", "value": "small"}).steps[1].objects \
        == ["obj_5"]
    # a part of a compound position matches it: left = top-left, middle-left, bottom-left
    assert run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "position", "value": "left"}) \
        .steps[1].objects == ["obj_0", "obj_3"]
    assert run(g, sel("square"), {"op": "filter", "input": 0, "attribute": "position", "value": "top-right"}) \
        .steps[1].objects == ["obj_2"]
    assert run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "label", "value": "triangles"}) \
        .steps[1].objects == ["obj_5"]
    people = scene(("person", [0.1, 0.1, 0.2, 0.5], {"posture": "fallen"}),
                   ("person", [0.5, 0.1, 0.6, 0.5], {"posture": "upright"}))
    ex = run(people, sel("person"), {"op": "filter", "input": 0, "attribute": "posture", "value": "lying"},
             {"op": "count", "input": 1})
    assert ex.answer == "1" and ex.evidence == ["obj_0"]


def test_relate_every_direction_and_an_empty_reference():
    g = shapes()

    def related(relation: str, target: str) -> list[str]:
        return run(g, sel(target), {"op": "relate", "input": 0, "relation": relation, "label": "object"}) \
            .steps[1].objects

    assert related("right_of", "triangle") == ["obj_2", "obj_4"]
    assert related("left_of", "triangle") == ["obj_0", "obj_1", "obj_3", "obj_6"]  # centres 0.025 apart count
    assert related("above", "triangle") == ["obj_0", "obj_1", "obj_2", "obj_3", "obj_4", "obj_6"]
    assert related("below", "frame") == ["obj_3", "obj_4", "obj_5"]
    assert related("below", "triangle") == []
    assert related("inside", "frame") == ["obj_1"]
    assert related("contains", "circle") == ["obj_6"]
    assert related("near", "triangle") == ["obj_6"]
    assert related("near", "frame") == ["obj_0", "obj_2", "obj_3", "obj_4", "obj_5"]  # not obj_1: inside it
    assert related("overlaps", "triangle") == []
    assert related("behind", "triangle") == []
    ex = run(g, sel("star"), {"op": "relate", "input": 0, "relation": "left_of", "label": "object"},
             {"op": "count", "input": 1})
    assert ex.answer == "0"
    # the related objects' label; any when left out
    ex = run(g, sel("triangle"), {"op": "relate", "input": 0, "relation": "left_of", "label": "squares"},
             {"op": "count", "input": 1})
    assert ex.answer == "1" and ex.evidence == ["obj_3"]
    assert "squares left_of obj_5: obj_3" in ex.rationale
    ex = run(g, sel("frame"), {"op": "relate", "input": 0, "relation": "inside"}, {"op": "count", "input": 1})
    assert ex.answer == "1"


def test_in_front_and_behind_of_overlapping_objects():
    g = scene(("person", [0.3, 0.3, 0.6, 0.95], {}), ("car", [0.4, 0.2, 0.8, 0.6], {}))
    ex = run(g, sel("car"), sel("person"), {"op": "verify", "input": 1, "relation": "in_front_of", "other": 0})
    assert ex.answer == "yes"
    ex = run(g, sel("car"), sel("person"), {"op": "verify", "input": 0, "relation": "behind", "other": 1})
    assert ex.answer == "yes"
    ex = run(g, sel("car"), sel("person"), {"op": "verify", "input": 0, "relation": "overlaps", "other": 1})
    assert ex.answer == "yes"


@pytest.mark.parametrize("op,expected", [("leftmost", "obj_0"), ("rightmost", "obj_4"), ("topmost", "obj_0"),
                                         ("bottommost", "obj_5"), ("largest", "obj_6"), ("smallest", "obj_5")])
def test_extremes(op, expected):
    ex = run(shapes(), sel("object"), {"op": op, "input": 0}, {"op": "query", "input": 1, "attribute": "label"})
    assert ex.steps[1].objects == [expected]
    assert ex.evidence == [expected]


def test_extreme_of_an_empty_selection_is_not_found():
    ex = run(shapes(), sel("star"), {"op": "leftmost", "input": 0}, {"op": "query", "input": 1, "attribute": "color"})
    assert (ex.answer, ex.answer_type) == ("no star found", "not_found")


def test_count_and_exist_including_empty():
    g = shapes()
    red_squares = [sel("square"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"}]
    assert run(g, *red_squares, {"op": "count", "input": 1}).answer == "1"
    assert run(g, *red_squares, {"op": "exist", "input": 1}).answer == "yes"
    purple = [sel("square"), {"op": "filter", "input": 0, "attribute": "color", "value": "purple"}]
    ex = run(g, *purple, {"op": "count", "input": 1})
    assert (ex.answer, ex.answer_type) == ("0", "number")
    ex = run(g, *purple, {"op": "exist", "input": 1})
    assert (ex.answer, ex.answer_type) == ("no", "yes_no")


def test_query_label_attribute_ambiguity_shared_value_and_not_found():
    g = shapes()
    ex = run(g, sel("triangle"), {"op": "query", "input": 0, "attribute": "color"})
    assert (ex.answer, ex.answer_type, ex.evidence) == ("yellow", "value", ["obj_5"])
    ex = run(g, sel("triangle"), {"op": "query", "input": 0, "attribute": "size"})
    assert ex.answer == "small"
    ex = run(g, sel("square"), {"op": "query", "input": 0, "attribute": "color"})
    assert ex.answer_type == "ambiguous"
    assert ex.answer == "there are 3 squares (obj_2, obj_3, obj_4); which one?"
    assert ex.evidence == ["obj_2", "obj_3", "obj_4"]
    # several objects that share the value: the value is the answer
    ex = run(g, sel("object"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
             {"op": "query", "input": 1, "attribute": "color"})
    assert ex.answer == "red"
    ex = run(g, sel("circle"), {"op": "filter", "input": 0, "attribute": "color", "value": "green"},
             {"op": "query", "input": 1, "attribute": "size"})
    assert (ex.answer, ex.answer_type) == ("no green circle found", "not_found")
    # "shape" of an object whose shape is its label
    ex = run(g, sel("object"), {"op": "largest", "input": 0}, {"op": "query", "input": 1, "attribute": "shape"})
    assert ex.answer == "frame"


def test_query_of_an_attribute_one_object_lacks():
    g = scene(("person", [0.1, 0.1, 0.2, 0.5], {"posture": "fallen"}), ("dog", [0.5, 0.5, 0.6, 0.6], {}))
    ex = run(g, sel("dog"), {"op": "query", "input": 0, "attribute": "posture"})
    assert ex.answer_type == "unknown" and "no posture for obj_1" in ex.answer


def test_verify_relation_yes_no_ambiguous_and_missing():
    g = shapes()
    red_circle = [sel("circle"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"}]
    green_square = [sel("square"), {"op": "filter", "input": 2, "attribute": "color", "value": "green"}]
    ex = run(g, *red_circle, *green_square, {"op": "verify", "input": 1, "relation": "above", "other": 3})
    assert (ex.answer, ex.evidence) == ("yes", ["obj_0", "obj_3"])
    assert "obj_0 above obj_3" in ex.rationale
    ex = run(g, *red_circle, *green_square, {"op": "verify", "input": 1, "relation": "right_of", "other": 3})
    assert ex.answer == "no"
    ex = run(g, *red_circle, sel("square"), {"op": "verify", "input": 1, "relation": "left_of", "other": 2})
    assert ex.answer_type == "ambiguous" and ex.answer.startswith("there are 3 squares")
    ex = run(g, *red_circle, sel("star"), {"op": "verify", "input": 1, "relation": "left_of", "other": 2})
    assert (ex.answer, ex.answer_type) == ("no star found", "not_found")


def test_compare_counts_and_numbers():
    g = shapes()
    pairs = [sel("square"), sel("circle")]
    assert run(g, *pairs, {"op": "more", "input": 0, "other": 1}).answer == "yes"
    assert run(g, *pairs, {"op": "fewer", "input": 0, "other": 1}).answer == "no"
    assert run(g, *pairs, {"op": "equal", "input": 0, "other": 1}).answer == "no"
    counts = [sel("square"), {"op": "count", "input": 0}, sel("circle"), {"op": "count", "input": 2}]
    assert run(g, *counts, {"op": "fewer", "input": 3, "other": 1}).answer == "yes"
    assert run(g, sel("square"), {"op": "exactly", "input": 0, "number": 3}).answer == "yes"
    assert run(g, sel("square"), {"op": "more_than", "input": 0, "number": 3}).answer == "no"
    assert run(g, sel("square"), {"op": "fewer_than", "input": 0, "number": 4}).answer == "yes"
    ex = run(g, *pairs, {"op": "more", "input": 0, "other": 1})
    assert ex.evidence == ["obj_0", "obj_1", "obj_2", "obj_3", "obj_4"] and "3 vs 2" in ex.rationale


def test_same_and_different_of_two_objects_and_of_a_set():
    g = shapes()
    tri_and_yellow_square = [sel("triangle"), sel("square"),
                             {"op": "filter", "input": 1, "attribute": "position", "value": "bottom-right"}]
    assert run(g, *tri_and_yellow_square, {"op": "same", "input": 0, "attribute": "color", "other": 2}).answer == "yes"
    assert run(g, *tri_and_yellow_square, {"op": "different", "input": 0, "attribute": "size", "other": 2}).answer \
        == "yes"
    assert run(g, sel("square"), {"op": "same", "input": 0, "attribute": "size"}).answer == "yes"
    assert run(g, sel("square"), {"op": "same", "input": 0, "attribute": "color"}).answer == "no"
    ex = run(g, sel("triangle"), sel("square"), {"op": "same", "input": 0, "attribute": "color", "other": 1})
    assert ex.answer_type == "ambiguous"
    ex = run(g, sel("star"), {"op": "same", "input": 0, "attribute": "color"})
    assert ex.answer_type == "not_found"


def test_set_operations_and_logic():
    g = shapes()
    red = [sel("object"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"}]
    assert run(g, *red, sel("square"), {"op": "and", "input": 1, "other": 2}).steps[3].objects == ["obj_2"]
    assert run(g, *red, sel("square"), {"op": "or", "input": 1, "other": 2}).steps[3].objects == \
        ["obj_0", "obj_2", "obj_3", "obj_4"]
    ex = run(g, sel("square"), *[{**s, "input": 0} if "input" in s else s for s in red[1:]],
             {"op": "except", "input": 0, "other": 1}, {"op": "count", "input": 2})
    assert ex.answer == "2" and ex.steps[2].objects == ["obj_3", "obj_4"]
    exists = [sel("star"), {"op": "exist", "input": 0}, sel("circle"), {"op": "exist", "input": 2}]
    assert run(g, *exists, {"op": "or", "input": 1, "other": 3}).answer == "yes"
    assert run(g, *exists, {"op": "and", "input": 1, "other": 3}).answer == "no"
    assert run(g, *exists, {"op": "not", "input": 1}).answer == "yes"


def test_unsupported_is_an_answer_that_asks_for_the_fallback():
    ex = run(shapes(), {"op": "unsupported"})
    assert ex.answer_type == "unsupported" and ex.answer.startswith("cannot tell")
    assert ex.problem is not None and ex.problem.kind == "unsupported"


def test_an_objects_result_answers_with_labels():
    ex = run(shapes(), sel("frame"), {"op": "relate", "input": 0, "relation": "inside", "label": "object"})
    assert (ex.answer, ex.answer_type) == ("circle", "objects")


def test_rationale_names_the_evidence_of_every_step():
    ex = run(shapes(), sel("circle"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
             {"op": "count", "input": 1})
    assert ex.rationale == "circles: obj_0, obj_1; color=red: obj_0; count: 1 -> 1"
    assert ex.evidence == ["obj_0"]
    assert "answer: 1" in ex.to_text()


def test_not_found_names_the_first_empty_selection():
    g = shapes()
    ex = run(g, sel("star"), {"op": "relate", "input": 0, "relation": "left_of", "label": "object"},
             {"op": "query", "input": 1, "attribute": "color"})
    assert ex.answer == "no star found"
    ex = run(g, sel("triangle"), {"op": "relate", "input": 0, "relation": "below", "label": "circle"},
             {"op": "query", "input": 1, "attribute": "color"})
    assert ex.answer == "no circle below the triangle found"
    ex = run(g, sel("square"), {"op": "filter", "input": 0, "attribute": "color", "value": "red"},
             {"op": "relate", "input": 1, "relation": "left_of", "label": "circle"},
             {"op": "leftmost", "input": 2}, {"op": "query", "input": 3, "attribute": "color"})
    assert ex.answer == "red"  # the leftmost circle left of the red square
