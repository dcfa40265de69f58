"""A program must answer the whole question and only the question, in its form (planners/query/checks.py)."""

from __future__ import annotations

import pytest
from query_scenes import blocks, two_photos

from lavr.planners.query.checks import check, read_question
from lavr.tools.query import check_program

WHOLE = [  # question, a program that answers it
    ("What color is the tiny matte thing?", "color(the(tiny, matte, thing))"),
    ("There is a thing that is both to the right of the small purple rubber thing and in front of the purple "
     "cylinder; what is its material?",
     "material(the(thing, right_of(the(small, purple, rubber, thing)), in_front_of(the(purple, cylinder))))"),
    ("Are there any other things that are the same size as the cyan rubber cylinder?",
     "exists(all(thing, same_size(the(cyan, rubber, cylinder))))"),
    ("What number of other things have the same shape as the tiny red thing?",
     "count(all(same_shape(the(tiny, red, thing))))"),
    ("Do the small gray object and the large gray shiny thing have the same shape?",
     "equal(shape(the(small, gray, object)), shape(the(large, gray, shiny, thing)))"),
    ("What number of metal things are yellow things or large cyan things?",
     "count(all(metal, or(yellow, and(large, cyan))))"),
    ("How many cubes are in the left half?", "count(all(cube, left_half))"),
    ("Does the image contain a large metal shape?", "exists(all(large, metal, shape))"),
    ("What color is the second thing from the left?", "color(from_left(all(thing), 2))"),
    ("Is the second ball from the left red?", "is(from_left(all(ball), 2), red)"),
    ("Are there more than 2 cubes?", "more(count(all(cube)), 2)"),
    ("Is the cube red or blue?", "color(the(cube))"),
    ("Is the large sphere rubber or metal?", "material(the(large, sphere))"),
    ("How many things are not cubes?", "count(all(not(cube)))"),
    ("Isn't the big ball yellow?", "is(the(big, ball), yellow)"),
    ("What is the thing on the far right made of?", "material(rightmost(all(thing)))"),
    ("How many cubes are behind the yellow sphere that is left of the purple cylinder?",
     "count(all(cubes, behind(the(yellow, sphere, left_of(the(purple, cylinder))))))"),
    ("There is a rubber cylinder behind the small cyan cube; is it large?",
     "is(the(rubber, cylinder, behind(the(small, cyan, cube))), large)"),
    ("There is a tiny ball; what is it made of?", "material(the(tiny, ball))"),
]

NOT_WHOLE = [  # question, a program that answers another question, what the check says
    ("What color is the tiny matte thing?", "count(all(small, thing))", ["color", "matte", "value"]),
    ("What number of metal things are yellow things or large cyan things?", "count(all(metal, yellow))",
     ["large", "cyan"]),
    ("Are there any other things that are the same size as the cyan rubber cylinder?", "count(all(large, thing))",
     ["the same", "cyan", "large", "yes or no"]),
    ("Is the second ball from the left red?", "exists(all(red, ball))", ["second", "left"]),
    ("Are there 2 cubes?", "exists(all(cube))", ["2"]),
    ("How many cubes are there?", "count(all(red, cube))", ['"red"']),  # a value the question never says
    ("How many cubes are left of the sphere?", "count(all(cube, right_of(the(sphere))))", ["right of"]),
    ("How many spheres are there?", "exists(all(sphere))", ["how many"]),
    ("Is the purple cylinder small or large?", "size(the(purple, cylinder, small))", ["one of the answers"]),
    ("Which shape is the thing closest to the camera?", "color(frontmost(all(shape)))", ['"shape"', '"color"']),
    ("How many cubes are behind the yellow sphere that is left of the purple cylinder?",
     "count(all(cubes, left_of(the(yellow, sphere)), behind(the(purple, cylinder))))",
     ['"left of" is said of the cylinder, not of the sphere', '"behind" is said of the sphere']),
    ("There is a rubber cylinder behind the small cyan cube; is it large?",
     "exists(all(rubber, cylinder, behind(the(small, cyan, cube))))", ["large"]),
]


@pytest.mark.parametrize("question, program", WHOLE, ids=[q for q, _ in WHOLE])
def test_a_program_for_the_whole_question_passes(question, program):
    verdict = check(question, check_program(program, blocks()), blocks())
    assert verdict.ok, verdict.feedback()


@pytest.mark.parametrize("question, program, said", NOT_WHOLE, ids=[f"{q} {p}" for q, p, _ in NOT_WHOLE])
def test_a_program_for_another_question_is_caught_and_the_feedback_names_the_words(question, program, said):
    verdict = check(question, check_program(program, blocks()), blocks())
    assert not verdict.ok and verdict.fixable
    for words in said:
        assert words in verdict.feedback(), verdict.feedback()
    assert verdict.reason().startswith("I could not write a program for the whole question")


