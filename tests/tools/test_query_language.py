"""The query language: its written form, every op's meaning on hand-built scenes, typing errors for the LLM."""

from __future__ import annotations

import pytest
from query_scenes import blocks, graph, scene, shapes, two_photos

from lavr.tools.query import (
    REGISTRY,
    ProgramSyntaxError,
    QueryError,
    Scene,
    TypeMismatch,
    UnknownOperation,
    UnknownValue,
    check_program,
    execute,
    parse,
    text,
)
from lavr.tools.query.program import Call, Number, Word


def answer(program: str, sc=None) -> str:
    return execute(program, sc or blocks()).answer


# The written form ------------------------------------------------------------------------------------------

def test_a_program_is_read_tolerantly_and_written_in_one_form():
    node = parse('P:  count( all("tiny" , matte,thing) )')
    assert node == Call("count", (Call("all", (Word("tiny"), Word("matte"), Word("thing"))),))
    assert text(node) == "count(all(tiny, matte, thing))"
    assert parse("more(count(all(cube)), 2)").args[1] == Number(2)
    assert parse("count(all(traffic light))").args[0].args[0] == Word("traffic light")  # a label of two words


@pytest.mark.parametrize("bad", ["", "count(all(cube)", "count(all(cube)))", "count(all(cube),,)", "count(#)",
                                 "all(cube) all(sphere)"])
def test_what_is_not_a_program_is_a_syntax_error(bad):
    with pytest.raises(ProgramSyntaxError):
        parse(bad)


# Typing ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("program, error, words", [
    ("count(the(cube))", TypeMismatch, "set of objects"),  # one object where a set is needed
    ("color(all(cube))", TypeMismatch, "one object"),
    ("exists(all(star))", UnknownValue, "labels: cube, cylinder, sphere"),  # no expert here finds stars
    ("colour(the(cube))", UnknownOperation, "colour"),
    ("count(all(cube), 2)", TypeMismatch, "takes 1 argument"),
    ("equal(color(the(red, cube)), count(all(cube)))", TypeMismatch, "two values or two numbers"),
    ("color(from_left(all(cube), first))", TypeMismatch, "word"),
    ("cube", TypeMismatch, "word"),
])
def test_a_program_that_cannot_run_says_what_is_allowed(program, error, words):
    with pytest.raises(error) as exc:
        check_program(program, blocks())
    assert words in str(exc.value)
    assert isinstance(exc.value, QueryError)


def test_one_name_is_two_ops_told_apart_by_what_they_take():
    ops = REGISTRY.named("not")
    assert {op.result for op in ops} == {"cond", "bool"}
    assert check_program("count(all(not(cube)))", blocks()).args[0].args[0].op.result == "cond"
    assert check_program("not(exists(all(cube)))", blocks()).op.result == "bool"


# Meaning -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("program, expected", [
    ("count(all(things))", "6"),
    ("count(all(tiny, matte, thing))", "2"),          # synonyms: tiny = small, matte = rubber
    ("count(all(metal-made, things))", "3"),          # a word of two parts, as the lexicon reads it
    ("color(the(big, shiny, ball))", "yellow"),      # big = large, shiny = metal, ball = sphere
    ("exists(all(red, cube))", "yes"),
    ("exists(all(green, cube))", "no"),
    ("count(all(cylinders, left_of(the(red, block))))", "0"),
    ("count(all(things, right_of(the(red, block))))", "5"),
    # depth: things on one ground, the lower bottom edge is nearer; no overlap needed
    ("count(all(things, behind(the(small, cyan, cube))))", "4"),
    ("is(the(purple, sphere), in_front_of(the(large, cylinder)))", "yes"),
    ("color(the(thing, left_of(the(object, above(the(large, cylinder, behind(the(small, cyan, cube))))))))", "red"),
    ("count(all(objects, same_material(the(red, cube))))", "2"),  # the red cube itself is not counted
    ("exists(all(thing, same_shape(the(yellow, sphere))))", "yes"),
    ("equal(material(the(yellow, ball)), material(the(red, cube)))", "yes"),
    ("count(all(metal, objects, or(cubes, and(large, spheres))))", "3"),
    ("count(all(things, or(cylinders, purple)))", "3"),
    ("count(all(objects, not(cubes)))", "4"),
    ("color(rightmost(all(object)))", "gray"),
    ("material(frontmost(all(cylinder)))", "rubber"),
    ("label(largest(all(metal, thing)))", "cube"),
    ("color(from_left(all(thing), 2))", "yellow"),
    ("color(from_right(all(thing), 1))", "gray"),
    ("more(count(all(spheres)), count(all(cylinders)))", "no"),
    ("equal(count(all(spheres)), count(all(cylinders)))", "yes"),
    ("at_least(count(all(metal, thing)), 3)", "yes"),
    ("fewer(count(all(rubber, thing)), 3)", "no"),
    ("count(all(thing, left_half))", "3"),
    ("count(all(thing, right))", "2"),                 # the right third, by box centre
    ("and(exists(all(cube)), not(exists(all(cone, cube))))", "cannot tell"),
])
def test_every_op_computes_exactly(program, expected):
    if expected == "cannot tell":
        with pytest.raises(UnknownValue):
            answer(program)
        return
    assert answer(program) == expected


