"""The results file: one JSON object per evaluated row (JSONL), appended and flushed line by line.

Each record has these keys (``None`` where not applicable)::

    id, image, question, question_type, prediction, raw_answer, answers, choices, score, metric,
    error, error_kind, seconds, usage {prompt_tokens, completion_tokens, llm_calls}, tools, steps,
    retries, finished, mode, llm, seed, image_path, trace

- ``prediction`` is the agent's answer exactly as it returned it (``raw_answer``, kept for older files), the
  string that was scored: the scorer never reformats an answer; ``score`` is in [0, 1], or
  ``None`` when the row failed (then ``error``/``error_kind`` say why).
- ``tools`` lists the tool calls in order (names, repeated when a tool ran twice); ``steps`` counts trace steps;
  ``retries`` counts malformed LLM replies that were fed back.
- ``trace`` is the run's typed trace (``lavr.trace`` steps as JSON, ``None`` fields left out): the program a
  planner wrote, the tools' structured outputs (boxes) and the evidence the answer names, for the HTML report.
  ``image_path`` is the image's resolved path (``image`` is relative to the dataset's folder).

Reading is tolerant: a line that is not a JSON object with an ``id`` (a torn last line after a kill) is skipped,
and when an id appears more than once the last record wins.

One writer at a time: ``ResultsLock`` holds an exclusive ``flock`` on ``<results>.lock`` for a whole run, so a
second ``lavr eval`` on the same file refuses to start instead of replacing a file the first one is appending to
(which silently lost its rows). The lock file is left in place (removing it would race with a waiting run);
the kernel releases the lock when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["ResultsLock", "ResultsWriter", "is_results_file", "read_results", "rewrite_results"]

# Keys every record lavr writes has (``base_record``): a line without them is not a result, whatever its id.
RECORD_KEYS = frozenset({"id", "prediction", "score", "error", "metric"})


def is_record(obj: Any) -> bool:
    """Whether a parsed line is a result record lavr wrote."""
    return isinstance(obj, dict) and RECORD_KEYS <= obj.keys() and isinstance(obj.get("id"), str)


def is_results_file(path: Path | str) -> bool:
    """Whether ``path`` holds only result records (blank lines aside); an unfinished last line, as a kill in the
    middle of a write leaves it, is allowed. Anything else (notes, a dataset, a report) is not a results file."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is unfinished (empty when the file ends with one)
    for line in complete:
        if not line.strip():
            continue
        try:
            if not is_record(json.loads(line)):
                return False
        except (ValueError, RecursionError):
            return False
    return any(line.strip() for line in complete) or not lines[-1].strip()


def read_results(path: Path | str) -> list[dict[str, Any]]:
    """Read a results file, skipping torn or malformed lines; the last record of an id wins.

    Args:
        path: The JSONL results file; a missing file reads as empty.

    Returns:
        The records, in the order of each id's first appearance.
    """
    path = Path(path)
    if not path.exists():
        return []
    records: dict[str, dict[str, Any]] = {}
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for text in fh:
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                skipped += 1
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                skipped += 1
                continue
            records[obj["id"]] = obj
    if skipped:
        logger.warning("%s: skipped %d unreadable line(s) (an interrupted write?)", path, skipped)
    return list(records.values())


def rewrite_results(path: Path | str, records: list[dict[str, Any]]) -> None:
    """Replace ``path`` atomically with exactly ``records`` (one line each)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ResultsLock:
    """Exclusive, non-blocking lock on a results file for one run (a sidecar ``<name>.lock`` file).

    Raises:
        InputError: Another process holds the lock (the message names its pid when it wrote one).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot create the lock file {self.lock_path} "
                             f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise InputError(f"{self.path} is being written by another lavr eval{who}; wait for it to finish or "
                             "choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ResultsWriter:
    """Appends records to a results file, one flushed line each; safe to share between threads.

    Args:
        path: The JSONL file; created (with its folder) when missing.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = self.path.open("a", encoding="utf-8")
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and flush it, so a kill loses at most the line being written."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            self.written += 1

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
