"""Typed results of an execution: every step's result, problems (empty, ambiguous) and the whole ``Execution``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .language import QueryProgram

Value = int | str | bool


class Problem(BaseModel):
    """Why a step has no value: nothing matched, or several objects where the question means one."""

    kind: Literal["not_found", "ambiguous", "no_attribute", "unsupported"]
    step: int = Field(description="The step whose selection is empty or ambiguous.")
    objects: list[str] = Field(default_factory=list)
    message: str = ""


class StepResult(BaseModel):
    """One executed step: its typed result and the objects it rests on."""

    index: int
    op: str
    type: str
    objects: list[str] | None = Field(None, description="The selected object ids, for an objects result.")
    value: Value | None = None
    evidence: list[str] = Field(default_factory=list, description="Object ids the result rests on.")
    problem: Problem | None = None
    detail: str = Field("", description="What the step looked at, e.g. each object's attribute value.")


class Execution(BaseModel):
    """The executed program: every step's result, the short answer, its type and a rationale naming objects."""

    program: QueryProgram
    steps: list[StepResult]
    answer: str
    answer_type: Literal["number", "yes_no", "value", "objects", "not_found", "ambiguous", "unknown", "unsupported"]
    rationale: str
    evidence: list[str] = Field(default_factory=list, description="Object ids the answer rests on.")
    problem: Problem | None = None

    @property
    def result(self) -> StepResult:
        return self.steps[-1]

    def to_text(self) -> str:
        """The text an LLM reads after calling the query tool."""
        return f"answer: {self.answer}\nsteps: {self.rationale}"
