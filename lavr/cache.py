"""Persistent per-image cache of expert (tool) outputs, stored in SQLite.

An entry is keyed by the image content hash, the tool name, the tool parameters and the model identity, so a
changed model or parameter never returns a stale answer. The cache is safe to share between threads (one
connection per thread) and between processes (WAL journal, 30 s busy timeout, short transactions). Its size is
bounded: once the stored JSON exceeds ``max_bytes`` the least recently used entries are evicted. An unreadable
database file is moved aside (``<name>.corrupt-<timestamp>``) and a fresh one is started.

Seeding from precomputed outputs (JSONL)
----------------------------------------
Expert outputs produced elsewhere (PICa / Chameleon style pipelines) can be loaded with
``ExpertCache.seed_jsonl`` so that only the LLM stage runs. The file holds one JSON object per line::

    {"image_sha256": "<64 hex>", "tool": "detect", "params": {...}, "identity": "<model identity>", "value": {...}}

- ``image_sha256``: lavr's content hash of the image (``StoredImage.sha256``, see ``lavr.images.content_hash``),
  which hashes the decoded pixels, not the file bytes.
- ``tool``: the tool name as registered.
- ``params``: the parameters exactly as the tool passes them to the cache (optional, default ``{}``).
- ``identity``: the model identity string of the tool; may be omitted when ``identity_for(tool)`` supplies it.
- ``value``: the tool's cached value as JSON (for ``detect`` a ``RawDetections``: ``{"detections": [{"label",
  "box": [x1, y1, x2, y2], "confidence", "attributes"}], "labels": [...]}``, see ``lavr.eval.precomputed``).

``lavr cache seed`` (``lavr.eval.precomputed.seed_file``) validates each value with its tool's cache model before
storing it (``normalise`` here), so a malformed one is reported instead of being silently recomputed later.

Blank lines are skipped. A malformed line is recorded in ``SeedReport.errors`` as ``"line N: reason"`` and
seeding goes on with the next line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import LavrError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, tool TEXT NOT NULL, image_sha256 TEXT NOT NULL,
    identity TEXT, value TEXT NOT NULL, bytes INTEGER NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL);
CREATE INDEX IF NOT EXISTS entries_last_used ON entries (last_used);
"""
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class CacheStats(BaseModel):
    """Size of the cache and the hit/miss counts of one ``ExpertCache`` instance."""

    entries: int
    bytes: int
    hits: int
    misses: int


class SeedReport(BaseModel):
    """Outcome of ``ExpertCache.seed_jsonl``: entries loaded and one ``"line N: reason"`` per bad line."""

    loaded: int = 0
    errors: list[str] = []


