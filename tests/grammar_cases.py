"""Prompts and schemas for comparing the embedded backend's two grammar-constrained decoding paths.

Shared by tests/backends/test_grammar_sampling_llm.py and bench/grammar_sampling.py. Query programs come first (they
share the query prompt's prefix, so only the question is read), then other shapes of output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from query_scenes import scene, shapes

from lavr.backends import ScriptedBackend
from lavr.backends.base import Message
from lavr.planners.base import ImageInfo, PlanRequest
from lavr.planners.query.grammar import build_grammar
from lavr.planners.query.prompt import PREFILL, QueryPrompt
from lavr.planners.react import ReactPlanner, decision_schema
from lavr.settings import Settings
from lavr.tools import default_tools


@dataclass
class Case:
    name: str
    messages: list[Message]
    schema: dict[str, Any] | None = None  # a JSON-schema grammar, or
    grammar: str | None = None  # a GBNF grammar with the reply prefilled (query programs)
    prefill: str | None = None
    max_tokens: int = 200
    repeat_penalty: float | None = None  # None: the backend's default (1.1)

    def kwargs(self) -> dict[str, Any]:
        return {"json_schema": self.schema, "grammar": self.grammar, "prefill": self.prefill,
                "max_tokens": self.max_tokens, "repeat_penalty": self.repeat_penalty}


QUERY_QUESTIONS = ["How many red objects are there?", "Is there a green triangle?",
                   "What color is the rightmost shape?", "Are there more squares than circles?",
                   "Is the red circle to the left of the green square?", "What shape is the smallest object?"]

COLOURS = {"type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"},
                                                        "minItems": 5, "maxItems": 8}},
           "required": ["colours"]}
WORDS = {"type": "object", "properties": {"japanese": {"type": "string"}, "greek": {"type": "string"},
                                          "russian": {"type": "string"}, "note": {"type": "string"}},
         "required": ["japanese", "greek", "russian", "note"]}


def _query_case(name: str, question: str, sc: Any, **kw: Any) -> Case:
    grammar = build_grammar(sc.vocabulary, sc.images).gbnf
    return Case(name, QueryPrompt().messages(question, sc), grammar=grammar, prefill=PREFILL, repeat_penalty=1.0,
                **kw)


def query_cases() -> list[Case]:
    cases = [_query_case(f"query: {q}", q, shapes()) for q in QUERY_QUESTIONS]
    people = scene(("person", [0.05, 0.6, 0.4, 0.9], {"posture": "fallen"}),
                   ("person", [0.6, 0.2, 0.7, 0.9], {"posture": "standing"}), known_labels=["person"])
    question = "How many people have fallen?"
    cases.append(_query_case(f"query: {question}", question, people))
    # cut short: the "length" finish (a program is 5-60 tokens)
    cases.append(_query_case(f"query (4 tokens): {QUERY_QUESTIONS[3]}", QUERY_QUESTIONS[3], shapes(), max_tokens=4))
    return cases


def other_cases() -> list[Case]:
    """Free text inside JSON under the default repeat penalty: a list, non-ASCII strings, a ReAct decision."""
    planner = ReactPlanner(num_examples=1)
    tools = default_tools(Settings())
    request = PlanRequest(question="How many people are in the picture?", images=[ImageInfo("img_0", 640, 480, "x")],
                          tools=tools, steps=[], steps_left=3, retries_left=2)
    react = planner.messages(request, planner.choose_examples(request), ScriptedBackend([]))  # a text-only profile
    return [
        Case("colours", [Message(role="user", content="Name seven colours of a rainbow, in JSON.")], COLOURS),
        Case("words", [Message(role="system", content="You are a careful translator."),
                       Message(role="user", content="Give the word 'tree' in Japanese, Greek and Russian, and a "
                                                    "short note on each, in JSON.")], WORDS),
        Case("react decision", react, decision_schema(tools)),
    ]


def all_cases() -> list[Case]:
    return [*query_cases(), *other_cases()]
