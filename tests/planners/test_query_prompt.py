"""The query planner's prompt and grammar: worked examples that run to their answers and account for their
questions, a byte-identical prefix, and a grammar (llama.cpp's own engine) that accepts every worked program."""

from __future__ import annotations

import pytest
from query_scenes import blocks, shapes, two_photos

from lavr.planners.query.checks import check
from lavr.planners.query.grammar import build_grammar, scene_words
from lavr.planners.query.planner import EARLIER_TURNS, window_start
from lavr.planners.query.prompt import (
    PREFILL,
    EarlierTurn,
    QueryPrompt,
    WorkedExample,
    example_scenes,
    images_line,
    load_worked_examples,
    terms,
)
from lavr.tools.query import REGISTRY, check_program, execute

EXAMPLES = load_worked_examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.question)
def test_every_worked_example_runs_to_its_answer_and_accounts_for_its_question(example: WorkedExample):
    scene = example_scenes()[example.scene]
    typed = check_program(example.program, scene)
    execution = execute(typed, scene)
    assert execution.answer == example.answer or execution.answer.startswith(example.answer + ":"), \
        execution.rationale
    verdict = check(example.question, typed, scene)
    assert verdict.ok, verdict.feedback()


def test_the_worked_examples_cover_the_language():
    used = {t.op.family or t.op.name for e in EXAMPLES
            for t in check_program(e.program, example_scenes()[e.scene]).walk() if t.op is not None}
    families = {op.family or op.name for op in REGISTRY.all()}
    assert families - used == set(), f"no worked example uses {families - used}"
    assert len({e.question for e in EXAMPLES}) == len(EXAMPLES)


def test_the_prefix_is_byte_identical_and_only_the_question_message_changes():
    a, b = QueryPrompt(), QueryPrompt()
    m1 = a.messages("How many red circles are there?", shapes())
    m2 = b.messages("Which image has more people?", two_photos())
    assert [m.model_dump() for m in m1[:-1]] == [m.model_dump() for m in m2[:-1]]
    assert m1[-1].content == "Q: How many red circles are there?"
    assert m2[-1].content == ("Images: img_0 (first, the other one), img_1 (second, this one)\n"
                              "Q: Which image has more people?")
    for example in EXAMPLES:
        glossed = f"Terms: {terms(example.question)}\n" if terms(example.question) else ""
        assert f"Q: {example.question}\n{glossed}{PREFILL} {example.program}" in a.prefix_text
    assert images_line(blocks()) == ""


def test_phrases_that_say_an_op_in_other_words_come_with_the_language_s_word():
    """"tiniest" is smallest(S), "closest to the bottom" bottommost(S): said next to the question (and the worked
    examples), so the model need not guess; a phrase of two meanings ("over": above, or more than) gets none."""
    assert terms("What shape is the tiniest object?") == "tiniest = smallest"
    assert terms("Is the thing closest to the bottom to the left of the cube?") == \
        "closest to the bottom = bottommost; to the left of = left_of"
    assert terms("Is the number of cubes smaller than the number of balls?") == "smaller than = fewer"
    assert terms("Is the ball over the cube?") == "" and terms("Is the leftmost cube left of the ball?") == ""
    message = QueryPrompt().messages("What shape is the tiniest object?", blocks())[-1].content
    assert message == "Q: What shape is the tiniest object?\nTerms: tiniest = smallest"
    assert ("Q: What color is the object on the far right?\nTerms: far right = rightmost\n"
            "P: color(rightmost(all(object)))") in QueryPrompt().prefix_text


def test_a_follow_up_continues_the_earlier_prompts_and_replies_byte_for_byte():
    """Turn n's prompt followed by its reply is where turn n+1's prompt starts (llama.cpp then evaluates only the
    new question); an earlier turn without a program shows its answer."""
    prompt = QueryPrompt()
    first = prompt.messages("How many people?", blocks())
    one = [EarlierTurn(question="How many people?", program="count(all(person))", answer="3")]
    second = prompt.messages("And how many of them are standing?", blocks(), one)
    assert second[:len(first)] == first
    assert [(m.role, m.content) for m in second[len(first):]] == [
        ("assistant", "P: count(all(person))"), ("user", "Q: And how many of them are standing?")]
    two = [*one, EarlierTurn(question="And how many of them are standing?", answer="cannot tell")]
    third = prompt.messages("Is the largest one red?", blocks(), two)
    assert third[:len(second)] == second
    assert [(m.role, m.content) for m in third[len(second):]] == [
        ("assistant", "A: cannot tell"), ("user", "Q: Is the largest one red?")]