def test_one_object_where_none_or_several_match_is_cannot_tell_naming_them():
    e = execute("color(the(cube))", blocks())
    assert e.answer == "cannot tell: 2 objects match the cube (obj_0, obj_3)" and e.answer_type == "cannot_tell"
    assert e.evidence == ["obj_0", "obj_3"]
    e = execute("size(the(green, sphere))", blocks())
    assert e.answer.startswith("cannot tell: nothing matches the green sphere")
    # several objects that agree on what is asked: the answer is theirs
    assert execute("material(the(purple, thing))", blocks()).answer == "rubber"


def test_the_answer_names_its_evidence_and_reads_the_program_in_words():
    e = execute("count(all(tiny, matte, things))", blocks())
    assert e.answer == "2" and e.evidence == ["obj_1", "obj_5"]
    assert e.words == "the number of tiny matte things"
    assert e.rationale == "the number of tiny matte things: 2 (obj_1, obj_5)"
    e = execute("color(the(thing, right_of(the(small, purple, rubber, thing)), in_front_of(the(purple, cylinder))))",
                blocks())
    assert e.answer == "cyan"
    assert e.words == ("the color of the thing right of the small purple rubber thing in front of the purple "
                       "cylinder")


def test_labels_given_as_shapes_and_drawn_shapes_answer_shape_questions():
    sc = shapes()
    assert execute("shape(the(triangle))", sc).answer == "triangle"
    assert execute("count(all(squares, same_color(the(red, circle))))", sc).answer == "1"
    assert execute("label(the(thing, inside(the(frame))))", sc).answer == "circle"
    assert execute("exists(all(star))", sc).answer == "no"  # a label the detector knows but did not find


def test_several_images_a_set_comes_from_the_question_image_unless_it_names_others():
    sc = two_photos()
    assert execute("count(all(people))", sc).answer == "3"  # the latest image
    assert execute("count(all(people, img_0))", sc).answer == "2"
    assert execute("count(all(people, all_images))", sc).answer == "5"
    assert execute("count(all(people, or(img_0, img_1)))", sc).answer == "5"
    assert execute("which_more(all(people))", sc).answer == "second"
    assert execute("which_fewer(all(people))", sc).answer == "first"
    assert execute("which(all(car))", sc).answer == "first"
    assert execute("which_more(all(people, all_images))", sc).answer == "second"  # each image in turn, still
    assert execute("which(all(standing, person))", sc).answer == "all"
    assert execute("exists(all(dog, img_0))", sc).answer == "no"
    # a relation's objects come from the same image as the set it qualifies
    assert execute("count(all(person, left_of(the(car)), img_0))", sc).answer == "1"
    e = execute("which_more(all(car, dog))", sc)
    assert e.answer.startswith("cannot tell: the images tie")


