"""Answer formatting: turn a sentence-style LLM reply into a VQA-style short answer.

This belongs to the agent (what ``ask`` prints is what an evaluation scores); the scorers in
``lavr.eval.metrics`` never rewrite an answer beyond the official normalisation. The formatter only shortens
what was said: it never changes its meaning (a count stays a count even when the question was yes/no).
"""

from __future__ import annotations

import functools
import re

from .lexicon import lexicon

CANNOT_TELL = "cannot tell"  # the answer when the evidence does not establish one, in every mode and tool

__all__ = ["expects_yes_no", "short_answer", "strip_prefixes"]

_PREFIX_RE = re.compile(
    r"^(?:(?:final\s+)?answer\s*[:\-]\s*|the\s+(?:correct\s+|final\s+)?answer\s+is\s*:?\s*|"
    r"there\s+(?:are|is)\s+|it\s+is\s+|it's\s+)",
    re.IGNORECASE,
)
_YES_NO_RE = re.compile(r"^(yes|no)(?:[,.!;:]|$)|^(yes)\s", re.IGNORECASE)
_MAX_WORDS = 5


@functools.cache
def _number_words() -> dict[str, str]:
    """The lexicon's number words as digits ("three" -> "3"); "no" is read only alone (see ``short_answer``)."""
    return {w: str(n) for w, n in lexicon().number_words().items() if w.isalpha() and w != "no"}


@functools.cache
def _number_re() -> re.Pattern[str]:
    return re.compile(r"\b(\d+(?:,\d{3})*(?:\.\d+)?|" + "|".join(sorted(_number_words(), key=len, reverse=True))
                      + r")\b", re.IGNORECASE)


def expects_yes_no(question: str) -> bool:
    """Whether a question is answered with yes or no (the lexicon's rule: it starts with an auxiliary verb, "Is
    there...", "Can you see...", and offers no choice between values, "Is it metal or rubber?")."""
    return lexicon().is_yes_no_question(question)


def strip_prefixes(text: str) -> str:
    """Remove leading ``Answer:``, ``The answer is``, ``There are``, ``It is`` (repeatedly)."""
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX_RE.sub("", text).strip()
    return text


def short_answer(text: str, *, question: str | None = None) -> str:
    """Shortens a sentence-style LLM reply to a VQA-style short answer.

    Takes the first non-empty line, strips prefixes such as ``"Answer:"``, ``"The answer is"``, ``"There are"``
    and trailing periods. For a question starting with "how many" the first number (digits or a number word up
    to twenty; "none" or a lone "no" -> 0) is returned as digits. Otherwise ``"yes, ..."``/``"no."`` become
    ``"yes"``/``"no"`` ("no" only when followed by punctuation or the end, so "no one" is kept) and longer
    replies are cut to the first five words.

    Args:
        text: The raw reply.
        question: The question, used to detect counting questions.

    Returns:
        The shortened answer (possibly empty when ``text`` is blank).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    answer = strip_prefixes(lines[0]) if lines else ""
    answer = answer.rstrip(" .").strip()
    if question is not None and lexicon().asks_count(question):
        match = _number_re().search(answer)
        if match:
            token = match.group(1).lower()
            return _number_words().get(token, token.replace(",", ""))
        if re.search(r"\bno\b", answer, re.IGNORECASE):
            return "0"
    yes_no = _YES_NO_RE.match(answer)
    if yes_no:
        return (yes_no.group(1) or yes_no.group(2)).lower()
    words = answer.split()
    if len(words) > _MAX_WORDS:
        answer = " ".join(words[:_MAX_WORDS]).rstrip(",;:")
    return answer
