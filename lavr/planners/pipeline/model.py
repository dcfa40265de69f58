"""Scripted pipelines: a fixed sequence of expert steps and LLM steps, written by a person, run without a planner.

A pipeline is a small YAML (or JSON) file, a dict, or Python objects::

    name: count_people
    steps:
      - {id: dets, tool: detect, args: {image: img_0, classes: [person]}}
      - {id: graph, tool: scene_graph, args: {image: img_0, label: person}}
      - {id: answer, llm: "Observations:\\n{{ dets.text }}\\n{{ graph.text }}\\nQuestion: {{ question }}"}

- A **tool step** calls an expert. Its ``args`` are validated against the tool's input model before anything
  runs, and may reference earlier steps' structured outputs with ``"$<step id>.<path>"`` (the syntax of program
  mode, see ``lavr.refs``), e.g. ``target: $dets.detections[-1].id``. An LLM step's output is
  ``{"answer", "rationale"}``.
- An **LLM step** renders a Jinja template (undefined variables are errors) and asks the LLM for JSON
  ``{"answer", "rationale"}``. Variables: ``question``, ``image`` (the first image id), ``images`` (all ids), and
  each earlier step by its id, with ``.text`` (a tool's text output, ``"error: ..."`` if it failed, or an LLM
  step's answer), ``.data`` (the tool's output as a dict, or ``{"answer", "rationale"}``) and ``.error``.
- The **answer** is the last LLM step's answer. A pipeline with no LLM step answers with the text of its last
  tool step (``"cannot tell"`` when that step failed).

Problems are ``PipelineError`` with every problem listed: the shape, ids (unique identifiers, not ``question``,
``image`` or ``images``), template syntax and variables, references to unknown or later steps are checked when
the pipeline is built (``Pipeline(...)``, ``model_validate``, ``from_file``); tool names, argument names and
values and reference paths are checked against the tools by ``check(tools)``, by ``from_file(..., tools=...)``
and always by the runner before any step runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import jinja2
import yaml
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from ...errors import PipelineError
from ...refs import STEP_ID, RefError, find_refs, parse_ref
from ...tools.base import Tool
from ...tools.registry import ToolRegistry
from ..calls import check_call, output_schema

__all__ = ["LlmStepSpec", "Pipeline", "PipelineError", "ToolStepSpec"]

CONTEXT_VARS = ("question", "image", "images")
STEP_FIELDS = ("text", "data", "error")
LLM_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "rationale": {"type": "string"}},
    "required": ["answer", "rationale"],
    "additionalProperties": False,
}
TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class ToolStepSpec(BaseModel):
    """Call an expert tool."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class LlmStepSpec(BaseModel):
    """Ask the LLM: ``llm`` is a Jinja template of the prompt."""

    model_config = ConfigDict(extra="forbid")

    id: str
    llm: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)


def _step_kind(value: Any) -> str | None:
    if isinstance(value, (ToolStepSpec, LlmStepSpec)):
        return "tool" if isinstance(value, ToolStepSpec) else "llm"
    if isinstance(value, dict) and ("tool" in value) != ("llm" in value):
        return "tool" if "tool" in value else "llm"
    return None


PipelineStep = Annotated[
    Annotated[ToolStepSpec, Tag("tool")] | Annotated[LlmStepSpec, Tag("llm")],
    Discriminator(_step_kind, custom_error_type="invalid_step",
                  custom_error_message="a step needs exactly one of 'tool' (an expert call) or 'llm' (a prompt)"),
]


def _format_validation(err: ValidationError) -> list[str]:
    out = []
    for item in err.errors():
        loc = list(item["loc"])
        if len(loc) > 2 and loc[0] == "steps" and loc[2] in ("tool", "llm"):
            del loc[2]  # the union tag, not a field
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "pipeline"
        out.append(f"{where}: {item['msg']}")
    return out


def _raise(problems: list[str], name: str, source: str | None = None) -> None:
    if problems:
        head = f"{source}: " if source else ""
        raise PipelineError(f"{head}pipeline {name!r} is invalid:\n  - " + "\n  - ".join(problems))


def _template_problems(step: LlmStepSpec, earlier: list[str], later: list[str]) -> list[str]:
    try:
        tree = TEMPLATES.parse(step.llm)
    except jinja2.TemplateSyntaxError as exc:
        return [f"step {step.id}: template syntax error on line {exc.lineno}: {exc.message}"]
    problems = []
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name in CONTEXT_VARS or name in earlier:
            continue
        if name == step.id:
            problems.append(f"step {step.id}: the template uses {{{{ {name} }}}}, which is this step itself")
        elif name in later:
            problems.append(f"step {step.id}: {{{{ {name} }}}} refers to step {name}, which runs later; a template "
                            "can only use earlier steps")
        else:
            known = ", ".join([*CONTEXT_VARS, *earlier])
            problems.append(f"step {step.id}: unknown template variable {{{{ {name} }}}}; available: {known}")
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in earlier and node.attr not in STEP_FIELDS:
            problems.append(f"step {step.id}: {{{{ {node.node.name}.{node.attr} }}}}: a step has only "
                            ".text, .data and .error")
    return problems


