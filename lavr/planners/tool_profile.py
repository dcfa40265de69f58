"""Tool profiles: which of the available tools a planner offers the LLM, chosen per backend.

A small embedded LLM (the 1.5B GGUF run by llama.cpp) picks worse when it has more to choose from: offered
``detect``, ``faces``, ``people`` and ``query`` side by side, it counted persons with ``detect`` (fooled by a cat),
and copied the query tool's operator names as answers. The ``compact`` profile hides a tool wherever another
offered tool covers what it is for; the ``full`` profile (remote models) offers everything.

The rule lives here only: ``make_planner`` resolves the profile once (``Settings.tool_profile``, default
``"auto"``: the one the backend declares in its ``BackendProfile``, compact for the embedded llama.cpp model,
full for the others), and the ReAct planner filters ``request.tools`` through it, which also filters its
in-context examples (an example is only shown when it calls offered tools only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, get_args

from ..backends.base import LLMBackend, ToolProfileName
from ..errors import InputError
from ..tools.base import Tool

ProfileName = ToolProfileName
ProfileChoice = Literal["auto", "full", "compact"]
PROFILE_CHOICES: tuple[str, ...] = get_args(ProfileChoice)

T = TypeVar("T", bound=Tool)


@dataclass(frozen=True)
class ToolProfile:
    """Which tools to offer. ``covered_by`` maps a tool to the tools that do its job: it is hidden only when all of
    them are offered (so nothing is lost where, say, ``people`` is unavailable). ``hidden`` tools are never
    offered."""

    name: ProfileName
    covered_by: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()

    def offer(self, tools: Sequence[T]) -> list[T]:
        """The tools to show the LLM, in their given order."""
        names = {t.name for t in tools if t.name not in self.hidden}
        return [t for t in tools if t.name in names
                and not (t.name in self.covered_by and set(self.covered_by[t.name]) <= names - {t.name})]


FULL = ToolProfile(name="full")

COMPACT = ToolProfile(
    name="compact",
    covered_by={
        # person counts: `people` cross-checks the person boxes with faces (detect alone says "yes" on a cat);
        # other labels: scene_graph's counts and label queries run the same detector.
        "detect": ("people", "scene_graph"),
        "faces": ("people",),  # people lists the faces that confirm each person
    },
    # query mode writes query programs itself; offered as a ReAct tool, a small model copied its operator
    # names ("more_than") as answers.
    hidden=frozenset({"query"}),
)

PROFILES: dict[str, ToolProfile] = {p.name: p for p in (FULL, COMPACT)}


def resolve_profile(choice: str | ToolProfile | None, llm: LLMBackend | None = None) -> ToolProfile:
    """The profile for a choice: a ``ToolProfile``, ``"full"``, ``"compact"``, or ``"auto"``/``None`` (the one
    ``llm`` declares in its ``BackendProfile``; full without a backend).

    Raises:
        InputError: an unknown profile name.
    """
    if isinstance(choice, ToolProfile):
        return choice
    if choice in (None, "auto"):
        return PROFILES[llm.profile.tool_profile] if llm is not None else FULL
    if choice not in PROFILES:
        raise InputError(f"unknown tool profile {choice!r}; use one of: {', '.join(PROFILE_CHOICES)}")
    return PROFILES[choice]
