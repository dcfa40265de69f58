"""Checks before lavr writes a file a user named on the command line, so a careless command loses nothing: the
output is never one of the command's own inputs (also not through a symbolic or hard link), and a file already
there is replaced only when lavr wrote it (a results file, a report, a trace page), or when it is empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import InputError

__all__ = ["refuse_overwrite", "same_file"]


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether two paths name one file: the same path once links are resolved, or one inode (a hard link)."""
    a, b = Path(a).expanduser(), Path(b).expanduser()
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overwrite(target: Path | str, *, option: str, inputs: Sequence[tuple[str, Path | str]] = (),
                     written_by_lavr: Callable[[Path], bool] | None = None, kind: str = "") -> None:
    """Raise ``InputError`` unless writing ``target`` loses nothing.

    Args:
        target: The file about to be written (replaced, or appended to).
        option: How the user named it (``--out``), for the message.
        inputs: ``(what, path)`` of every file the command reads (``("the dataset", data)``): never a target.
        written_by_lavr: Whether an existing file is one lavr wrote and may replace; None: any file may be.
        kind: What such a file is, for the message (``a results file``).
    """
    path = Path(target).expanduser()
    for what, source in inputs:
        if same_file(path, source):
            raise InputError(f"{option} {target}: is {what} itself; give another file name")
    if path.is_dir():
        raise InputError(f"{option} {target}: is a folder; give a file name")
    if written_by_lavr is None or not path.exists():
        return
    if not path.is_file():
        raise InputError(f"{option} {target}: is not a regular file; give another file name")
    if path.stat().st_size > 0 and not written_by_lavr(path):
        raise InputError(f"{option} {target}: the file exists and is not {kind}; lavr does not overwrite it "
                         "(give a new file name, or remove it first)")
