"""Persistent per-image cache of expert (tool) outputs, stored in SQLite.

An entry is keyed by the image content hash, the tool name, the tool parameters and the model identity, so a
changed model or parameter never returns a stale answer. The cache is safe to share between threads (one
connection per thread) and between processes (WAL journal, 30 s busy timeout, short transactions). Its size is
bounded: once the stored JSON exceeds ``max_bytes`` the least recently used entries are evicted, and once enough
pages are free they are given back to the file system (incremental auto-vacuum), so the file shrinks. An entry
larger than the whole bound is not stored (it would evict everything
else and then itself). A damaged database file (an unreadable header, or pages that ``PRAGMA quick_check``
finds malformed on open, or a "malformed" error later) is moved aside (``<name>.corrupt-<timestamp>``, never
written again) and a fresh one is started with every entry that can still be read from it, row by row (seeded
entries cannot be recomputed); a warning says how many were kept (``ExpertCache.recovered``).

Seeding it with expert outputs produced elsewhere (a JSONL file, ``lavr cache seed``, or a dataset row's
``precomputed`` outputs) is ``lavr.eval.precomputed``'s job: it parses and validates, and stores with ``put``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, tool TEXT NOT NULL, image_sha256 TEXT NOT NULL,
    identity TEXT, value TEXT NOT NULL, bytes INTEGER NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL);
CREATE INDEX IF NOT EXISTS entries_last_used ON entries (last_used);
"""


class CacheStats(BaseModel):
    """Size of the cache and the hit/miss counts of one ``ExpertCache`` instance."""

    entries: int
    bytes: int
    hits: int
    misses: int


class EntryTooLarge(ValueError):
    """An entry is larger than the cache's whole size bound, so it is not stored."""


