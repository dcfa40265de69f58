"""The embedded LLM writes query programs under the narrowed grammar; the executor answers exactly (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lavr.planners.query.prompt import QueryPrompt
from lavr.tools.query import QueryError, SceneVocabulary, compact_schema, execute, parse_compact
from query_scenes import scene, shapes

pytestmark = pytest.mark.llm
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

CASES = [  # question, expected answer; on the shapes() scene unless a person scene is named
    ("How many red objects are there?", "2"),
    ("Count the squares.", "3"),
    ("Is there a green triangle?", "no"),
    ("What color is the rightmost shape?", "yellow"),
    ("Are there more squares than circles?", "yes"),
    ("Is the red circle to the left of the green square?", "yes"),
    ("What is inside the frame?", "circle"),
    ("How many yellow things are there?", "2"),
    ("What shape is the smallest object?", "triangle"),
    ("How many circles are left of the triangle?", "2"),
    ("Is there a square below the red circle?", "yes"),
    ("Is there a star?", "no"),
    ("people: How many people have fallen?", "1"),
]


def _backend(settings):
    from lavr.backends.llama_cpp import LlamaCppBackend

    for folder in (Path(os.environ.get("LAVR_DATA_DIR", "")) / "models", Path.home() / ".local/share/lavr/models"):
        if (folder / GGUF_NAME).is_file():
            return LlamaCppBackend(settings, model_path=folder / GGUF_NAME)
    return LlamaCppBackend(settings)


def test_the_embedded_llm_writes_programs_that_answer_right(settings):
    backend = _backend(settings)
    prompt = QueryPrompt()
    people = scene(("person", [0.05, 0.6, 0.4, 0.9], {"posture": "fallen"}),
                   ("person", [0.6, 0.2, 0.7, 0.9], {"posture": "upright"}), known_labels=["person"])
    right, report = 0, []
    for question, expected in CASES:
        graph = shapes()
        if question.startswith("people: "):
            question, graph = question.removeprefix("people: "), people
        vocab = SceneVocabulary.from_graph(graph)
        reply = backend.generate(prompt.messages(question, vocab), json_schema=compact_schema(vocab, question),
                                 max_tokens=80, repeat_penalty=1.0)
        try:
            answer = execute(parse_compact(reply.text, vocab), graph).answer
        except QueryError as exc:
            answer = f"error: {exc}"
        right += answer == expected
        report.append(f"{question} -> {answer} (want {expected}) {reply.text}")
    assert right >= len(CASES) - 1, "\n".join(report)