def test_which_image_an_image_without_the_thing_a_set_is_said_of_holds_none_of_it():
    sc = two_photos()  # a car in the first image only, a dog in the second only
    assert execute("which(all(person, left_of(the(car))))", sc).answer == "first"
    assert execute("which(all(person, left_of(the(dog))))", sc).answer == "second"
    assert execute("which_more(all(person, left_of(the(dog))))", sc).answer == "second"
    assert execute("which(all(person, left_of(the(dog, right_of(the(car))))))", sc).answer.startswith(
        "cannot tell: nothing matches")  # in no image at all: no answer, not "none"
    # where none would be the answer, a missing thing gives none
    assert execute("which_count(all(person, left_of(the(car))), 0)", sc).answer.startswith("cannot tell: nothing")
    assert execute("which_fewer(all(person, left_of(the(car))))", sc).answer.startswith("cannot tell: nothing")


def test_unsupported_is_an_answer_type_the_planner_hands_over():
    e = execute("unsupported()", blocks())
    assert e.answer_type == "unsupported" and e.answer.startswith("cannot tell")


def test_every_op_has_its_description_and_reads_in_words():
    for op in REGISTRY.all():
        assert op.doc.startswith(op.name + "("), op.name
        assert op.words(["X", "Y", "Z"][:max(1, len(op.params))])
    names = {op.name for op in REGISTRY.all()}
    assert {"all", "the", "count", "exists", "is", "equal", "more", "which", "which_more", "left_of", "from_left",
            "unsupported"} <= names


def test_an_attribute_the_experts_could_not_give_is_cannot_tell_not_no():
    sc = scene(("person", [0.1, 0.2, 0.3, 0.9], {"posture": "standing"}), ("person", [0.5, 0.2, 0.7, 0.9], {}),
               ("car", [0.7, 0.5, 0.9, 0.8], {}))
    e = execute("count(all(people, standing))", sc)
    assert e.answer == "cannot tell: the experts give no posture for obj_1"  # not 1: obj_1 may be standing
    assert execute("is(the(car), standing)", sc).answer == "no"  # a car has no posture to give: not standing
    assert execute("is(leftmost(all(person)), standing)", sc).answer == "yes"
    assert execute("is(rightmost(all(person)), sitting)", sc).answer.startswith("cannot tell: the experts give no")


def test_a_scene_without_sizes_gets_them_from_boxes_as_the_scene_graph_does():
    sc = scene(("dot", [0.0, 0.0, 0.05, 0.05], {}), ("blob", [0.1, 0.1, 0.9, 0.9], {}))
    assert execute("label(the(small, thing))", sc).answer == "dot"
    assert execute("label(the(large, thing))", sc).answer == "blob"


def test_an_upright_person_is_not_lying_but_may_be_standing_or_sitting():
    # the person detector's "not fallen" without keypoints: upright, which decides "lying" and nothing finer
    sc = scene(("person", [0.1, 0.2, 0.3, 0.9], {"posture": "standing"}),
               ("person", [0.5, 0.2, 0.7, 0.9], {"posture": "upright"}))
    assert execute("exists(all(person, lying))", sc).answer == "no"
    assert execute("count(all(person, lying))", sc).answer == "0"
    assert execute("count(all(person, standing))", sc).answer == "cannot tell: the experts give no posture for obj_1"
    assert execute("is(rightmost(all(person)), sitting)", sc).answer.startswith("cannot tell")
    assert execute("count(all(person, upright))", sc).answer == "2"  # standing is upright


def test_none_found_of_a_label_the_detectors_often_miss_is_cannot_tell_not_none():
    cup = ("cup", [0.2, 0.3, 0.5, 0.7], {"color": "red"})
    g = graph(cup, known_labels=["cup", "spoon", "fork", "cat"])
    g.graph["often_missed"] = {"spoon": [0, 1], "cat": [0, 1]}
    sc = Scene.from_graphs({"img_0": g})
    missed = "cannot tell: the detectors found no spoon, but they often miss one (they found 0 of 1 on the " \
             "labelled photos)"
    assert execute("exists(all(spoon))", sc).answer == missed
    assert execute("count(all(spoons))", sc).answer == missed
    assert execute("exists(all(cup, left_of(all(spoon))))", sc).answer == missed  # a relation to what may be there
    assert execute("exists(all(fork))", sc).answer == "no"  # a label found reliably enough: none is none
    assert execute("count(all(red, cup))", sc).answer == "1"
    seen = graph(cup, ("spoon", [0.6, 0.5, 0.8, 0.6], {}), known_labels=["cup", "spoon"])
    seen.graph["often_missed"] = {"spoon": [0, 1]}
    both = Scene.from_graphs({"img_0": seen})
    assert execute("exists(all(spoon))", both).answer == "yes"
    # a spoon was found: a set of spoons that is empty by its other conditions is an exact "no"
    assert execute("exists(all(red, spoon))", both).answer == "no"


