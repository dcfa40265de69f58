"""The query planner's prompt: a static prefix (system text, the language, fixed worked examples) that is
byte-identical for every question, and a short per-question message (what the experts found, the question).

Keeping the prefix identical lets llama.cpp evaluate it once and reuse (or load) its KV state; per question the
model newly reads only ``question_message``. The worked examples live in ``lavr/planners/query/prompts.yaml``; each holds
its scene (the experts' translation of an image), so a test can execute its program to its stated answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

import networkx as nx
from pydantic import BaseModel, Field

from ...backends.base import Message
from ...prompts import TemplateFile, templates
from ...schema import Box, Detection
from ...tools.scene_graph import build_graph
from ...tools.query.language import QueryProgram
from ...tools.query.compact import parse_compact, to_text
from ...tools.query.grammar import allowed_names
from ...tools.query.vocabulary import GENERIC, SceneVocabulary

TEMPLATES = TemplateFile(__package__, "prompts.yaml")


class SceneObject(BaseModel):
    label: str
    box: list[float] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in 0..1")
    attributes: dict[str, str] = Field(default_factory=dict)


class ExampleScene(BaseModel):
    """An image as the experts translate it: objects with labels, boxes and attributes."""

    objects: list[SceneObject]
    known_labels: list[str] = Field(default_factory=list, description="Labels the detector knows besides these.")

    def detections(self) -> list[Detection]:
        return [Detection(id=f"obj_{i}", image="img_0", label=o.label, confidence=1.0, box=Box.from_list(o.box),
                          attributes=o.attributes) for i, o in enumerate(self.objects)]

    def graph(self) -> nx.MultiDiGraph:
        graph = build_graph(self.detections())
        graph.graph["known_labels"] = list(self.known_labels)
        return graph


class WorkedExample(BaseModel):
    id: str
    scene: ExampleScene
    question: str
    thought: str
    program: Any = Field(description="The compact expression (``lavr.tools.query.compact``), as the model writes it.")
    answer: str

    def parsed(self) -> QueryProgram:
        return parse_compact(self.program)


@functools.cache
def load_worked_examples() -> tuple[WorkedExample, ...]:
    return tuple(WorkedExample.model_validate(e) for e in templates(TEMPLATES.package, TEMPLATES.file)["examples"])


def summary(vocabulary: SceneVocabulary, question: str) -> str:
    """What the experts found, plus the labels the question names that they know but did not find."""
    named = allowed_names(vocabulary, question).labels or []
    return vocabulary.summary(not_found=[lbl for lbl in named if lbl != GENERIC and lbl not in vocabulary.scene_labels])


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
        for ex in self.examples:
            vocabulary = SceneVocabulary.from_graph(ex.scene.graph())
            parts.append(TEMPLATES.render("example", summary=summary(vocabulary, ex.question), question=ex.question,
                                          thought=ex.thought, program=to_text(ex.program)))
        return "\n\n".join(parts)

    def prefix_messages(self) -> list[Message]:
        return [Message(role="system", content=self.prefix_text)]

    def question_message(self, question: str, vocabulary: SceneVocabulary) -> Message:
        """The only part that changes per question: what the experts found here, and the question."""
        text = TEMPLATES.render("question", summary=summary(vocabulary, question), question=" ".join(question.split()))
        return Message(role="user", content=text)

    def messages(self, question: str, vocabulary: SceneVocabulary) -> list[Message]:
        return [*self.prefix_messages(), self.question_message(question, vocabulary)]

    def prefix_hash(self) -> str:
        """sha256 of the prefix messages: part of the key of a saved prefix KV state."""
        data = json.dumps([m.model_dump(mode="json") for m in self.prefix_messages()], sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()
