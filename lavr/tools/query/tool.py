"""``query``: run a query-language program exactly over the scene graphs of one or more images."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...settings import Settings
from ..base import Availability, ImageArg, RunContext, Tool, ToolOutput
from ..scene_graph import SceneGraphTool
from .evaluation import Problem
from .executor import check_program, execute
from .ops import REGISTRY
from .scene import Scene

ImageId = Annotated[str, Field(pattern=r"^(img|crop)_\d+$")]


def language_summary() -> str:
    """One line per op of the registry (its own doc), for the tool's description."""
    seen, lines = set(), []
    for op in REGISTRY.all():
        if op.doc not in seen:
            seen.add(op.doc)
            lines.append(op.doc)
    return "; ".join(lines)


class QueryInput(ImageArg):
    program: str = Field(max_length=2000, description='A program, e.g. "count(all(red, cube))" or '
                         '"color(the(small, thing, left_of(the(big, sphere))))".')
    images: list[ImageId] = Field(default_factory=list, max_length=8,
                                  description="Every image the question is about, in order (first image first); "
                                  "default: only `image`, which is the one a set is taken from when it names none.")


class QueryOutput(ToolOutput):
    image: str
    images: list[str]
    program: str
    words: str
    answer: str
    answer_type: str
    rationale: str
    evidence: list[str]
    problem: Problem | None = None

    def to_text(self) -> str:
        return (f"query on {', '.join(self.images)}: answer: {self.answer}\nprogram: {self.program}\n"
                f"in words: {self.words}")


class QueryTool(Tool[QueryInput, QueryOutput]):
    """Answer exactly with a program over the images' scene graphs. Programs nest calls: sets all(c, ...) of
    conditions (a word such as cube, red, big, left; left_of(X) and other relations; same_color(X); not, or, and),
    one object the(c, ...) or leftmost(S) ..., answers count(S), exists(S), color(X) and other keys, is(X, c),
    equal(a, b), more(a, b), which(S) / which_more(S) across images. Empty or ambiguous selections are reported, not
    guessed.
    """

    name = "query"
    input_model = QueryInput
    output_model = QueryOutput

    def __init__(self, settings: Settings, *, scene_graph: SceneGraphTool | None = None):
        super().__init__(settings)
        self.scene_graph = scene_graph or SceneGraphTool(self.settings)

    def availability(self) -> Availability:
        return self.scene_graph.availability()

    def scene(self, images: list[str], focus: str, ctx: RunContext) -> Scene:
        """The scene of ``images`` (their scene graphs, built or taken from the cache)."""
        ordered = sorted(dict.fromkeys([*images, focus]), key=_image_order)
        return Scene.from_graphs({image: self.scene_graph.graph(image, ctx) for image in ordered}, focus=focus)

    def run(self, args: QueryInput, ctx: RunContext) -> QueryOutput:
        scene = self.scene(args.images or [args.image], args.image, ctx)
        typed = check_program(args.program, scene)  # QueryError is a ToolError: its message goes back to the LLM
        execution = execute(typed, scene)
        return QueryOutput(image=args.image, images=scene.images, program=execution.program, words=execution.words,
                           answer=execution.answer, answer_type=execution.answer_type, rationale=execution.rationale,
                           evidence=execution.evidence, problem=execution.problem)


def _image_order(image: str) -> tuple[str, int]:
    kind, _, number = image.partition("_")
    return kind, int(number) if number.isdigit() else 0