def test_the_image_with_exactly_n_of_a_set():
    sc = two_photos()  # img_0: two people and a car; img_1: three people and a dog
    assert execute("which_count(all(dog), 0)", sc).answer == "first"
    assert execute("which_count(all(people), 3)", sc).answer == "second"
    assert execute("which_count(all(people), 2)", sc).answer == "first"
    assert execute("which_count(all(people), 4)", sc).answer.startswith("cannot tell: nothing matches an image")
    assert execute("which_count(all(people, standing), 2)", sc).answer == ("cannot tell: the images tie on having "
                                                                          "exactly 2 standing people")


def test_how_many_more_is_the_difference_and_says_so_when_there_are_fewer():
    sc = blocks()
    assert execute(check_program("how_many_more(count(all(cubes)), count(all(gray, cylinders)))", sc), sc).answer == "1"
    fewer = execute(check_program("how_many_more(count(all(gray, cylinders)), count(all(spheres)))", sc), sc)
    assert fewer.answer.startswith("cannot tell") and "fewer, not more" in fewer.answer


def test_alike_asks_whether_every_object_of_a_set_shares_a_value():
    sc = blocks()
    assert execute(check_program("alike_material(all(cylinders))", sc), sc).answer == "yes"
    assert execute(check_program("alike_color(all(cylinders))", sc), sc).answer == "no"
    assert execute(check_program("alike_size(all(large, metal))", sc), sc).answer == "yes"
    one = execute(check_program("alike_color(all(red, cube))", sc), sc)
    assert one.answer.startswith("cannot tell")


def test_every_and_which_every_say_all_of_a_kind():
    sc = blocks()
    assert execute(check_program("every(all(cubes), metal)", sc), sc).answer == "yes"
    assert execute(check_program("every(all(spheres), metal)", sc), sc).answer == "no"
    photos = two_photos()
    assert execute(check_program("which_every(all(people), standing)", photos), photos).answer == "first"
    assert execute(check_program("every(all(people, img_1), standing)", photos), photos).answer == "no"


def test_larger_and_smaller_than_compare_the_size_property_else_the_box():
    sc = blocks()

    def run(program: str) -> str:
        return run_on(sc, program)

    assert run("is(the(cyan, cube), smaller_than(the(purple, cylinder)))") == "yes"
    assert run("is(the(cyan, cube), larger_than(the(purple, cylinder)))") == "no"
    # three large objects are larger than the small cyan cube (the size property decides)
    assert run("count(all(things, larger_than(the(cyan, cube))))") == "3"
    # both small: the box decides (the gray cylinder's box is the larger)
    assert run("is(the(gray, cylinder), larger_than(the(purple, sphere)))") == "yes"


def run_on(sc, program: str) -> str:
    return execute(check_program(program, sc), sc).answer


def test_pick_names_which_of_two_is_the_extreme_by_what_tells_them_apart():
    sc = blocks()
    assert run_on(sc, "pick_largest(the(cyan, cube), the(purple, sphere))") == "cube"  # both small: the box
    assert run_on(sc, "pick_largest(the(red, cube), the(cyan, cube))") == "red"  # both cubes: the colour
    assert run_on(sc, "pick_frontmost(the(yellow, sphere), the(cyan, cube))") == "cube"
    assert run_on(sc, "pick_leftmost(the(red, cube), the(gray, cylinder))") == "cube"
    same = execute(check_program("pick_largest(the(red, cube), the(red, cube))", sc), sc)
    assert same.answer.startswith("cannot tell")


def test_in_common_says_every_value_two_objects_share():
    sc = blocks()
    assert run_on(sc, "in_common(the(red, cube), the(cyan, cube))") == "cube and metal"
    assert run_on(sc, "in_common(the(purple, sphere), the(yellow, sphere))") == "sphere"
    assert run_on(sc, "in_common(the(red, cube), the(purple, sphere))") == "nothing"
