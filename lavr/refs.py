"""References between planned tool calls: ``"$s1.detections[0].id"`` names a field of an earlier call's output.

A reference is a string that is entirely ``$<call id>`` followed by a path of ``.field`` and ``[index]`` parts.
Indices are 0-based; ``[-1]`` is the last item. A string that should start with a literal ``$`` is written
``$$``. References may appear anywhere in the arguments (inside lists too), but only as whole strings:
``"obj $s1.x"`` is plain text. Pipelines (their checks) and the runner's executor use this one module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_\-]*|\[-?\d+\])*)$")
_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(-?\d+)\]")
Loc = tuple[str | int, ...]


class RefError(ValueError):
    """A reference cannot be resolved; ``str()`` says why."""


@dataclass(frozen=True)
class Ref:
    """A parsed reference: the step it names and the path into that step's output."""

    step: str
    path: tuple[str | int, ...]
    text: str


def parse_ref(text: str) -> Ref:
    """Parse ``$s1.detections[0].id``; raises ``RefError`` when the string is not a well-formed reference."""
    m = _REF.match(text)
    if m is None:
        raise RefError(f'"{text}" is not a valid reference; write "$<step id>.<field>[<index>]..." '
                       '(e.g. "$s1.detections[0].id"), or "$$" for a literal "$"')
    path = tuple(key if key else int(index) for key, index in _PART.findall(m.group(2)))
    return Ref(step=m.group(1), path=path, text=text)


def is_ref(value: Any) -> bool:
    """Whether ``value`` is meant as a reference (a string starting with one ``$``)."""
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


def find_refs(value: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Every reference string inside ``value`` (dicts and lists walked), with its location."""
    if is_ref(value):
        return [(loc, value)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in find_refs(v, (*loc, k))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in find_refs(v, (*loc, i))]
    return []


def format_path(step: str, path: tuple[str | int, ...]) -> str:
    """``s1.detections[0].id`` from a step id and a path."""
    return step + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def resolve_path(data: Any, ref: Ref) -> Any:
    """Follow ``ref.path`` into ``data`` (a step's JSON output)."""
    value = data
    walked: tuple[str | int, ...] = ()
    for part in ref.path:
        here = format_path(ref.step, walked)
        if isinstance(part, int):
            if not isinstance(value, list):
                raise RefError(f"{here} is not a list, so [{part}] does not apply")
            if not -len(value) <= part < len(value):
                raise RefError(f"{here} has {len(value)} items, so [{part}] does not exist")
            value = value[part]
        else:
            if not isinstance(value, dict):
                raise RefError(f"{here} is not an object, so .{part} does not apply")
            if part not in value:
                raise RefError(f"{here} has no field {part!r}; it has: {', '.join(map(str, value)) or 'none'}")
            value = value[part]
        walked = (*walked, part)
    return value


def substitute(value: Any, outputs: Mapping[str, Any] | None) -> Any:
    """Replace references with values from ``outputs`` (step id -> JSON output, None when the step failed).

    ``$$`` escapes become ``$``. With ``outputs=None`` references are left as they are.
    """
    if isinstance(value, str):
        if value.startswith("$$"):
            return value[1:]
        if not value.startswith("$") or outputs is None:
            return value
        ref = parse_ref(value)
        if ref.step not in outputs:
            raise RefError(f"{value}: step {ref.step} has not run")
        if outputs[ref.step] is None:
            raise RefError(f"{value}: step {ref.step} failed, so it has no output")
        return resolve_path(outputs[ref.step], ref)
    if isinstance(value, dict):
        return {k: substitute(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, outputs) for v in value]
    return value
