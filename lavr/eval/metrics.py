"""Answer normalisation and scoring metrics for VQA-style benchmarks.

Only the standard library is used. The scorers score the answer they are given: formatting a sentence into a
short answer is the agent's job (``lavr.answers``), never the scorer's.

``vqa_soft_accuracy`` reproduces the official GT-Vision-Lab evaluator (``vqaEval.py``): newlines and tabs become
spaces and both sides are stripped; then, only when the human answers are not all identical, answers and
prediction are normalised (``processPunctuation`` + ``processDigitArticle``: ``normalize_answer``). When all
ten humans gave the same string nothing is normalised, so ``"Left."`` scores 0 against ten ``"left"``.
``vqa_soft_accuracy_lenient`` always normalises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..answers import strip_prefixes

__all__ = [
    "METRICS", "exact_match", "latency_percentiles", "multiple_choice_accuracy", "normalize_answer",
    "vqa_soft_accuracy", "vqa_soft_accuracy_lenient",
]

# Official vqaEval.py contractions map, kept verbatim (including its quirks such as
# the reversed "somebody'd" entry and the unreachable capitalised keys).
_CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}
_MANUAL_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})
# Regexes copied from vqaEval.py; "(?!<=\d)" is the official (buggy) lookahead, kept as is.
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
_PUNCT = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!",
)



def _process_punctuation(text: str) -> str:
    out = text
    comma_digits = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        # As in vqaEval.py, the adjacency test looks at the input text, not ``out``.
        if (p + " " in text or " " + p in text) or comma_digits:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out)


def _process_digit_article(text: str) -> str:
    words = [_MANUAL_MAP.get(w, w) for w in text.lower().split()]
    words = [_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES]
    return " ".join(words)


def normalize_answer(text: str) -> str:
    """Normalises an answer the way the official VQA evaluation script does.

    Args:
        text: A predicted or ground-truth answer.

    Returns:
        Lower-cased text with punctuation handled as in ``processPunctuation``,
        number words turned into digits, articles removed, contractions expanded
        and whitespace collapsed, e.g. ``"The Two dogs."`` -> ``"2 dogs"``.
    """
    text = text.lower().replace("\n", " ").replace("\t", " ").strip()
    return _process_digit_article(_process_punctuation(text))


def _official_clean(text: str) -> str:
    """What ``vqaEval.py`` does to every answer before anything else: newlines and tabs to spaces, strip."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def _leave_one_out(prediction: str, answers: Sequence[str]) -> float:
    """Mean over the answers of ``min(1, matches among the other answers / 3)``; one answer: exact match."""
    if len(answers) == 1:
        return 1.0 if prediction == answers[0] else 0.0
    total_matches = sum(gt == prediction for gt in answers)
    scores = [min(1.0, (total_matches - (gt == prediction)) / 3) for gt in answers]
    return sum(scores) / len(scores)