def test_the_earlier_turns_shown_move_in_steps_so_follow_ups_share_their_prompts():
    starts = [window_start(n) for n in range(9)]
    assert starts == [0, 0, 0, 0, 2, 2, 4, 4, 6]
    for n, start in enumerate(starts):
        assert min(n, EARLIER_TURNS) <= n - start <= 2 * EARLIER_TURNS - 1  # enough context, bounded
    # between consecutive turns the start moves only every EARLIER_TURNS turns
    assert sum(a != b for a, b in zip(starts, starts[1:])) == 3


def test_feedback_shows_the_first_program_and_what_was_wrong_then_asks_again():
    messages = QueryPrompt().feedback_messages("How many cubes?", blocks(), (), "count(all(red, cube))",
                                               'The program does not match the question: it uses "red".')
    assert [m.role for m in messages[-2:]] == ["assistant", "user"]
    assert messages[-2].content == "P: count(all(red, cube))"
    assert messages[-1].content.startswith('The program does not match the question: it uses "red".')
    assert messages[-1].content.endswith("Q: How many cubes?")


def test_the_grammar_is_bounded_by_the_scene_and_the_words_that_name_it():
    words = scene_words(blocks().vocabulary, blocks().images)
    assert {"cube", "cubes", "block", "ball", "shiny", "matte", "tiny", "big", "thing", "left_half"} <= set(words)
    assert not {"person", "dog", "circle", "img_0", "all_images"} & set(words)  # not this scene's
    grammar = build_grammar(blocks().vocabulary, blocks().images)
    assert grammar.gbnf.startswith('root ::= " " answer')  # the prompt ends at "P:", the grammar writes the space
    assert '"which_more("' not in grammar.gbnf  # image ops only with several images
    assert '"which_more("' in build_grammar(two_photos().vocabulary, two_photos().images).gbnf
    assert '"posture("' in build_grammar(two_photos().vocabulary, two_photos().images).gbnf


@pytest.fixture(scope="module")
def vocab():
    pytest.importorskip("llama_cpp")
    from embedded_model import embedded_gguf
    from llama_cpp import Llama

    return Llama(model_path=str(embedded_gguf()), vocab_only=True, verbose=False)


def accepts(vocab, gbnf: str, program: str) -> bool:
    """Whether llama.cpp's grammar engine accepts `` program`` token by token, then the end."""
    from llama_cpp import LlamaGrammar

    from lavr.backends.grammar_sampling import GrammarConstraint

    grammar = LlamaGrammar.from_string(gbnf, verbose=False)
    constraint = GrammarConstraint(vocab._model.vocab, grammar._grammar, grammar._root, vocab.n_vocab())
    try:
        for token in vocab.tokenize((" " + program).encode(), add_bos=False):
            if not constraint.allows(token):
                return False
            constraint.accept(token)
        return constraint.allows(vocab.token_eos())
    finally:
        constraint.close()


def test_llama_cpp_accepts_every_worked_program_under_its_scenes_grammar(vocab):
    for example in EXAMPLES:
        scene = example_scenes()[example.scene]
        gbnf = build_grammar(scene.vocabulary, scene.images).gbnf
        assert accepts(vocab, gbnf, example.program), example.program


def test_llama_cpp_refuses_what_the_scene_cannot_name(vocab):
    gbnf = build_grammar(blocks().vocabulary, blocks().images).gbnf
    assert accepts(vocab, gbnf, "count(all(big, shiny, balls))")
    assert not accepts(vocab, gbnf, "count(all(dogs))")
    assert not accepts(vocab, gbnf, "count(all(cube, img_1))")
    assert not accepts(vocab, gbnf, "count(all(cube)) and more")


def test_every_word_a_grammar_allows_means_something_in_its_scene():
    from lavr.tools.query.executor import word_readings

    for scene in [*example_scenes().values(), blocks(), shapes(), two_photos()]:
        for word in scene_words(scene.vocabulary, scene.images):
            assert word_readings(word, scene), word