def test_unknown_words_and_things_no_expert_finds_cannot_be_fixed_by_writing_again():
    v = check("Is there a red star?", check_program("exists(all(red, thing))", blocks()), blocks())
    assert v.unknown == ["star"] and not v.fixable and v.reason() == 'I do not know the word "star"'
    v = check("How many dogs are there?", check_program("count(all(thing))", blocks()), blocks())
    assert v.not_detectable == ["dogs"] and v.reason() == "the experts here cannot find dogs"


def test_a_side_of_the_picture_is_a_known_phrase_that_a_half_accounts_for():
    """"on the left of the picture" is read as one phrase (a region), not as unknown words nor as left_of."""
    question = "How many cubes are on the left of the picture?"
    reading = read_question(question, blocks())
    assert reading.unknown_words() == [] and not reading.asks_about_the_picture()
    assert check(question, check_program("count(all(cube, left_half))", blocks()), blocks()).ok
    wrong = check(question, check_program("count(all(cube, left))", blocks()), blocks())
    assert not wrong.ok and "on the left of the picture" in wrong.feedback()


def test_a_phrase_left_out_comes_back_with_the_word_of_the_language_that_says_it():
    """The model that could not say "on the right of the picture" or "tiny" is told the word: right_half, small
    (the user's reason stays in the user's words); a phrase that is its own word gets no hint."""
    right = check("How many cubes are on the right of the picture?",
                  check_program("count(all(cube, right_of(all(thing))))", blocks()), blocks())
    assert 'leaves out "on the right of the picture" (right_half)' in right.feedback()
    assert "right_half" not in right.reason()
    tiny = check("Is the tiny sphere purple?", check_program("is(the(sphere), purple)", blocks()), blocks())
    assert 'leaves out "tiny" (small).' in tiny.feedback()
    left = check("What color is the leftmost cube?", check_program("color(the(cube))", blocks()), blocks())
    assert 'leaves out "leftmost".' in left.feedback()


def test_picture_questions_and_questions_naming_nothing_are_told_apart():
    assert read_question("What color is the background?", blocks()).asks_about_the_picture()
    assert read_question("What is in this picture?", blocks()).names_nothing()
    assert not read_question("What is left of the cube?", blocks()).names_nothing()
    # "say" of a sign's text is the picture's; "would you say" only hedges a question about the objects
    assert read_question("What does it say?", blocks()).asks_about_the_picture()
    assert not read_question("Would you say the cube is left of the sphere?", blocks()).asks_about_the_picture()


def test_several_images_the_question_must_name_the_image_the_program_uses():
    sc = two_photos()
    ok = check("How many people are in the first picture?", check_program("count(all(people, img_0))", sc), sc)
    assert ok.ok, ok.feedback()
    wrong = check("How many people are in the first picture?", check_program("count(all(people))", sc), sc)
    assert "first" in wrong.feedback()
    invented = check("How many people are there?", check_program("count(all(people, img_0))", sc), sc)
    assert "image img_0" in invented.feedback()  # the latest image is meant, not another one
    assert check("Which image has more people?", check_program("which_more(all(people))", sc), sc).ok
    form = check("Which image has more people?", check_program("count(all(people))", sc), sc)
    assert "which image" in form.feedback()
    other = check("Is there a dog in the other photo?", check_program("exists(all(dog, img_0))", sc), sc)
    assert other.ok, other.feedback()


def test_either_image_is_every_image_and_a_picture_that_contains_is_no_relation():
    """"Does either image contain a dog?" written or(img_0, img_1) or all_images passes: the union of every
    image is all of them, and "image contain" says only that the dog is in it. Left out, the phrase comes back
    with all_images; a union of some images only is still an "or" the question does not say."""
    sc = two_photos()
    question = "Does either image contain a dog?"
    for program in ("exists(all(dog, or(img_0, img_1)))", "exists(all(dog, all_images))"):
        verdict = check(question, check_program(program, sc), sc)
        assert verdict.ok, (program, verdict.feedback())
    relation = check("Does the bus contain a dog?", check_program("exists(all(dog))", sc), sc)
    assert 'leaves out "contain"' in relation.feedback()  # between objects it is still the relation
    left_out = check("Is there a dog in at least one of the images?", check_program("exists(all(dog, img_0))", sc), sc)
    assert 'leaves out "at least one of the images" (all_images)' in left_out.feedback()
    only_one = check("Is there a dog in only one of the images?",
                     check_program("exists(all(dog, or(img_0, img_1)))", sc), sc)
    assert 'leaves out "only one of the images"' in only_one.feedback()  # not "either": one and not the other
    assert check("Counting both pictures, how many people are there?",
                 check_program("count(all(people, all_images))", sc), sc).ok


def test_a_follow_up_may_use_what_the_earlier_question_named():
    sc = two_photos()
    program = check_program("count(all(person, left_half))", sc)
    assert not check("And how many of them are on the left half?", program, sc).ok  # "person" from nowhere
    assert check("And how many of them are on the left half?", program, sc,
                 context=["How many people are in this photo?"]).ok
