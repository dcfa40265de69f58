"""Prompt helpers every planner shares: tool argument lists, image data URLs for vision backends, the in-context
examples most similar to a question (never about the question's own image), and chat history."""

from __future__ import annotations

import base64
import functools
import io
import json
from typing import Any

from ..answers import expects_yes_no
from ..backends.base import ImagePart, LLMBackend
from ..images import content_hash, decode_image
from ..prompts.examples import Example, load_examples, select_examples
from .base import CANNOT_TELL, ImageInfo, PlanOutcome, PlanRequest
from .parsing import Decision, InvalidReply, parse_decision

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"thought": {"type": "string"}, "answer": {"type": "string"}, "rationale": {"type": "string"}},
    "required": ["thought", "answer", "rationale"],
    "additionalProperties": False,
}


YES_NO_ANSWERS = ("yes", "no", CANNOT_TELL)


def answer_schema(question: str) -> dict[str, Any]:
    """The final reply's schema for a question: a yes/no question can only be answered yes, no or cannot tell
    (a small model otherwise answers "Are there any people?" with the count it saw)."""
    if not expects_yes_no(question):
        return ANSWER_SCHEMA
    props = {**ANSWER_SCHEMA["properties"], "answer": {"enum": list(YES_NO_ANSWERS)}}
    return {**ANSWER_SCHEMA, "properties": props}


def describe_args(schema: dict[str, Any]) -> str:
    """Compact argument list for the prompt: ``image (string, default "img_0"): Image id...``."""
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [p.get("type", "any") for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        kind = "/".join(str(k) for k in kinds) or "any"
        if "enum" in prop:
            kind = "one of " + "|".join(prop["enum"])
        elif any("enum" in p for p in prop.get("anyOf", [])):
            kind = "one of " + "|".join(next(p["enum"] for p in prop["anyOf"] if "enum" in p))
        default = f", default {json.dumps(prop['default'])}" if "default" in prop else ""
        optional = "" if name in schema.get("required", []) or default else ", optional"
        desc = f": {prop['description']}" if prop.get("description") else ""
        parts.append(f"{name} ({kind}{default}{optional}){desc}")
    return "; ".join(parts) or "none"


def image_data_url(pil: Any, *, side: int = 768) -> str:
    img = pil.copy()
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


@functools.cache
def example_image(example_id: str) -> tuple[str, str] | None:
    """(content hash of the original, data URL) of an example's image, or None when its package is missing.

    The hash is of the image at its own size, as ``StoredImage.original_sha256``, so the "never an example
    about the asked image" rule does not depend on ``LAVR_WORK_IMAGE_SIDE``.
    """
    example = next(e for e in load_examples() if e.id == example_id)
    path = example.image.resolve()
    if path is None:
        return None
    pil, _ = decode_image(path)
    return content_hash(pil), image_data_url(pil, side=512)


def examples_for(request: PlanRequest, k: int) -> list[Example]:
    """The k examples most similar to the question, with available tools, never about the question's image."""
    if k == 0:
        return []
    shas = {e.id: info[0] for e in load_examples() if (info := example_image(e.id))}
    return select_examples(request.question, {t.name for t in request.tools}, k,
                           exclude_images={i.sha256 for i in request.images}, image_sha=shas)  # originals' hashes


def with_history(text: str, history: list[tuple[str, str]]) -> str:
    """Prefix a question with the earlier turns of a conversation, if any."""
    if not history:
        return text
    earlier = "\n".join(f"Q: {q}\nA: {a}" for q, a in history)
    return f"Earlier in this conversation:\n{earlier}\n\n{text}"


def attached_images(backend: LLMBackend, examples: list[Example], images: list[ImageInfo]) -> list[ImagePart]:
    """Image parts for vision backends: the examples' images, then the question's; none for text-only ones."""
    if not backend.profile.supports_images:
        return []
    parts = [ImagePart(image_id=f"example {e.id}", data_url=info[1]) for e in examples if (info := example_image(e.id))]
    return parts + [ImagePart(image_id=i.id, data_url=i.data_url) for i in images if i.data_url]


def read_answer(reply: Any, *, example_ids: list[str] | None = None) -> tuple[PlanOutcome, Decision | None]:
    """A reply that must be a final JSON answer: the outcome (its move left to the caller) and the answer's
    decision, or no decision and the outcome's error, which is fed back to the LLM as a retry."""
    outcome = PlanOutcome(move=None, raw_reply=reply.text, usage=reply.usage, example_ids=list(example_ids or []))
    try:
        decision = parse_decision(reply.text)
        if not decision.is_final:
            raise InvalidReply("tools cannot be called now; reply with the answer")
    except InvalidReply as exc:
        outcome.error = str(exc)
        return outcome, None
    return outcome, decision


