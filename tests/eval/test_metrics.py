"""Tests for lavr.eval.metrics; every expected value is worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lavr.answers import short_answer
from lavr.eval.metrics import (
    METRICS,
    exact_match,
    latency_percentiles,
    multiple_choice_accuracy,
    normalize_answer,
    vqa_soft_accuracy,
    vqa_soft_accuracy_lenient,
)

OFFICIAL_CASES = Path(__file__).resolve().parents[1] / "data" / "vqa_official_cases.jsonl"
SHARED_CASES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vqa_official_cases.jsonl"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Two", "2"),  # number word -> digit, lower-cased
        ("none", "0"),
        ("ten", "10"),
        ("someone", "someone"),  # only whole words are mapped
        ("the dog.", "dog"),  # article removed, period not followed by a digit stripped
        ("An Apple", "apple"),
        ("dont", "don't"),  # contractions map
        ("isnt", "isn't"),
        ("whats", "what's"),
        ("1,000", "1000"),  # commaStrip matches, so every punctuation char is removed
        ("1,000-2,000", "10002000"),  # ... including the hyphen
        ("3.5", "3.5"),  # period followed by a digit is kept
        ("end.dot", "enddot"),
        ("yes!", "yes"),  # "!" not next to a space -> replaced by space, then split away
        ("a red-car", "red car"),  # hyphen not next to a space -> space
        ("well-known - yes", "wellknown yes"),  # "- " occurs -> every hyphen removed
        # The adjacency test looks at the input: ";" -> " " makes "p -q-r", but the input
        # had no " -", so hyphens still become spaces.
        ("p;-q-r", "p q r"),
        ("red, blue", "red blue"),
        ("a/b", "b"),  # "/" -> space gives "a b", then the article "a" goes
        ("3:00", "3:00"),  # ":" is not in the official punctuation list
        ("man's hat", "man's hat"),  # neither is the apostrophe
        ("  Yes\n", "yes"),
        ("red\tcar", "red car"),
        ("(old)  car", "old car"),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def _answers(matching: int, total: int = 10) -> list[str]:
    return ["2"] * matching + ["3"] * (total - matching)


@pytest.mark.parametrize(
    ("matching", "expected"),
    [
        # 0 matches: every subset of 9 has 0 matches -> 0.
        (0, 0.0),
        # 1 match: left out -> 0/3; any of the 9 others left out -> 1/3. (9 * 1/3) / 10 = 0.3
        (1, 0.3),
        # 2 matches: a match left out -> 1 remains -> 1/3; a non-match left out -> 2/3.
        # (2 * 1/3 + 8 * 2/3) / 10 = 0.6
        (2, 0.6),
        # 3 matches: (3 * 2/3 + 7 * 1) / 10 = 0.9
        (3, 0.9),
        # 4 matches: every subset keeps >= 3 matches -> 1.0
        (4, 1.0),
        (10, 1.0),
    ],
)
def test_vqa_soft_accuracy_leave_one_out(matching: int, expected: float) -> None:
    assert vqa_soft_accuracy("2", _answers(matching)) == pytest.approx(expected)


def test_vqa_soft_accuracy_normalises_both_sides() -> None:
    # "Two." -> "2"; answers "two"/"2 " -> "2": three matches -> 0.9 as above.
    answers = ["two", "2 ", "2"] + ["three"] * 7
    assert vqa_soft_accuracy("Two.", answers) == pytest.approx(0.9)


def test_vqa_soft_accuracy_small_lists() -> None:
    # 3 answers, all matching: each subset of 2 has 2 matches -> 2/3.
    assert vqa_soft_accuracy("cat", ["cat"] * 3) == pytest.approx(2 / 3)
    # A single answer cannot be left out, so it is an exact match; one answer is "all answers identical", so
    # (as in the official code) nothing is normalised.
    assert vqa_soft_accuracy("cat ", ["cat"]) == 1.0
    assert vqa_soft_accuracy("The cat", ["cat"]) == 0.0
    assert vqa_soft_accuracy_lenient("The cat", ["cat"]) == 1.0
    assert vqa_soft_accuracy("dog", ["cat"]) == 0.0


def test_vqa_soft_accuracy_rejects_empty() -> None:
    with pytest.raises(ValueError):
        vqa_soft_accuracy("cat", [])


def test_exact_match() -> None:
    assert exact_match("The Dog.", ["cat", "dog"]) == 1.0
    assert exact_match("two", ["2"]) == 1.0
    assert exact_match("dogs", ["dog"]) == 0.0
    assert exact_match("dog", []) == 0.0


@pytest.mark.parametrize(
    ("text", "question", "expected"),
    [
        ("Answer: Yes, there is a dog.", None, "yes"),
        ("No.", None, "no"),
        ("yes it is", None, "yes"),
        ("No one is there", None, "No one is there"),  # "no" + word is not a bare "no"
        ("The answer is red.", None, "red"),
        ("red\nBecause the car is red.", None, "red"),
        ("\n  Blue\n", None, "Blue"),
        ("The cat is sitting on the red sofa near the window.", None, "The cat is sitting on"),
        ("There are two dogs in the picture.", None, "two dogs in the picture"),
        ("There are two dogs in the picture.", "How many dogs are there?", "2"),
        ("I see 3 cats and 2 dogs.", "how many animals?", "3"),
        ("There are seventeen birds.", "How many birds?", "17"),
        ("There are no dogs.", "How many dogs?", "0"),
        ("There are two dogs.", "What is there?", "two dogs"),  # not a count question
        ("", None, ""),
    ],
)
def test_short_answer(text: str, question: str | None, expected: str) -> None:
    assert short_answer(text, question=question) == expected


CHOICES = ["red", "blue", "dark green", "green"]


@pytest.mark.parametrize(
    ("prediction", "correct", "expected"),
    [
        ("B", 1, 1.0),
        ("(b)", 1, 1.0),
        ("b.", 1, 1.0),
        ("B) blue", 1, 1.0),
        ("C", 1, 0.0),
        ("Blue.", "blue", 1.0),
        ("1", 1, 1.0),  # bare 0-based index
        ("I think dark green.", 2, 1.0),  # both "green" and "dark green" inside: longest wins
        ("I think dark green.", 3, 0.0),
        ("The answer is (C) dark green", "C", 1.0),
        ("green", "D", 1.0),
        ("dark", 2, 1.0),  # prediction contained in exactly one choice
        ("purple", 0, 0.0),
        ("", 0, 0.0),
    ],
)
def test_multiple_choice_accuracy(prediction: str, correct: str | int, expected: float) -> None:
    assert multiple_choice_accuracy(prediction, CHOICES, correct) == expected


def test_multiple_choice_text_before_letter_and_index() -> None:
    # "a red car" normalises to "red car" (option 1), not letter A (option 0).
    assert multiple_choice_accuracy("a red car", ["blue car", "red car"], 1) == 1.0
    # "2" is the text of option 1, not index 2.
    assert multiple_choice_accuracy("2", ["1", "2", "3"], "2") == 1.0
    assert multiple_choice_accuracy("2", ["1", "2", "3"], 2) == 0.0


@pytest.mark.parametrize(("choices", "correct"), [(CHOICES, "purple"), (CHOICES, 7), (CHOICES, "Z"), ([], 0)])
def test_multiple_choice_rejects_bad_correct(choices: list[str], correct: str | int) -> None:
    with pytest.raises(ValueError):
        multiple_choice_accuracy("red", choices, correct)


def test_metrics_registry() -> None:
    assert set(METRICS) == {"vqa", "vqa_lenient", "exact_match", "multiple_choice"}
    assert METRICS["vqa"]("2", _answers(3)) == pytest.approx(0.9)
    assert METRICS["exact_match"]("the dog", ["dog"]) == 1.0
    assert METRICS["multiple_choice"]("B", ["blue"], choices=CHOICES) == 1.0
    assert METRICS["multiple_choice"]("B", 1, choices=CHOICES) == 1.0
    assert METRICS["multiple_choice"]("A", "B", choices=CHOICES) == 0.0


def test_latency_percentiles_linear_interpolation() -> None:
    # Sorted [1, 2, 3, 4]; rank = p/100 * 3.
    # p50: rank 1.5 -> 2 + 0.5 * 1 = 2.5; p90: rank 2.7 -> 3.7; p99: rank 2.97 -> 3.97.
    result = latency_percentiles([4.0, 1.0, 3.0, 2.0])
    assert result.keys() == {"p50", "p90", "p99"}
    assert result["p50"] == pytest.approx(2.5)
    assert result["p90"] == pytest.approx(3.7)
    assert result["p99"] == pytest.approx(3.97)


def test_latency_percentiles_edges() -> None:
    assert latency_percentiles([5.0]) == {"p50": 5.0, "p90": 5.0, "p99": 5.0}
    assert latency_percentiles([3.0, 1.0, 2.0], ps=(0, 100)) == {"p0": 1.0, "p100": 3.0}
    # [0, 10], p99.9: rank 0.999 -> 9.99
    assert latency_percentiles([0.0, 10.0], ps=(99.9,))["p99.9"] == pytest.approx(9.99)
    with pytest.raises(ValueError):
        latency_percentiles([])
    with pytest.raises(ValueError):
        latency_percentiles([1.0], ps=(101,))


def test_short_answer_never_turns_a_count_into_yes_or_no() -> None:
    # Formatting shortens what was said; it never changes its meaning.
    assert short_answer("4", question="Are there any people in this picture?") == "4"
    assert short_answer("0", question="Is there a person?") == "0"
    assert short_answer("4", question="How many people?") == "4"
    assert short_answer("2 people", question="Are there people?") == "2 people"


def _official_cases() -> list[dict]:
    with OFFICIAL_CASES.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_official_cases_copy_matches_shared_file() -> None:
    if not SHARED_CASES.is_file():
        pytest.skip("../shared is not beside this checkout")
    assert OFFICIAL_CASES.read_bytes() == SHARED_CASES.read_bytes()


def test_vqa_soft_accuracy_agrees_with_the_official_evaluator_on_300_cases() -> None:
    cases = _official_cases()
    assert len(cases) == 300
    wrong = [(c["id"], c["prediction"], vqa_soft_accuracy(c["prediction"], c["answers"]), c["official"])
             for c in cases if vqa_soft_accuracy(c["prediction"], c["answers"]) != pytest.approx(c["official"])]
    assert wrong == []


def test_identical_human_answers_are_not_normalised_but_stripped() -> None:
    assert vqa_soft_accuracy("Left.", ["left"] * 10) == 0.0
    assert vqa_soft_accuracy(" left\n", ["left"] * 10) == 1.0
    assert vqa_soft_accuracy("left", ["left "] * 10) == 1.0
    # One differing human answer switches normalisation on for everyone.
    assert vqa_soft_accuracy("Left.", ["left"] * 9 + ["right"]) == pytest.approx(1.0)


def test_lenient_variant_always_normalises() -> None:
    assert vqa_soft_accuracy_lenient("Left.", ["left"] * 10) == 1.0
    assert vqa_soft_accuracy_lenient("Two", ["2"] * 10) == 1.0
    assert METRICS["vqa_lenient"]("the cat", ["cat"] * 10) == 1.0
