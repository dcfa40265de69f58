"""The query planner's prompt: a static prefix (the language and fixed worked examples) that is byte-identical for
every question, and a short per-question message (the question; which images there are when there are several).
A chat's follow-up comes after its earlier exchanges, rendered as they were. The reply is prefilled with ``P:``
and the grammar writes the program.

Keeping the prefix identical lets llama.cpp evaluate it once and reuse (or load) its KV state; per question the
model newly reads only the question's message. The worked examples live in ``prompts.yaml`` with their scenes,
so a test can type, check and execute every one of them to its stated answer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ...backends.base import Message
from ...lexicon import lexicon
from ...prompts import TemplateFile, templates
from ...schema import Box
from ...tools.query.executor import image_name
from ...tools.query.scene import Scene, SceneObject

TEMPLATES = TemplateFile(__package__, "prompts.yaml")
PREFILL = "P:"


def parse_object(spec: str, image: str, index: int) -> SceneObject:
    """``"cube red large metal 0.1 0.4 0.3 0.7"``: a label, values (bare words the lexicon knows, or
    ``key=value``) and a box."""
    words = spec.split()
    if len(words) < 5:
        raise ValueError(f"an object needs a label and a box: {spec!r}")
    *names, x1, y1, x2, y2 = words
    label, values = names[0].replace("_", " "), names[1:]
    attributes: dict[str, str] = {}
    for value in values:
        if "=" in value:
            key, _, val = value.partition("=")
            attributes[key] = val
            continue
        meanings = lexicon().values_of(value)
        if len(meanings) != 1:
            raise ValueError(f"{value!r} in {spec!r} is not one value the lexicon knows")
        attributes[meanings[0][0]] = meanings[0][1]
    return SceneObject(id=f"obj_{index}", image=image, label=label,
                       box=Box.from_list([float(v) for v in (x1, y1, x2, y2)]), attributes=attributes)


def example_scene(images: dict[str, list[str]]) -> Scene:
    """A worked example's scene: its images' objects (object ids numbered across images, as in a chat)."""
    objects, index = [], 0
    for image, specs in images.items():
        for spec in specs:
            objects.append(parse_object(spec, image, index))
            index += 1
    labels = {o.label for o in objects}
    return Scene(objects, list(images), known_labels=labels)


class EarlierTurn(BaseModel):
    """A chat's earlier question, the program that answered it (None: no program ran) and its short answer."""

    question: str
    program: str | None = None
    answer: str = ""


class WorkedExample(BaseModel):
    scene: str
    question: str
    program: str
    answer: str


@functools.cache
def load_worked_examples() -> tuple[WorkedExample, ...]:
    return tuple(WorkedExample.model_validate(e) for e in templates(TEMPLATES.package, TEMPLATES.file)["examples"])


@functools.cache
def example_scenes() -> dict[str, Scene]:
    scenes: dict[str, Any] = templates(TEMPLATES.package, TEMPLATES.file)["scenes"]
    return {name: example_scene(images) for name, images in scenes.items()}


def images_line(scene: Scene) -> str:
    """"img_0 (first), img_1 (second, this one)": which image is which, when there are several."""
    if len(scene.images) < 2:
        return ""
    parts = []
    for image in scene.images:
        extra = ", this one" if image == scene.focus else ", the other one" if len(scene.images) == 2 else ""
        parts.append(f"{image} ({image_name(scene, image)}{extra})")
    return ", ".join(parts)


# Readings whose word in the language the prompt gives next to the question ("tiniest = smallest").
GLOSSED = ("relation", "region", "extreme", "compare")
CONTENT_KINDS = ("relation", "region", "extreme", "compare", "value", "label", "same", "logic", "number")


def terms(question: str) -> str:
    """The language's word for each phrase of the question that says a relation, a part of the picture, an extreme
    or a comparison in other words: "tiniest = smallest; closest to the bottom = bottommost". Only phrases with that
    one meaning ("over" is also "more than": none). Read from the question alone (no scene), so a chat's earlier
    question renders the same bytes again."""
    out: list[str] = []
    for p in lexicon().read(question):
        content = {(r.kind, str(r.value)) for r in p.readings if r.kind in CONTENT_KINDS}
        if len(content) != 1:
            continue
        kind, name = content.pop()
        line = f"{p.text} = {name}"
        if kind in GLOSSED and name != "_".join(p.text.split()) and name not in p.text.split() and line not in out:
            out.append(line)
    return "; ".join(out)


class QueryPrompt:
    """Builds the query planner's messages.

    Args:
        examples: The worked examples (default: the package's); their order is part of the prefix.
    """

    def __init__(self, examples: tuple[WorkedExample, ...] | None = None):
        self.examples = load_worked_examples() if examples is None else examples

    @functools.cached_property
    def prefix_text(self) -> str:
        """The system text and the worked examples: the same bytes for every question."""
        parts = [TEMPLATES.render("system")]
        parts += [TEMPLATES.render("example", question=ex.question, program=ex.program, terms=terms(ex.question))
                  for ex in self.examples]
        return "\n\n".join(parts)

    def prefix_messages(self) -> list[Message]:
        return [Message(role="system", content=self.prefix_text)]

    def question_message(self, question: str, scene: Scene | None = None) -> Message:
        """The only part that changes per question: which images there are (when several), the question, and the
        language's words for its phrases that say a relation, a part of the picture or an extreme otherwise."""
        text = TEMPLATES.render("question", question=" ".join(question.split()), terms=terms(question),
                                images=images_line(scene) if scene is not None else "")
        return Message(role="user", content=text)

    def earlier_messages(self, earlier: Sequence[EarlierTurn]) -> list[Message]:
        """A chat's earlier questions as the exchanges they were: the question's message and the program the model
        wrote (or, where none ran, the answer). The same bytes as that turn's own prompt and reply, so llama.cpp
        finds the conversation so far in its KV state and reads only the new question."""
        messages: list[Message] = []
        for turn in earlier:
            reply = f"{PREFILL} {turn.program}" if turn.program else f"A: {turn.answer}"
            messages += [self.question_message(turn.question), Message(role="assistant", content=reply)]
        return messages

    def messages(self, question: str, scene: Scene, earlier: Sequence[EarlierTurn] = ()) -> list[Message]:
        return [*self.prefix_messages(), *self.earlier_messages(earlier), self.question_message(question, scene)]

    def feedback_messages(self, question: str, scene: Scene, earlier: Sequence[EarlierTurn], program: str,
                          problems: str) -> list[Message]:
        """The first attempt, what was wrong with it, and the question again."""
        return [*self.messages(question, scene, earlier), Message(role="assistant", content=f"{PREFILL} {program}"),
                Message(role="user", content=TEMPLATES.render("feedback", problems=problems,
                                                              question=" ".join(question.split())))]