class ExpertCache:
    """SQLite-backed cache of expert outputs, shared safely by threads and processes.

    Args:
        path: Database file; parent folders are created.
        max_bytes: Bound on the total size of stored values (JSON text, UTF-8 bytes).
    """

    def __init__(self, path: Path, *, max_bytes: int = 2_000_000_000):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._generation = 0
        self._hits = self._misses = 0
        try:
            self._conn()
        except sqlite3.OperationalError:
            raise  # locked, unreachable or read-only: not a corrupt file
        except sqlite3.DatabaseError as exc:
            self._move_aside(exc)
            self._conn()

    # Connections -----------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema ensured) on first use."""
        held = getattr(self._local, "conn", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        with self._lock:
            self._conns.append(conn)
            self._local.conn = (self._generation, conn)
        return conn

    def _move_aside(self, exc: Exception) -> None:
        """Rename an unreadable database (and its WAL/SHM files) to ``*.corrupt-<timestamp>``."""
        target = self.path.with_name(f"{self.path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S-%f}")
        log.warning("expert cache %s is unreadable (%s); moved it to %s and starting a new one", self.path, exc, target)
        self.path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.replace(target.with_name(target.name + suffix))

    def close(self) -> None:
        """Close every connection this instance opened; a later call opens new ones."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._generation += 1
        for conn in conns:
            conn.close()

    # Entries ---------------------------------------------------------------------------------------------------
    def key(self, *, image_sha256: str, tool: str, params: dict, identity: str) -> str:
        """Deterministic key: sha256 of the canonical JSON of image hash, tool, params and model identity."""
        payload = {"image_sha256": image_sha256, "tool": tool, "params": params, "identity": identity}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict | None:
        """Return the stored value for ``key`` (and mark it used), or None when absent."""
        conn = self._conn()
        row = conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        with self._lock:
            if row is None:
                self._misses += 1
            else:
                self._hits += 1
        if row is None:
            return None
        try:
            conn.execute("UPDATE entries SET last_used = ? WHERE key = ?", (time.time(), key))
        except sqlite3.OperationalError as exc:  # best effort: a busy database must not fail a read
            log.debug("could not touch cache entry %s: %s", key, exc)
        return json.loads(row[0])

    def put(self, key: str, value: dict, *, tool: str, image_sha256: str, identity: str | None = None) -> None:
        """Insert or replace an entry, then evict least recently used entries while over ``max_bytes``."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode("utf-8"))
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO entries (key, tool, image_sha256, identity, value, bytes, created, last_used)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET tool = excluded.tool,"
                " image_sha256 = excluded.image_sha256, identity = COALESCE(excluded.identity, identity),"
                " value = excluded.value, bytes = excluded.bytes, last_used = excluded.last_used",
                (key, tool, image_sha256, identity, text, size, now, now),
            )
            self._evict(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _evict(self, conn: sqlite3.Connection) -> None:
        """Delete the oldest-used rows until the total size fits (runs inside the caller's transaction)."""
        total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM entries").fetchone()[0]
        if total <= self.max_bytes:
            return
        doomed: list[tuple[str]] = []
        for key, size in conn.execute("SELECT key, bytes FROM entries ORDER BY last_used, created"):
            if total <= self.max_bytes:
                break
            doomed.append((key,))
            total -= size
        conn.executemany("DELETE FROM entries WHERE key = ?", doomed)

    def stats(self) -> CacheStats:
        """Entry count and stored bytes (whole database), hits and misses (this instance)."""
        entries, size = self._conn().execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM entries").fetchone()
        with self._lock:
            return CacheStats(entries=entries, bytes=size, hits=self._hits, misses=self._misses)

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        return self._conn().execute("DELETE FROM entries").rowcount

    # Seeding ---------------------------------------------------------------------------------------------------
    def seed_jsonl(self, path: Path, *, identity_for: Callable[[str], str] | None = None,
                   normalise: Callable[[str, dict], dict] | None = None) -> SeedReport:
        """Load precomputed expert outputs from a JSONL file (format in the module docstring).

        Args:
            path: The JSONL file.
            identity_for: Gives the model identity for a tool name when a line has no ``identity``.
            normalise: ``(tool, value) -> value`` validating a value before it is stored; raises ValueError (or a
                ``LavrError``) to skip the line (``lavr.eval.precomputed.normalise_value`` does it per tool).

        Returns:
            How many entries were loaded and the errors of the lines that were skipped.
        """
        report = SeedReport()
        with Path(path).open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = self.parse_seed_line(line, identity_for)
                    if normalise is not None:
                        record["value"] = normalise(record["tool"], record["value"])
                except (ValueError, LavrError) as exc:
                    report.errors.append(f"line {number}: {exc}")
                    continue
                key = self.key(image_sha256=record["image_sha256"], tool=record["tool"],
                               params=record["params"], identity=record["identity"])
                self.put(key, record["value"], tool=record["tool"], image_sha256=record["image_sha256"],
                         identity=record["identity"])
                report.loaded += 1
        return report

    @staticmethod
    def parse_seed_line(line: str, identity_for: Callable[[str], str] | None) -> dict[str, Any]:
        """Validate one JSONL line; raises ValueError with a short reason."""
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        sha, tool, params = obj.get("image_sha256"), obj.get("tool"), obj.get("params", {})
        for ok, reason in ((isinstance(sha, str) and _SHA256.match(sha), "image_sha256 must be 64 hex digits"),
                           (isinstance(tool, str) and tool, "tool must be a non-empty string"),
                           (isinstance(params, dict), "params must be an object"),
                           (isinstance(obj.get("value"), dict), "value must be an object")):
            if not ok:
                raise ValueError(reason)
        identity = obj.get("identity")
        if identity is None and identity_for is not None:
            try:
                identity = identity_for(tool)
            except Exception as exc:  # noqa: BLE001 - a user callback; report, don't crash
                raise ValueError(f"identity_for({tool!r}) failed: {exc!r}") from None
        if not isinstance(identity, str) or not identity:
            raise ValueError("identity missing (give it on the line or pass identity_for)")
        return {"image_sha256": sha.lower(), "tool": tool, "params": params, "identity": identity,
                "value": obj["value"]}
