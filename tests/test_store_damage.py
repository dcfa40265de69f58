"""A damaged page in lavr's SQLite files (issue 18): the expert cache keeps every entry it can still read (seeded
entries cannot be recomputed), and a damaged chat thread database is set aside untouched, never written on."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from chat_helpers import answer, make_chat, photo

from lavr.cache import ExpertCache

SHA = "a" * 64


def page_holding(path: Path, marker: bytes) -> int:
    """The 1-based number of the page whose bytes contain ``marker``."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    return data.index(marker) // page_size + 1


def smash_page(path: Path, page: int) -> bytes:
    """Overwrite one whole page with garbage (a bad sector, a torn write); returns the damaged file's bytes."""
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    data[(page - 1) * size:page * size] = bytes((i * 37 + 11) % 256 for i in range(size))
    path.write_bytes(bytes(data))
    return bytes(data)


def unnoticed_page(path: Path, marker: bytes) -> int:
    """A page holding ``marker`` whose damage a plain query over the checkpoints does not notice (only an
    integrity check does): the damage that went unnoticed while writes went on."""
    data = path.read_bytes()
    size = int.from_bytes(data[16:18], "big")
    probe = path.with_name("probe.sqlite")
    for page in range(len(data) // size, 1, -1):
        if marker not in data[(page - 1) * size:page * size]:
            continue
        probe.write_bytes(data)
        smash_page(probe, page)
        conn = sqlite3.connect(probe)
        try:
            conn.execute("SELECT count(*) FROM checkpoints").fetchone()
            return page
        except sqlite3.DatabaseError:
            continue
        finally:
            conn.close()
            probe.unlink()
    raise AssertionError("no page of the thread database holds the marker")


def quick_check(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    finally:
        conn.close()


def test_cache_page_damage_keeps_every_entry_that_can_be_read(tmp_path, caplog):
    path = tmp_path / "experts.sqlite"
    cache = ExpertCache(path)
    for i in range(3000):  # as `lavr cache seed` stores outputs computed elsewhere
        cache.put(f"seeded-{i:04d}", {"i": i, "text": f"<entry {i:04d}> " + "x" * 60}, tool="detect",
                  image_sha256=SHA, identity="precomputed")
    cache.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    damaged = smash_page(path, page_holding(path, b"<entry 1500>"))  # a table page in the middle of the file
    assert quick_check(path) != "ok"

    with caplog.at_level(logging.WARNING, logger="lavr.cache"):
        cache = ExpertCache(path)
    kept = cache.stats().entries
    assert cache.recovered == kept and 2900 <= kept < 3000  # one page's worth lost, not 3,000 entries
    assert f"with the {kept} entries that could still be read" in caplog.text
    assert cache.get("seeded-1500") is None  # on the smashed page
    for i in (0, 1, 1499 - 40, 1501 + 40, 2999):
        assert cache.get(f"seeded-{i:04d}") == {"i": i, "text": f"<entry {i:04d}> " + "x" * 60}
    aside = list(tmp_path.glob("experts.sqlite.corrupt-*[0-9]"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged  # read, never written
    cache.close()
    assert quick_check(path) == "ok"


def test_a_damaged_thread_database_is_set_aside_and_never_written(settings, caplog):
    chat, _ = make_chat(settings, [answer("2")], repeat_last=True)
    first = chat.send(None, "How many people are in the first photo?", [photo()]).thread_id
    chat.send(None, "How many people are in the second photo?", [photo((10, 10, 200))])
    chat.close()
    path = settings.subdir("chat") / "threads.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    damaged = smash_page(path, unnoticed_page(path, first.encode()))
    assert quick_check(path) != "ok"

    with caplog.at_level(logging.WARNING, logger="lavr.chat.service"):
        chat, _ = make_chat(settings, [answer("3")], repeat_last=True)
    aside = list(path.parent.glob("threads.sqlite.damaged-*[0-9]"))
    assert len(aside) == 1 and "is damaged" in caplog.text and f"sqlite3 {aside[0]} .recover" in caplog.text
    assert chat.threads() == []  # a new database, not the damaged one
    reply = chat.send(None, "How many now?", [photo()])
    assert reply.turn.answer.answer == "3" and [t.id for t in chat.threads()] == [reply.thread_id]
    chat.close()
    assert aside[0].read_bytes() == damaged  # the damaged file was never written on
    assert quick_check(path) == "ok"
