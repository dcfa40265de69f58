"""A registry of named tools; ``available()`` are the ones offered to planners (calls run in
``lavr.agents.executor``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from .base import Availability, Tool


def format_validation_error(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class ToolRegistry:
    """Named tools; ``available()`` are the ones offered to the planner."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        self._availability: dict[str, Availability] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool:
        return self._tools[name]

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def availability(self, name: str) -> Availability:
        if name not in self._availability:
            try:
                self._availability[name] = self._tools[name].availability()
            except Exception as exc:  # a probe must never take the agent down
                self._availability[name] = Availability(available=False, reason=f"availability check failed: {exc}")
        return self._availability[name]

    def available(self) -> list[Tool]:
        return [t for t in self._tools.values() if self.availability(t.name).available]

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.available()]
