"""``query``: run a query-language program exactly over an image's scene graph (for ReAct and program mode)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from ...settings import Settings
from ..base import Availability, ImageArg, RunContext, Tool, ToolOutput, inline_schema
from ..scene_graph import SceneGraphTool
from .executor import execute
from .results import StepResult
from .language import STEP_LIST_ADAPTER


def _steps_schema() -> dict[str, Any]:
    """The step list's JSON schema from the step models, without pydantic's discriminator bookkeeping."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("discriminator", "title")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(inline_schema(STEP_LIST_ADAPTER.json_schema()))


class QueryInput(ImageArg):
    # Raw dicts, read by the tolerant ``parse_program`` in ``run`` so that errors are typed and fed back; the
    # schema the LLM sees is still the language's.
    steps: Annotated[list[dict[str, Any]], WithJsonSchema(_steps_schema())] = Field(
        description='Program steps, e.g. [{"op": "select", "label": "circle"}, {"op": "filter", "input": 0, '
        '"attribute": "color", "value": "red"}, {"op": "count", "input": 1}].'
    )


class QueryOutput(ToolOutput):
    image: str
    answer: str
    answer_type: str
    rationale: str
    evidence: list[str]
    steps: list[StepResult]

    def to_text(self) -> str:
        return f"query on {self.image}: answer: {self.answer}\nsteps: {self.rationale}"


class QueryTool(Tool[QueryInput, QueryOutput]):
    """Answer exactly with a program over the image's scene graph. Steps are numbered from 0; a step uses earlier
    results by number ("input", "other"). Ops: select label ("object" = all); filter input attribute value;
    relate input relation label (objects with label, "object" = any, in that relation to an object of input);
    leftmost, rightmost,
    topmost, bottommost, largest, smallest input; and/or/except input other; count input; exist input; not
    input; query input attribute ("label" = its name); verify input relation other; more/fewer/equal input
    other; more_than/fewer_than/exactly input number; same/different input attribute [other]; unsupported (the
    question needs what no expert gives). The last step is the answer; empty or ambiguous selections are
    reported, not guessed.
    """

    name = "query"
    input_model = QueryInput
    output_model = QueryOutput

    def __init__(self, settings: Settings | None = None, *, scene_graph: SceneGraphTool | None = None):
        super().__init__(settings)
        self.scene_graph = scene_graph or SceneGraphTool(self.settings)

    def availability(self) -> Availability:
        return self.scene_graph.availability()

    def run(self, args: QueryInput, ctx: RunContext) -> QueryOutput:
        graph = self.scene_graph.graph(args.image, ctx)
        execution = execute(args.steps, graph)  # QueryError is a ToolError: its message goes back to the LLM
        return QueryOutput(image=args.image, answer=execution.answer, answer_type=execution.answer_type,
                           rationale=execution.rationale, evidence=execution.evidence, steps=execution.steps)
