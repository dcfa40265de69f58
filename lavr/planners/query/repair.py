"""The repairs lavr makes to a written program itself, each only where there is one place it can go; the
repaired program is checked against the question like any other:

- a set that names no kind of thing gets the one noun the question says and the program left out ("How many people
  have fallen?" written ``count(all(fallen))``);
- the one image a program names becomes every image where the question takes its images as one and that is all
  the program left out ("Is there a cylinder in either image?" written ``exists(all(cylinder, img_0))``, seen twice
  in a row after the feedback);
- a yes/no program about one image is asked of each image, joined by and, where the question asks it of each
  ("Is there a sphere in each of the three images?" written ``exists(all(sphere, img_0))``)."""

from __future__ import annotations

from ...lexicon import Reading
from ...tools.query import Scene
from ...tools.query.executor import ALL_IMAGES, Typed
from ...tools.query.program import Call, Node, Word, text
from .checks import EACH_HINT, Verdict, head_label


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
    named = _images(typed)
    if len(named) == 1:
        return text(_replace(typed.node, next(iter(named)), Word(ALL_IMAGES)))
    sets = [t for t in typed.walk() if t.op is not None and t.op.family == "set"]
    if not named and len(sets) == 1:  # "Does either image contain a blue object?" as exists(all(blue, anything))
        return text(_insert(typed.node, sets[0].node, Word(ALL_IMAGES)))
    return None


def with_each_image(typed: Typed, verdict: Verdict, scene: Scene) -> str | None:
    """A yes/no program about one image asked of each image and joined by and, where the question asks it of each
    image ("Is there a sphere in each of the three images?" written ``exists(all(sphere, img_0))``, seen twice)
    and that is all it left out; None where that is not so."""
    if verdict.invented or verdict.misplaced or verdict.form or not verdict.missing or len(scene.images) < 2:
        return None
    if typed.type != "bool" or any(not verdict.hints.get(m, [""])[0].endswith(EACH_HINT) for m in verdict.missing):
        return None
    named = _images(typed)
    if len(named) != 1:
        return None
    one = next(iter(named))
    parts = [_replace(typed.node, one, Word(image)) for image in scene.images]
    joined = parts[-1]
    for part in reversed(parts[:-1]):
        joined = Call("and", (part, joined))
    return text(joined)


def _images(typed: Typed) -> set[str]:
    return {str(r.value) for t in typed.walk() if t.op is None for r in t.readings if r.kind == "image_id"}


def _replace(node: Node, image: str, word: Word) -> Node:
    if isinstance(node, Word) and node.text == image:
        return word
    if isinstance(node, Call):
        return Call(node.op, tuple(_replace(a, image, word) for a in node.args))
    return node