def _whole(row: tuple[Any, ...]) -> bool:
    """Whether a row read from a damaged file is intact: typed fields, a JSON object of the recorded size."""
    key, tool, sha, identity, value, size, created, last_used = row
    if not (isinstance(key, str) and key and isinstance(tool, str) and isinstance(sha, str)
            and isinstance(identity, (str, type(None))) and isinstance(value, str) and isinstance(size, int)
            and isinstance(created, (int, float)) and isinstance(last_used, (int, float))):
        return False
    try:
        return len(value.encode("utf-8")) == size and isinstance(json.loads(value), dict)
    except (ValueError, RecursionError):
        return False


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for errors that mean the file itself is damaged (not locked, busy or read-only)."""
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "file is encrypted" in text


class ExpertCache:
    """SQLite-backed cache of expert outputs, shared safely by threads and processes.

    Args:
        path: Database file; parent folders are created.
        max_bytes: Bound on the total size of stored values (JSON text, UTF-8 bytes).
    """

    def __init__(self, path: Path, *, max_bytes: int = 2_000_000_000):
        from .errors import InputError

        if max_bytes < 1:
            raise InputError(f"the expert cache bound must be at least 1 byte (got {max_bytes}); "
                             "bypass the cache instead (--no-cache)")
        self.path = Path(path)
        self.max_bytes = max_bytes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the cache folder {self.path.parent} "
                             f"({exc.strerror or exc}); set LAVR_DATA_DIR to a writable folder") from None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._recover_lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._generation = 0
        self._hits = self._misses = 0
        self.recovered: int | None = None  # entries kept from a damaged file, once one was set aside
        try:
            self._check_on_open(self._conn())
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                # locked, unreachable or read-only: not a corrupt file, and nothing to move aside
                raise InputError(f"cannot open the expert cache {self.path}: {exc} "
                                 "(set LAVR_DATA_DIR to a writable folder, or use --no-cache)") from None
            self._recover(exc)

    def _check_on_open(self, conn: sqlite3.Connection) -> None:
        """Find damaged pages now rather than in the middle of a question (one pass over the file)."""
        result = conn.execute("PRAGMA quick_check(1)").fetchone()
        if result is None or result[0] != "ok":
            found = " ".join(str(result and result[0]).split())
            raise sqlite3.DatabaseError(f"database disk image is malformed (quick_check: {found})")

    # Connections -----------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema ensured) on first use."""
        held = getattr(self._local, "conn", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            # Must precede the first table of a new file; older files are converted once by _ensure_autovacuum.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM entries").fetchone()
            self._ensure_autovacuum(conn)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        with self._lock:
            self._conns.append(conn)
            self._local.conn = (self._generation, conn)
        return conn

    def _ensure_autovacuum(self, conn: sqlite3.Connection) -> None:
        """Switch a file made without incremental auto-vacuum (older lavr) to it; needs one VACUUM."""
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        try:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:  # busy with another process: try again on a later open
            log.info("could not convert %s to incremental auto-vacuum yet: %s", self.path, exc)

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """Move a damaged file aside and start a fresh one (every thread reconnects on its next call).

        Another thread or process may have recovered already: the file is only moved when it still fails its
        check, so a fresh database is never thrown away.
        """
        with self._recover_lock:
            with self._lock:
                self._generation += 1  # connections to the damaged file are left to close()
                self._local.conn = None
            try:
                probe = sqlite3.connect(self.path, timeout=30.0)
                try:
                    ok = probe.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
                finally:
                    probe.close()
            except sqlite3.DatabaseError:
                ok = False
            moved = self._move_aside() if not ok and self.path.exists() else None
            conn = self._conn()
            if moved is not None:
                kept = self._salvage(moved, conn)
                self.recovered = kept
                log.warning("expert cache %s is unreadable (%s): moved it to %s and started a new one with the %d "
                            "entries that could still be read", self.path, exc, moved, kept)

    def _guarded(self, op: Callable[[], Any]) -> Any:
        """Run ``op``; on a "malformed" error, recover the file and run it once more on the fresh database."""
        try:
            return op()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self._recover(exc)
            return op()

    def _move_aside(self) -> Path:
        """Rename an unreadable database (and its WAL/SHM files) to ``*.corrupt-<timestamp>``; returns the name."""
        target = self.path.with_name(f"{self.path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S-%f}")
        self.path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.replace(target.with_name(target.name + suffix))
        return target

    def _salvage(self, damaged: Path, conn: sqlite3.Connection) -> int:
        """Copy every entry of a damaged file that can still be read into the fresh one (``conn``); returns how
        many. Seeded entries cannot be recomputed, so one bad page must not cost the rest.

        Row ids come from a forward and a backward scan of the table (each stops at the damage, from its own
        side) and from both indexes; each row is then read on its own, and kept only when it is whole."""
        try:
            source = sqlite3.connect(damaged.resolve().as_uri() + "?mode=ro", uri=True, timeout=30.0)
        except sqlite3.Error:
            return 0
        rows: list[tuple[Any, ...]] = []
        try:
            rowids: set[int] = set()
            for query in ("SELECT rowid FROM entries NOT INDEXED ORDER BY rowid",
                          "SELECT rowid FROM entries NOT INDEXED ORDER BY rowid DESC",
                          "SELECT rowid FROM entries INDEXED BY entries_last_used",
                          "SELECT rowid FROM entries INDEXED BY sqlite_autoindex_entries_1"):
                try:
                    for (rowid,) in source.execute(query):
                        rowids.add(rowid)
                except sqlite3.DatabaseError:
                    continue  # read up to the damage; the other scans come from elsewhere
            for rowid in sorted(rowids):
                try:
                    row = source.execute("SELECT key, tool, image_sha256, identity, value, bytes, created, last_used "
                                         "FROM entries WHERE rowid = ?", (rowid,)).fetchone()
                except sqlite3.DatabaseError:
                    continue
                if row is not None and _whole(row):
                    rows.append(row)
        finally:
            source.close()
        if not rows:
            return 0
        rows.sort(key=lambda r: r[7])
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO entries (key, tool, image_sha256, identity, value, bytes, created,"
                             " last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._evict(conn, keep="")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

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
        return self._guarded(lambda: self._get(key))

    def _get(self, key: str) -> dict | None:
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
        """Insert or replace an entry, then evict least recently used entries while over ``max_bytes``.

        Raises:
            EntryTooLarge: The entry alone is larger than ``max_bytes``; nothing was stored or evicted.
        """
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode("utf-8"))
        if size > self.max_bytes:
            raise EntryTooLarge(f"a {tool} entry of {size:,} bytes is larger than the whole cache bound "
                                f"({self.max_bytes:,} bytes, LAVR_CACHE_MAX_BYTES)")
        evicted = self._guarded(lambda: self._put(key, text, size, tool, image_sha256, identity))
        if evicted:
            self._shrink()

    def _put(self, key: str, text: str, size: int, tool: str, image_sha256: str, identity: str | None) -> int:
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
            evicted = self._evict(conn, keep=key)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return evicted

    def _evict(self, conn: sqlite3.Connection, *, keep: str) -> int:
        """Delete the oldest-used rows (never ``keep``, the entry just written) until the total fits; runs inside
        the caller's transaction. Returns how many rows were deleted."""
        total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM entries").fetchone()[0]
        if total <= self.max_bytes:
            return 0
        doomed: list[tuple[str]] = []
        for key, size in conn.execute("SELECT key, bytes FROM entries WHERE key != ? ORDER BY last_used, created",
                                      (keep,)):
            if total <= self.max_bytes:
                break
            doomed.append((key,))
            total -= size
        conn.executemany("DELETE FROM entries WHERE key = ?", doomed)
        return len(doomed)

    def _shrink(self, *, min_free_pages: int = 64) -> None:
        """Give freed pages back to the file system once at least ``min_free_pages`` are free (batched: one
        small eviction does not pay for a vacuum and a checkpoint)."""
        conn = self._conn()
        try:
            if conn.execute("PRAGMA freelist_count").fetchone()[0] < min_free_pages:
                return
            # executescript steps the pragma to completion (Cursor.execute stops after one page for a pragma
            # that returns no rows).
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as exc:  # busy: a later eviction or checkpoint does it
            log.debug("could not shrink %s now: %s", self.path, exc)

    def contains(self, key: str) -> bool:
        """Whether ``key`` is stored (does not count as a hit or a use)."""
        return self._guarded(
            lambda: self._conn().execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone() is not None)

    def stats(self) -> CacheStats:
        """Entry count and stored bytes (whole database), hits and misses (this instance)."""
        entries, size = self._guarded(
            lambda: self._conn().execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM entries").fetchone())
        with self._lock:
            return CacheStats(entries=entries, bytes=size, hits=self._hits, misses=self._misses)

    def clear(self) -> int:
        """Remove every entry and shrink the file; returns how many were removed."""
        removed = self._guarded(lambda: self._conn().execute("DELETE FROM entries").rowcount)
        self._shrink(min_free_pages=1)
        return removed

    def count_missing(self, keys: list[str]) -> int:
        """How many of ``keys`` (distinct) are not stored: seeded entries that the size bound evicted again."""
        return sum(1 for key in set(keys) if not self.contains(key))


def open_cache(settings: Any) -> ExpertCache:
    """The expert cache a ``Settings`` names: ``<data_dir>/cache/experts.sqlite``, bounded by ``cache_max_bytes``."""
    return ExpertCache(settings.subdir("cache") / "experts.sqlite", max_bytes=settings.cache_max_bytes)
