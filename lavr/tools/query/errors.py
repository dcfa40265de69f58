"""Typed errors of the query language. Each message is written for the LLM: it says what is wrong and what is
allowed, so a runner can feed it back once and let the model correct its program."""

from __future__ import annotations

from ...errors import ToolError


class QueryError(ToolError):
    """A program cannot be run as written. ``step`` is the 0-based step it concerns (None: the whole program)."""

    def __init__(self, message: str, *, step: int | None = None):
        self.step = step
        super().__init__(f"step {step}: {message}" if step is not None else message)


class ProgramSyntaxError(QueryError):
    """Not a program: not JSON, no steps, a step that is not an object, or fields of the wrong kind."""


class UnknownOperation(QueryError):
    """A step's ``op`` is not an operation of the language."""


class ReferenceProblem(QueryError):
    """A step uses a result that does not exist yet (itself, a later step, or a number past the end)."""


class TypeMismatch(QueryError):
    """A step uses a result of the wrong type, e.g. ``count`` of a number."""


class UnknownLabel(QueryError):
    """``select`` names a label that no expert can find."""


class UnknownAttribute(QueryError):
    """An attribute key that no expert gives, e.g. ``material`` when only color and size are known."""


class UnknownValue(QueryError):
    """A filter value that the experts never give for that attribute."""


class UnknownRelation(QueryError):
    """A relation that the scene graph does not have."""
