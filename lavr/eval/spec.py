"""``AgentSpec``: a small, picklable recipe for building an agent, so evaluation workers (threads or Ray actors)
can each build their own. LLM specs are those of ``lavr.backends.make_backend`` (``scripted:<file.json>``
included); modes those of ``lavr.planners.make_planner``.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..agents import Agent
    from ..settings import Settings
    from ..tools import Tool

__all__ = ["AgentSpec", "agent_mode"]

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


def agent_mode(agent: Any) -> str:
    """The mode an agent runs in, for results files."""
    return str(getattr(agent, "mode", "") or type(agent).__name__)


@dataclass(frozen=True)
class AgentSpec:
    """Everything needed to build an agent, as plain picklable data; calling it builds the agent.

    Attributes:
        llm: LLM spec (``local``, ``openai:MODEL``, a ``.gguf`` path, ``scripted:<file.json>``); empty means the
            settings' ``llm``.
        settings: Overrides applied on top of ``Settings()`` (which reads ``LAVR_*`` variables where it is built).
        mode: a planner mode: ``query``, ``react``, ``pipeline:FILE``, ``naive`` (see ``lavr.planners.make_planner``).
        cache: Use the on-disk expert cache.
        tools: ``module:attr`` tool factories called with the settings; empty means ``default_tools``.
    """

    llm: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    mode: str = "auto"
    cache: bool = True
    tools: tuple[str, ...] = ()

    def build_settings(self) -> Settings:
        """``Settings()`` with this spec's overrides (validated).

        Raises:
            SettingsError: A ``LAVR_*`` variable or an override is not allowed.
        """
        from ..settings import Settings

        return Settings(**self.settings)  # a bad value raises SettingsError (one line, an InputError)

    def with_settings(self, **updates: Any) -> AgentSpec:
        """A copy with more settings overrides."""
        return dataclasses.replace(self, settings={**self.settings, **updates})

    def __call__(self) -> Agent:
        from ..agents import Agent

        settings = self.build_settings()
        tools = _load_tools(self.tools, settings) if self.tools else None
        return Agent(self.llm or settings.llm, planner=self.mode, settings=settings, tools=tools, cache=self.cache)
