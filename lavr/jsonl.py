"""Reading a JSON Lines file a user gives (a dataset, precomputed expert outputs) line by line, where any line
may be bad: not UTF-8, not JSON, nested too deeply for the parser, or far too long. Each such line is reported
with its number, and reading goes on; nothing ends in a traceback. Only a regular file is read (a folder, a
device such as ``/dev/zero`` or a pipe is refused at once).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["MAX_LINE_BYTES", "JsonLine", "check_regular_file", "json_lines"]

MAX_LINE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class JsonLine:
    """One non-blank line: its 1-based number and its JSON value, or ``problem`` saying why it has none."""

    number: int
    value: Any = None
    problem: str | None = None
    text: str = ""


def check_regular_file(path: Path | str, what: str) -> Path:
    """``path`` if it is a regular file, else ``InputError`` (missing, a folder, a device, a pipe)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such {what}")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise InputError(f"{path}: is {kind}; give a {what}")
    return path


def _raw_lines(path: Path, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(number, bytes) of each line; bytes None for a line over ``limit`` (skipped to its end, never held)."""
    with path.open("rb") as fh:
        number = 0
        while True:
            line = fh.readline(limit + 1)
            if not line:
                return
            number += 1
            if len(line) > limit and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = fh.readline(1 << 20)
                yield number, None
                continue
            yield number, line


def json_lines(path: Path | str, *, what: str = "JSON Lines file", limit: int = MAX_LINE_BYTES
               ) -> Iterator[JsonLine]:
    """Every non-blank line of a JSONL file, parsed; bad lines come with a ``problem`` instead of a value.

    Raises:
        InputError: ``path`` is not a regular file.
    """
    path = check_regular_file(path, what)
    for number, raw in _raw_lines(path, limit):
        if raw is None:
            yield JsonLine(number, problem=f"longer than {limit:,} bytes")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield JsonLine(number, problem=f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1})")
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield JsonLine(number, problem=f"invalid JSON ({exc.msg})", text=text)
            continue
        except RecursionError:
            yield JsonLine(number, problem="invalid JSON (nested too deeply)", text=text)
            continue
        yield JsonLine(number, value=value, text=text)
