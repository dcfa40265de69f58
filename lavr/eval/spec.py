"""``AgentSpec``: a small, picklable recipe for building an agent, so evaluation workers (threads or Ray actors)
can each build their own.

LLM specs are those of ``lavr.backends.make_backend`` (``local``, ``openai:MODEL``, a ``.gguf`` path) plus
``scripted:<file.json>``: a ``ScriptedBackend`` replaying the replies in a JSON file, either a list of replies
or ``{"replies": [...], "repeat_last": true, "native_tools": false}``. Each reply is a string or an object (sent
as JSON text), as ``ScriptedBackend`` takes them. Handy for testing pipelines and for dry runs of an eval.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..agents import Agent
    from ..backends import LLMBackend
    from ..settings import Settings
    from ..tools import Tool

__all__ = ["AgentSpec", "agent_mode", "build_llm", "make_mode_agent", "scripted_backend_from_file"]

SCRIPTED_PREFIX = "scripted:"


def scripted_backend_from_file(path: Path | str) -> LLMBackend:
    """A ``ScriptedBackend`` from a JSON file (format in the module docstring).

    Raises:
        BackendError: The file is missing or not a list/object of replies.
    """
    from ..backends import ScriptedBackend

    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackendError(f"scripted LLM: cannot read {path} ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise BackendError(f"scripted LLM: {path} is not valid JSON ({exc.msg})") from None
    options: dict[str, Any] = {}
    if isinstance(data, dict):
        options = {k: bool(data[k]) for k in ("repeat_last", "native_tools", "images") if k in data}
        data = data.get("replies")
    if not isinstance(data, list) or not all(isinstance(r, (str, dict)) for r in data):
        raise BackendError(f"scripted LLM: {path} must hold a list of replies (strings or objects)")
    return ScriptedBackend(data, native_tools=options.get("native_tools", False),
                           images=options.get("images", False), repeat_last=options.get("repeat_last", False))


def build_llm(spec: str, settings: Settings) -> LLMBackend:
    """A backend for ``spec``: ``scripted:<file.json>`` or anything ``make_backend`` accepts."""
    if spec.startswith(SCRIPTED_PREFIX):
        return scripted_backend_from_file(spec[len(SCRIPTED_PREFIX):])
    from ..backends import make_backend

    return make_backend(spec, settings)


def _load_tools(names: tuple[str, ...], settings: Settings) -> list[Tool]:
    """Tools from ``module:attr`` factories, each called with ``settings`` (a Tool class or a function)."""
    tools: list[Tool] = []
    for name in names:
        module_name, _, attr = name.partition(":")
        if not module_name or not attr:
            raise InputError(f"tool factory {name!r}: use 'module:attribute'")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"tool factory {name!r} cannot be imported: {exc}") from None
        made = factory(settings)
        tools.extend(made if isinstance(made, (list, tuple)) else [made])
    return tools


def make_mode_agent(mode: str, llm: Any, **kwargs: Any) -> Agent:
    """Build the agent for ``mode`` with ``lavr.agents.make_agent`` (``react``, ``program``, ``pipeline:FILE``).

    Falls back to ``Agent`` for ``react`` when ``make_agent`` is missing (an older lavr).

    Raises:
        InputError: The mode is unknown or not available in this version of lavr.
    """
    try:
        from ..agents.modes import make_agent
    except ImportError:
        if mode != "react":
            raise InputError(f"mode {mode!r} is not available in this version of lavr") from None
        from ..agents import Agent

        return Agent(llm, **kwargs)
    return make_agent(mode, llm, **kwargs)


def agent_mode(agent: Any) -> str:
    """The mode an agent runs in, for results files: its ``mode`` attribute, else from its class."""
    mode = getattr(agent, "mode", None)
    if isinstance(mode, str) and mode:
        return mode
    name = type(agent).__name__
    return {"Agent": "react", "ProgramAgent": "program", "PipelineAgent": "pipeline"}.get(name, name)


@dataclass(frozen=True)
class AgentSpec:
    """Everything needed to build an agent, as plain picklable data; calling it builds the agent.

    Attributes:
        llm: LLM spec (``local``, ``openai:MODEL``, a ``.gguf`` path, ``scripted:<file.json>``); empty means the
            settings' ``llm``.
        settings: Overrides applied on top of ``Settings()`` (which reads ``LAVR_*`` variables where it is built).
        mode: ``react`` (``Agent``), ``program`` (``ProgramAgent``) or ``pipeline:FILE`` (a scripted pipeline).
        cache: Use the on-disk expert cache.
        tools: ``module:attr`` tool factories called with the settings; empty means ``default_tools``.
    """

    llm: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    mode: str = "react"
    cache: bool = True
    tools: tuple[str, ...] = ()

    def build_settings(self) -> Settings:
        """``Settings()`` with this spec's overrides (validated)."""
        from ..settings import Settings

        try:
            return Settings(**self.settings)
        except ValueError as exc:
            raise InputError(f"invalid settings {self.settings}: {exc}") from None

    def with_settings(self, **updates: Any) -> AgentSpec:
        """A copy with more settings overrides."""
        return dataclasses.replace(self, settings={**self.settings, **updates})

    def __call__(self) -> Agent:
        settings = self.build_settings()
        llm = build_llm(self.llm or settings.llm, settings)
        tools = _load_tools(self.tools, settings) if self.tools else None
        return make_mode_agent(self.mode, llm, settings=settings, tools=tools, cache=self.cache)
