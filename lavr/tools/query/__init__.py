"""A typed query language over the scene graph, executed exactly (GQA-style functional programs, NS-VQA-style
execution): the LLM translates a question into a short program; this package checks it, runs it on the graph
and renders the answer and a rationale naming the evidence objects.

- ``parse_program(json_text_or_data) -> QueryProgram`` (typed ``QueryError``s for the LLM)
- ``SceneVocabulary.from_graph(graph)``: what the experts can name in a scene
- ``execute(program, graph) -> Execution`` with ``.answer``, ``.answer_type``, ``.rationale``, ``.evidence``
- ``parse_compact(expression, vocabulary)``: the compact form the LLM writes (one nested JSON expression)
- ``compact_schema(vocabulary, question)``: its JSON-schema grammar, narrowed to the question's words
- ``QueryTool``: the same language as a tool for ReAct and program mode
"""

from __future__ import annotations

from .errors import (ProgramSyntaxError, QueryError, ReferenceProblem, TypeMismatch, UnknownAttribute,
                     UnknownLabel, UnknownOperation, UnknownRelation, UnknownValue)
from .compact import compact_schema, flatten, nest, parse_compact
from .executor import execute
from .grammar import allowed_names
from .language import QueryProgram, check_references, check_vocabulary
from .parsing import parse_program
from .results import Execution, Problem, StepResult
from .tool import QueryInput, QueryOutput, QueryTool
from .vocabulary import SceneVocabulary

__all__ = ["Execution", "Problem", "ProgramSyntaxError", "QueryError", "QueryInput", "QueryOutput", "QueryProgram",
           "QueryTool", "ReferenceProblem", "SceneVocabulary", "StepResult", "TypeMismatch",
           "UnknownAttribute", "UnknownLabel", "UnknownOperation", "UnknownRelation", "UnknownValue",
           "allowed_names", "check_references", "check_vocabulary", "compact_schema", "execute", "flatten",
           "nest", "parse_compact", "parse_program"]