def _ref_order_problems(step: ToolStepSpec, earlier: list[str], later: list[str]) -> list[str]:
    problems = []
    for _, text in find_refs(step.args):
        try:
            ref = parse_ref(text)
        except RefError as exc:
            problems.append(f"step {step.id}: {exc}")
            continue
        if ref.step in later or ref.step == step.id:
            problems.append(f'step {step.id}: reference "{text}" names step {ref.step}, which has not run yet; '
                            "a step can only use earlier steps")
        elif ref.step not in earlier:
            problems.append(f'step {step.id}: reference "{text}" names no earlier step; earlier steps: '
                            f"{', '.join(earlier) or 'none'}")
    return problems


def _tool_map(tools: ToolRegistry | Mapping[str, Tool] | Iterable[Tool]) -> tuple[dict[str, Tool], dict[str, str]]:
    """Usable tools by name, and the reasons registered tools are unavailable."""
    if isinstance(tools, ToolRegistry):
        available = {t.name: t for t in tools.available()}
        missing = {n: tools.availability(n).reason or "unavailable" for n in tools.names() if n not in available}
        return available, missing
    if isinstance(tools, Mapping):
        return dict(tools), {}
    return {t.name: t for t in tools}, {}


class Pipeline(BaseModel):
    """A scripted pipeline: expert steps and LLM steps run in order (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "pipeline"
    description: str = ""
    steps: list[PipelineStep] = Field(min_length=1)

    @model_validator(mode="wrap")
    @classmethod
    def _as_pipeline_error(cls, data: Any, handler: Any) -> Pipeline:
        try:
            return handler(data)
        except ValidationError as err:
            name = data.get("name", "pipeline") if isinstance(data, dict) else "pipeline"
            _raise(_format_validation(err), str(name))
            raise  # pragma: no cover - _raise always raises here

    @model_validator(mode="after")
    def _check_structure(self) -> Pipeline:
        _raise(self.problems(), self.name)
        return self

    # Loading ---------------------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, *, tools: ToolRegistry | Mapping[str, Tool] | Iterable[Tool] | None = None
                  ) -> Pipeline:
        """Load a YAML or JSON file; with ``tools``, also check tool names, arguments and references."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PipelineError(f"{path}: no such pipeline file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{path}: cannot read it ({exc})") from None
        except yaml.YAMLError as exc:
            raise PipelineError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise PipelineError(f"{path}: a pipeline file is a mapping with 'steps' (and optionally 'name')")
        data.setdefault("name", path.stem)
        try:
            pipeline = cls.model_validate(data)
            if tools is not None:
                pipeline.check(tools)
        except PipelineError as exc:
            raise PipelineError(f"{path}: {exc}") from None
        return pipeline

    @classmethod
    def load(cls, source: Pipeline | str | Path | Mapping[str, Any]) -> Pipeline:
        """A pipeline from an instance, a dict, or a file path."""
        if isinstance(source, Pipeline):
            return source
        if isinstance(source, Mapping):
            return cls.model_validate(dict(source))
        return cls.from_file(source)

    # Validation ------------------------------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def problems(self, tools: ToolRegistry | Mapping[str, Tool] | Iterable[Tool] | None = None) -> list[str]:
        """Every problem found; without ``tools`` only what needs no tools (ids, templates, reference order)."""
        problems: list[str] = []
        ids = self.ids
        for n, step_id in enumerate(ids):
            if not STEP_ID.match(step_id):
                problems.append(f"steps[{n}]: id {step_id!r} is not valid; use letters, digits and _")
            elif step_id in CONTEXT_VARS:
                problems.append(f"steps[{n}]: id {step_id!r} is reserved for a template variable")
            elif step_id in ids[:n]:
                problems.append(f"steps[{n}]: id {step_id!r} is used twice; step ids must be unique")
        usable, missing = _tool_map(tools) if tools is not None else ({}, {})
        earlier: dict[str, dict[str, Any] | None] = {}
        for n, step in enumerate(self.steps):
            later = [i for i in ids[n + 1:] if i not in earlier]
            if isinstance(step, LlmStepSpec):
                problems += _template_problems(step, list(earlier), later)
                schema: dict[str, Any] | None = LLM_OUTPUT_SCHEMA
            elif tools is None:
                problems += _ref_order_problems(step, list(earlier), later)
                schema = None
            elif step.tool in missing:
                problems.append(f"step {step.id}: tool {step.tool!r} is not available here: {missing[step.tool]}")
                schema = None
            else:
                problems += [f"step {step.id} ({step.tool}): {p}" for p in
                             check_call(step.tool, step.args, tools=usable, earlier=earlier, later=later,
                                        this=step.id)]
                schema = output_schema(type(usable[step.tool])) if step.tool in usable else None
            earlier.setdefault(step.id, schema)
        return problems

    def check(self, tools: ToolRegistry | Mapping[str, Tool] | Iterable[Tool]) -> None:
        """Raise ``PipelineError`` listing every problem against ``tools`` (a registry: only available ones)."""
        _raise(self.problems(tools), self.name)
