"""Prompt templates and in-context examples, kept as package data and loaded with importlib.resources."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2
import yaml

from .examples import Example, ExampleTurn, load_examples, select_examples

__all__ = ["Example", "ExampleTurn", "load_examples", "render", "render_program", "select_examples", "templates"]

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@functools.cache
def templates(file: str = "system.yaml") -> dict[str, str]:
    """The named templates of one YAML file of this package (``system.yaml``: the ReAct planner's)."""
    text = resources.files(__package__).joinpath(file).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):  # pragma: no cover - package data
        raise ValueError(f"prompts/{file} must be a mapping")
    return data


@functools.cache
def _compiled(name: str, file: str = "system.yaml") -> jinja2.Template:
    return _ENV.from_string(templates(file)[name])


def render(name: str, **values: Any) -> str:
    """Render one named template; a missing value is an error, not an empty string."""
    return _compiled(name).render(**values).strip()


def render_program(name: str, **values: Any) -> str:
    """Render one template of ``program.yaml`` (program mode and scripted pipelines), strictly like ``render``."""
    return _compiled(name, "program.yaml").render(**values).strip()
