"""The query language over scene graphs, executed exactly (GQA-style functional programs, NS-VQA-style
execution): the LLM translates a question into one short program; this package types it, runs it on the scene
graphs of one or more images and renders the answer and the program in words.

- ``parse(text) -> Node``: a program's written form, ``count(all(tiny, matte, thing))`` (``program.py``)
- ``ops.REGISTRY``: every op, defined once (types, execution, words, description) (``ops.py``)
- ``Scene``: the objects of one or more images and what their experts can name (``scene.py``)
- ``check_program(text, scene) -> Typed`` and ``execute(program, scene) -> Execution`` (``executor.py``)
- ``QueryTool``: the language as a tool
"""

from __future__ import annotations

from .errors import (
                     ProgramSyntaxError,
                     QueryError,
                     TypeMismatch,
                     UnknownAttribute,
                     UnknownLabel,
                     UnknownOperation,
                     UnknownValue,
)
from .evaluation import Problem
from .executor import Execution, Typed, check_program, execute, typecheck
from .ops import REGISTRY, Op
from .program import Call, Node, Number, Word, parse, text
from .scene import Scene, SceneObject, SceneVocabulary
from .tool import QueryInput, QueryOutput, QueryTool

__all__ = ["REGISTRY", "Call", "Execution", "Node", "Number", "Op", "Problem", "ProgramSyntaxError", "QueryError",
           "QueryInput", "QueryOutput", "QueryTool", "Scene", "SceneObject", "SceneVocabulary", "TypeMismatch",
           "Typed", "UnknownAttribute", "UnknownLabel", "UnknownOperation", "UnknownValue", "Word",
           "check_program", "execute", "parse", "text", "typecheck"]
