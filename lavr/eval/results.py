"""The results file: one JSON object per evaluated row (JSONL), appended and flushed line by line.

Each record has these keys (``None`` where not applicable)::

    id, image, question, question_type, prediction, raw_answer, answers, choices, score, metric,
    error, error_kind, seconds, usage {prompt_tokens, completion_tokens, llm_calls}, tools, steps,
    retries, finished, mode, llm, seed

- ``prediction`` is ``short_answer(raw_answer)``, the string that was scored; ``score`` is in [0, 1], or
  ``None`` when the row failed (then ``error``/``error_kind`` say why).
- ``tools`` lists the tool calls in order (names, repeated when a tool ran twice); ``steps`` counts trace steps; ``retries`` counts malformed LLM replies that were fed back.

Reading is tolerant: a line that is not a JSON object with an ``id`` (a torn last line after a kill) is skipped,
and when an id appears more than once the last record wins.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["ResultsWriter", "read_results", "rewrite_results"]


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
            except json.JSONDecodeError:
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
