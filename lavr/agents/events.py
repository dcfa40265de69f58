"""What a run reports while it goes: each trace step as soon as its graph node ends, and ``Progress`` (what starts
next: the planner thinking, or which tools on which images) so a terminal or a page can say what is happening.

Both come from the graph's own stream of node updates (``stream_mode="updates"``): no planner or tool reports
anything itself, so every planning mode streams alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..trace import Step

logger = logging.getLogger(__name__)


class Progress(BaseModel):
    """What a run does next, before the step that will record it exists."""

    kind: Literal["progress"] = "progress"
    stage: Literal["planning", "tools"]
    tools: list[str] = Field(default_factory=list, description="The tools about to run, e.g. scene_graph(img_0).")
    text: str = Field(description="One line for a person: 'running scene_graph on img_0'.")


RunEvent = Step | Progress
EventCallback = Callable[[Any], None]  # called with a Step or a Progress, in the order they happen


def planning(planner: str) -> Progress:
    return Progress(stage="planning", text=f"thinking ({planner} planner)")


def running(pending: list[dict[str, Any]]) -> Progress:
    """Progress for the tool calls a plan node left pending: each tool with the images (or object) it works on."""
    calls: list[tuple[str, list[str]]] = []
    for call in pending:
        args = call.get("args") or {}
        on = args.get("images") or [args[k] for k in ("image", "object") if isinstance(args.get(k), str)]
        calls.append((str(call.get("tool")), [str(i) for i in on]))
    said = [f"{tool} on {', '.join(images)}" if images else tool for tool, images in calls]
    return Progress(stage="tools", tools=[f"{tool}({', '.join(images)})" for tool, images in calls],
                    text="running " + "; ".join(dict.fromkeys(said)))


def events_of_update(node: str, update: dict[str, Any] | None, planner: str) -> list[RunEvent]:
    """The events one node's update stands for: its new steps, then what the graph does next."""
    update = update or {}
    events: list[RunEvent] = list(update.get("steps") or [])
    if node in ("plan", "force") and update.get("pending"):
        events.append(running(update["pending"]))
    elif node == "tools":
        events.append(planning(planner))
    return events


def emit(callback: EventCallback | None, event: RunEvent) -> None:
    """Call a listener; its failure is logged, never allowed to break the run it watches."""
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # noqa: BLE001 - a listener (a closed terminal, a gone client) must not fail the turn
        logger.warning("a run event listener failed", exc_info=True)
