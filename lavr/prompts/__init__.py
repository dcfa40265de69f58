"""Prompt templates and in-context examples, kept as package data and loaded with importlib.resources."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2
import yaml

from .examples import Example, ExampleTurn, load_examples, select_examples

__all__ = ["REACT_TEMPLATES", "Example", "ExampleTurn", "TemplateFile", "load_examples", "render", "select_examples",
           "templates"]

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@functools.cache
def templates(package: str = __package__, file: str = "system.yaml") -> dict[str, Any]:
    """The named templates of one YAML file kept as package data (default: the ReAct planner's); a file may
    hold data beside its templates (the query prompt's worked examples and scenes)."""
    text = resources.files(package).joinpath(file).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):  # pragma: no cover - package data
        raise ValueError(f"{package}/{file} must be a mapping")
    return data


@functools.cache
def _compiled(package: str, file: str, name: str) -> jinja2.Template:
    return _ENV.from_string(templates(package, file)[name])


class TemplateFile:
    """The templates of one YAML file: ``TemplateFile("lavr.planners.pipeline", "prompts.yaml").render("system", ...)``.

    A missing value is an error, not an empty string (``StrictUndefined``).
    """

    def __init__(self, package: str, file: str = "prompts.yaml"):
        self.package, self.file = package, file

    def names(self) -> list[str]:
        return list(templates(self.package, self.file))

    def render(self, name: str, **values: Any) -> str:
        return _compiled(self.package, self.file, name).render(**values).strip()


REACT_TEMPLATES = TemplateFile(__package__, "system.yaml")


def render(name: str, **values: Any) -> str:
    """Render one template of the ReAct planner's ``system.yaml``."""
    return REACT_TEMPLATES.render(name, **values)
