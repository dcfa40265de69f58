"""The two repairs lavr makes to a written program itself, each only where there is one place it can go; the
repaired program is checked against the question like any other:

- a set that names no kind of thing gets the one noun the question says and the program left out ("How many people
  have fallen?" written ``count(all(fallen))``);
- the one image a program names becomes every image where the question takes its images as one and that is all
  the program left out ("Is there a cylinder in either image?" written ``exists(all(cylinder, img_0))``, seen twice
  in a row after the feedback)."""

from __future__ import annotations

from ...lexicon import Reading
from ...tools.query import Scene
from ...tools.query.executor import ALL_IMAGES, Typed
from ...tools.query.program import Call, Node, Word, text
from .checks import Verdict, head_label


def with_missing_noun(typed: Typed, verdict: Verdict, phrases: dict[str, list[Reading]], scene: Scene) -> str | None:
    """The program with the one left-out noun put in its one set without a noun; None where that is not so.

    ``phrases``: the readings of the question's phrases, by their text (the verdict names phrases by text)."""
    if verdict.invented or verdict.misplaced or verdict.form or len(verdict.missing) != 1:
        return None
    labels = {r.value for r in phrases.get(verdict.missing[0], []) if r.kind == "label"}
    if len(labels) != 1 or any(r.kind not in ("label", "generic", "function")
                               for r in phrases.get(verdict.missing[0], [])):
        return None
    label = str(next(iter(labels)))
    if label not in scene.vocabulary.labels:
        return None
    headless = [t for t in typed.walk() if t.op is not None and t.op.family == "set" and head_label(t) is None]
    if len(headless) != 1:
        return None
    return text(_insert(typed.node, headless[0].node, Word(label)))


def _insert(node: Node, target: Node, word: Word) -> Node:
    if node is target and isinstance(node, Call):
        return Call(node.op, (word, *node.args))
    if isinstance(node, Call):
        return Call(node.op, tuple(_insert(a, target, word) for a in node.args))
    return node


def with_every_image(typed: Typed, verdict: Verdict, scene: Scene) -> str | None:
    """The program with its one image as every image (``all_images``), where every phrase it left out is one the
    check would have it write as all_images; None where that is not so."""
    if verdict.invented or verdict.misplaced or verdict.form or not verdict.missing or len(scene.images) < 2:
        return None
    if any(verdict.hints.get(m) != [ALL_IMAGES] for m in verdict.missing):
        return None
    named = {str(r.value) for t in typed.walk() if t.op is None for r in t.readings if r.kind == "image_id"}
    if len(named) != 1:
        return None
    return text(_replace(typed.node, next(iter(named)), Word(ALL_IMAGES)))


def _replace(node: Node, image: str, word: Word) -> Node:
    if isinstance(node, Word) and node.text == image:
        return word
    if isinstance(node, Call):
        return Call(node.op, tuple(_replace(a, image, word) for a in node.args))
    return node