def vqa_soft_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Official VQA accuracy (GT-Vision-Lab ``vqaEval.py``) with leave-one-out averaging.

    For each human answer, that answer is left out and the score is ``min(1, matches among the other
    answers / 3)``; the scores are averaged. Answers and prediction have newlines/tabs turned into spaces and
    are stripped; they are normalised with ``normalize_answer`` only when the (stripped) human answers are not
    all identical, exactly as the official code does. With a single answer no leave-one-out subset has any
    answer, so exact match (same normalisation rule: none) is used.

    Args:
        prediction: The model answer, scored as given.
        answers: The human answers (usually 10).

    Returns:
        The accuracy in [0, 1].

    Raises:
        ValueError: If ``answers`` is empty.
    """
    if not answers:
        raise ValueError("vqa_soft_accuracy needs at least one answer")
    pred = _official_clean(prediction)
    gts = [_official_clean(a) for a in answers]
    if len(set(gts)) > 1:
        pred = normalize_answer(pred)
        gts = [normalize_answer(a) for a in gts]
    return _leave_one_out(pred, gts)


def vqa_soft_accuracy_lenient(prediction: str, answers: Sequence[str]) -> float:
    """Like ``vqa_soft_accuracy`` but always normalises (``"Left."`` matches ten ``"left"``); not the official
    number, so it has its own name and metric key (``vqa_lenient``).

    Raises:
        ValueError: If ``answers`` is empty.
    """
    if not answers:
        raise ValueError("vqa_soft_accuracy_lenient needs at least one answer")
    return _leave_one_out(normalize_answer(prediction), [normalize_answer(a) for a in answers])


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """GQA-style exact match after ``normalize_answer``.

    Args:
        prediction: The model answer.
        answers: Acceptable answers (one or more).

    Returns:
        1.0 if the normalised prediction equals any normalised answer, else 0.0.
    """
    pred = normalize_answer(prediction)
    return 1.0 if any(pred == normalize_answer(a) for a in answers) else 0.0


def _letter_index(text: str, n: int) -> int | None:
    text = text.strip().lower()
    match = re.fullmatch(r"\(?([a-z])\)?[.:]?", text) or re.match(r"\(?([a-z])[.):]\s", text + " ")
    if match and ord(match.group(1)) - ord("a") < n:
        return ord(match.group(1)) - ord("a")
    return None


def _choice_index(prediction: str, choices: Sequence[str]) -> int | None:
    norm_choices = [normalize_answer(c) for c in choices]
    raw = strip_prefixes(prediction.strip().splitlines()[0] if prediction.strip() else "")
    pred = normalize_answer(raw)
    if pred in norm_choices:
        return norm_choices.index(pred)
    letter = _letter_index(raw, len(choices))
    if letter is not None:
        return letter
    if re.fullmatch(r"\d+", pred) and int(pred) < len(choices):
        return int(pred)
    padded = f" {pred} "
    inside = [i for i, c in enumerate(norm_choices) if c and f" {c} " in padded]
    if inside:
        longest = max(len(norm_choices[i]) for i in inside)
        best = [i for i in inside if len(norm_choices[i]) == longest]
        return best[0] if len(best) == 1 else None
    holders = [i for i, c in enumerate(norm_choices) if pred and f" {pred} " in f" {c} "]
    return holders[0] if len(holders) == 1 else None


def multiple_choice_accuracy(prediction: str, choices: Sequence[str], correct: str | int) -> float:
    """Scores a multiple-choice reply.

    The prediction is mapped to a choice by, in order: normalised text equality;
    a letter such as ``"B"``, ``"(b)"`` or ``"B. red"``; a bare 0-based index;
    a unique (longest) choice contained in the prediction; the prediction
    contained in exactly one choice. An unmappable prediction scores 0.0.

    Args:
        prediction: The model reply.
        choices: The options, in order (option A first).
        correct: The correct option as a 0-based index, its text or its letter.

    Returns:
        1.0 if the prediction maps to the correct option, else 0.0.

    Raises:
        ValueError: If ``choices`` is empty or ``correct`` names no option.
    """
    if not choices:
        raise ValueError("multiple_choice_accuracy needs at least one choice")
    target: int | None
    if isinstance(correct, int):
        target = correct if 0 <= correct < len(choices) else None
    else:
        norm_choices = [normalize_answer(c) for c in choices]
        norm = normalize_answer(correct)
        target = norm_choices.index(norm) if norm in norm_choices else _letter_index(correct, len(choices))
    if target is None:
        raise ValueError(f"correct answer {correct!r} names none of the {len(choices)} choices")
    return 1.0 if _choice_index(prediction, choices) == target else 0.0


def _multiple_choice_metric(prediction: str, answers: Any, *, choices: Sequence[str]) -> float:
    correct = answers if isinstance(answers, (str, int)) else answers[0]
    return multiple_choice_accuracy(prediction, choices, correct)


METRICS: dict[str, Callable[..., float]] = {
    "vqa": vqa_soft_accuracy,
    "vqa_lenient": vqa_soft_accuracy_lenient,
    "exact_match": exact_match,
    # Adapter: ``fn(prediction, answers, *, choices=[...])`` where ``answers`` is the
    # correct option (index, text or letter) or a list whose first item is it.
    "multiple_choice": _multiple_choice_metric,
}
"""Metrics by name; each is called as ``fn(prediction, answers, **extra)``."""


def latency_percentiles(seconds: Sequence[float], ps: Sequence[float] = (50, 90, 99)) -> dict[str, float]:
    """Percentiles with linear interpolation (same as ``numpy.percentile`` default).

    Args:
        seconds: Latency samples.
        ps: Percentiles in [0, 100].

    Returns:
        A dict like ``{"p50": 1.2, "p90": 3.4, "p99": 5.0}``.

    Raises:
        ValueError: If ``seconds`` is empty or a percentile is outside [0, 100].
    """
    if not seconds:
        raise ValueError("latency_percentiles needs at least one sample")
    data = sorted(float(s) for s in seconds)
    result: dict[str, float] = {}
    for p in ps:
        if not 0 <= p <= 100:
            raise ValueError(f"percentile {p} is outside [0, 100]")
        rank = (len(data) - 1) * p / 100
        low, high = math.floor(rank), math.ceil(rank)
        result[f"p{p:g}"] = data[low] + (data[high] - data[low]) * (rank - low)
    return result
