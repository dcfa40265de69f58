"""Tests for the persistent expert cache (lavr.cache)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from lavr.cache import CacheStats, ExpertCache
from lavr.eval.precomputed import SeedReport, seed_jsonl

SHA_A = "a" * 64
SHA_B = "b" * 64


def _value(key: str, writer: str) -> dict:
    """A value whose parts check each other, so a torn or mixed-up write is detectable."""
    return {"key": key, "writer": writer, "payload": [writer] * 40, "nested": {"k": key[::-1]}}


def _intact(value: dict | None, key: str, writer: str | None = None) -> bool:
    if value is None or value.get("key") != key or value.get("nested") != {"k": key[::-1]}:
        return False
    if writer is not None and value.get("writer") != writer:
        return False
    return value.get("payload") == [value.get("writer")] * 40


def _hammer(path: str, writer: str, n_own: int, n_shared: int, start_at: float = 0.0) -> list[str]:
    """Write/read own and shared keys; return a description of every problem seen. Runs in threads and processes."""
    time.sleep(max(0.0, start_at - time.time()))  # lets spawned processes start together
    cache = ExpertCache(Path(path))
    problems: list[str] = []
    try:
        for i in range(max(n_own, n_shared)):
            if i < n_own:
                key = f"own-{writer}-{i}"
                cache.put(key, _value(key, writer), tool="detect", image_sha256=SHA_A)
                if not _intact(cache.get(key), key, writer):
                    problems.append(f"{writer}: own {key} not read back")
            if i < n_shared:
                key = f"shared-{i}"
                cache.put(key, _value(key, writer), tool="caption", image_sha256=SHA_B)
                if not _intact(cache.get(key), key):
                    problems.append(f"{writer}: shared {key} corrupt")
    finally:
        cache.close()
    return problems


@pytest.fixture
def cache(tmp_path: Path):
    c = ExpertCache(tmp_path / "sub" / "dir" / "experts.sqlite")
    yield c
    c.close()


def test_round_trip_and_stats(cache: ExpertCache, tmp_path: Path) -> None:
    assert (tmp_path / "sub" / "dir" / "experts.sqlite").exists()
    key = cache.key(image_sha256=SHA_A, tool="detect", params={"labels": ["cat"]}, identity="yolo@1")
    assert cache.get(key) is None
    value = {"objects": [{"label": "cat", "box": [1.5, 2, 30, 40]}], "text": "ünïcode ✓", "none": None}
    cache.put(key, value, tool="detect", image_sha256=SHA_A)
    assert cache.get(key) == value
    cache.put(key, {"objects": []}, tool="detect", image_sha256=SHA_A)  # upsert replaces
    assert cache.get(key) == {"objects": []}
    stats = cache.stats()
    assert isinstance(stats, CacheStats)
    assert (stats.entries, stats.hits, stats.misses) == (1, 2, 1)
    assert stats.bytes == len(json.dumps({"objects": []}, separators=(",", ":")))
    cache.put("other", {"x": 1}, tool="ocr", image_sha256=SHA_B)
    assert cache.clear() == 2
    assert cache.get(key) is None and cache.stats().entries == 0 and cache.stats().bytes == 0


def test_key_is_deterministic_and_sensitive_to_every_part(cache: ExpertCache, tmp_path: Path) -> None:
    base = {"image_sha256": SHA_A, "tool": "detect", "params": {"a": 1, "b": [1, 2]}, "identity": "m@1"}
    key = cache.key(**base)
    assert len(key) == 64 and int(key, 16) >= 0
    assert cache.key(**base) == key
    assert cache.key(**{**base, "params": {"b": [1, 2], "a": 1}}) == key  # dict order does not matter
    other = ExpertCache(tmp_path / "other.sqlite")
    assert other.key(**base) == key  # not tied to an instance or a file
    other.close()
    variants = [
        {"image_sha256": SHA_B}, {"tool": "caption"}, {"params": {"a": 2, "b": [1, 2]}},
        {"params": {"a": 1, "b": [2, 1]}}, {"params": {}}, {"identity": "m@2"},
    ]
    keys = {cache.key(**{**base, **change}) for change in variants}
    assert key not in keys and len(keys) == len(variants)


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    first = ExpertCache(path)
    key = first.key(image_sha256=SHA_A, tool="vqa", params={"q": "what?"}, identity="blip")
    first.put(key, {"answer": "a dog"}, tool="vqa", image_sha256=SHA_A)
    first.close()
    second = ExpertCache(path)
    assert second.get(key) == {"answer": "a dog"}
    assert second.stats() == CacheStats(entries=1, bytes=len('{"answer":"a dog"}'), hits=1, misses=0)
    second.close()
    assert second.get(key) == {"answer": "a dog"}  # usable again after close: reopens
    second.close()


def test_lru_eviction(tmp_path: Path) -> None:
    size = len(json.dumps({"v": "x" * 100}, separators=(",", ":")))
    cache = ExpertCache(tmp_path / "lru.sqlite", max_bytes=3 * size)
    for name in "abc":
        cache.put(name, {"v": name * 100}, tool="t", image_sha256=SHA_A)
        time.sleep(0.01)
    assert cache.stats().entries == 3
    assert cache.get("a") is not None  # "a" is now more recently used than "b"
    time.sleep(0.01)
    cache.put("d", {"v": "d" * 100}, tool="t", image_sha256=SHA_A)
    assert cache.get("b") is None
    assert [cache.get(k)["v"][0] for k in "acd"] == ["a", "c", "d"]
    time.sleep(0.01)
    cache.put("big", {"v": "e" * 200}, tool="t", image_sha256=SHA_A)  # needs two slots: evicts "a" and "c"
    assert cache.get("a") is None and cache.get("c") is None
    assert cache.get("d") is not None and cache.get("big") is not None
    assert cache.stats().bytes <= 3 * size
    cache.close()


def test_concurrent_threads(tmp_path: Path) -> None:
    path = str(tmp_path / "threads.sqlite")
    shared = ExpertCache(Path(path))  # one instance shared by all threads, as RunContext does
    problems: list[str] = []
    lock = threading.Lock()

    def work(writer: str) -> None:
        for i in range(40):
            for key in (f"own-{writer}-{i}", f"shared-{i % 10}"):
                shared.put(key, _value(key, writer), tool="detect", image_sha256=SHA_A)
                got = shared.get(key)
                if not _intact(got, key, writer if key.startswith("own") else None):
                    with lock:
                        problems.append(f"{writer}: {key} -> {got!r}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, [f"t{n}" for n in range(8)]))
        # plus separate instances on the same file from threads
        problems += sum(pool.map(_hammer, [path] * 4, [f"i{n}" for n in range(4)], [20] * 4, [10] * 4), [])
    assert problems == []
    for n in range(8):
        for i in range(40):
            assert _intact(shared.get(f"own-t{n}-{i}"), f"own-t{n}-{i}", f"t{n}")
    for i in range(10):
        assert _intact(shared.get(f"shared-{i}"), f"shared-{i}")
    assert shared.stats().entries == 8 * 40 + 4 * 20 + 10
    shared.close()


def test_concurrent_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "procs.sqlite")
    ExpertCache(Path(path)).close()
    writers = ["p0", "p1"]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        start_at = time.time() + 3.0
        futures = [pool.submit(_hammer, path, w, 150, 50, start_at) for w in writers]
        local = _hammer(path, "main", 150, 50, start_at)  # this process writes at the same time
        results = [f.result(timeout=300) for f in futures]
    assert local == [] and results == [[], []]
    cache = ExpertCache(Path(path))
    for writer in ("p0", "p1", "main"):
        for i in range(150):
            assert _intact(cache.get(f"own-{writer}-{i}"), f"own-{writer}-{i}", writer)
    for i in range(50):
        assert _intact(cache.get(f"shared-{i}"), f"shared-{i}")
    assert cache.stats().entries == 3 * 150 + 50
    cache.close()


def test_corrupt_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.sqlite"
    garbage = b"this is not a database\x00\xff" * 200
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="lavr.cache"):
        cache = ExpertCache(path)
    assert any("unreadable" in r.getMessage() for r in caplog.records if r.name == "lavr.cache")
    moved = list(tmp_path.glob("bad.sqlite.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == garbage
    cache.put("k", {"ok": True}, tool="t", image_sha256=SHA_A)
    assert cache.get("k") == {"ok": True}
    cache.close()
    reopened = ExpertCache(path)  # the new file is healthy: nothing more is moved aside
    assert reopened.get("k") == {"ok": True}
    assert len(list(tmp_path.glob("bad.sqlite.corrupt-*"))) == 1
    reopened.close()


def test_seed_jsonl(cache: ExpertCache, tmp_path: Path) -> None:
    good_full = {"image_sha256": SHA_A, "tool": "detect", "params": {"labels": ["dog"]}, "identity": "yolo@1",
                 "value": {"objects": [{"label": "dog"}]}}
    good_no_identity = {"image_sha256": SHA_B.upper(), "tool": "caption", "value": {"text": "a cat"}}
    lines = [
        json.dumps(good_full),                                              # 1 ok
        "",                                                                 # 2 blank: skipped
        "{not json",                                                        # 3
        json.dumps(good_no_identity),                                       # 4 ok via identity_for
        json.dumps([1, 2]),                                                 # 5 not an object
        json.dumps({**good_full, "image_sha256": "xyz"}),                   # 6 bad hash
        json.dumps({**good_full, "value": "text"}),                         # 7 value not an object
        json.dumps({**good_full, "params": [1]}),                           # 8 params not an object
        json.dumps({"image_sha256": SHA_A, "tool": "mystery", "value": {}}),  # 9 identity_for raises
        json.dumps({**good_full, "tool": ""}),                              # 10 empty tool
    ]
    seed = tmp_path / "experts.jsonl"
    seed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    identities = {"caption": "blip@2", "detect": "yolo@1"}
    report = seed_jsonl(cache, seed, identity_for=lambda tool: identities[tool])
    assert isinstance(report, SeedReport) and report.loaded == 2
    assert [e.split(":")[0] for e in report.errors] == [f"line {n}" for n in (3, 5, 6, 7, 8, 9, 10)]
    assert "image_sha256" in report.errors[2] and "mystery" in report.errors[5]
    key = cache.key(image_sha256=SHA_A, tool="detect", params={"labels": ["dog"]}, identity="yolo@1")
    assert cache.get(key) == good_full["value"]
    key = cache.key(image_sha256=SHA_B, tool="caption", params={}, identity="blip@2")
    assert cache.get(key) == {"text": "a cat"}

    # Without identity_for a line lacking "identity" is an error, the others still load.
    cache.clear()
    report = seed_jsonl(cache, seed)
    assert report.loaded == 1
    assert "line 4: identity missing" in " ".join(report.errors)


# Damage, bounds and shrinking (issue 9) ------------------------------------------------------------------------

def _populated(path: Path, n: int = 400) -> None:
    cache = ExpertCache(path)
    for i in range(n):
        cache.put(f"k{i}", {"i": i, "text": f"entry {i} " * 40}, tool="t", image_sha256=SHA_A)
    cache.close()
    conn = __import__("sqlite3").connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _smash_middle(path: Path, nbytes: int = 8192) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + nbytes] = bytes((i * 37 + 11) % 256 for i in range(nbytes))
    path.write_bytes(bytes(data))


def test_corrupted_interior_pages_are_set_aside_on_open(tmp_path: Path) -> None:
    path = tmp_path / "experts.sqlite"
    _populated(path)
    assert path.stat().st_size > 64 * 1024
    _smash_middle(path)
    cache = ExpertCache(path)  # PRAGMA quick_check finds the damage: the file is moved aside, a fresh one starts
    assert 0 < cache.stats().entries == cache.recovered <= 400  # with the entries that could still be read
    assert len(list(tmp_path.glob("experts.sqlite.corrupt-*[0-9]"))) == 1
    cache.put("k", {"v": 1}, tool="t", image_sha256=SHA_A)
    assert cache.get("k") == {"v": 1}


def test_damage_found_after_open_is_recovered_on_the_first_malformed_error(tmp_path: Path) -> None:
    path = tmp_path / "experts.sqlite"
    _populated(path)
    cache = ExpertCache(path)
    assert cache.stats().entries == 400
    cache.close()  # the next call reconnects, without the open-time check
    _smash_middle(path)
    entries = cache.stats().entries  # "database disk image is malformed" -> set aside, fresh file, retried
    assert 0 < entries == cache.recovered <= 400  # ... holding what could still be read
    assert len(list(tmp_path.glob("experts.sqlite.corrupt-*[0-9]"))) == 1
    cache.put("k", {"v": 2}, tool="t", image_sha256=SHA_A)
    assert cache.get("k") == {"v": 2}


def test_one_oversize_entry_is_refused_and_keeps_the_rest(tmp_path: Path) -> None:
    from lavr.cache import EntryTooLarge

    cache = ExpertCache(tmp_path / "c.sqlite", max_bytes=2000)
    for name in "abc":
        cache.put(name, {"v": name * 100}, tool="t", image_sha256=SHA_A)
    with pytest.raises(EntryTooLarge, match="larger than the whole cache bound"):
        cache.put("huge", {"v": "x" * 5000}, tool="t", image_sha256=SHA_A)
    assert cache.stats().entries == 3 and cache.get("huge") is None
    assert [cache.get(k)["v"][0] for k in "abc"] == ["a", "b", "c"]


def test_a_bound_below_one_byte_is_refused(tmp_path: Path) -> None:
    from lavr.errors import InputError, SettingsError
    from lavr.settings import Settings

    for bound in (0, -1):
        with pytest.raises(InputError, match="at least 1 byte"):
            ExpertCache(tmp_path / "c.sqlite", max_bytes=bound)
        with pytest.raises(SettingsError, match="cache_max_bytes"):
            Settings(cache_max_bytes=bound)


def test_the_file_shrinks_after_eviction_and_clear(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ExpertCache(path, max_bytes=10_000_000)
    for i in range(300):
        cache.put(f"k{i}", {"blob": "z" * 4000, "i": i}, tool="t", image_sha256=SHA_A)
    cache._shrink(min_free_pages=0)  # checkpoint: the high-water mark is in the main file
    high = path.stat().st_size
    assert high > 1_000_000
    cache.max_bytes = 100_000  # a smaller bound: the next write evicts most entries
    cache.put("last", {"blob": "y" * 4000}, tool="t", image_sha256=SHA_A)
    after_eviction = path.stat().st_size
    assert cache.stats().bytes <= 100_000 and after_eviction < high / 3
    cache.clear()
    assert path.stat().st_size < after_eviction


def test_seed_report_counts_what_the_bound_evicted_again(tmp_path: Path) -> None:
    lines = [json.dumps({"image_sha256": SHA_A, "tool": "t", "params": {"i": i}, "identity": "m",
                         "value": {"blob": "q" * 900}}) for i in range(30)]
    (tmp_path / "seed.jsonl").write_text("\n".join(lines) + "\n")
    cache = ExpertCache(tmp_path / "c.sqlite", max_bytes=10_000)  # room for ~10 of the 30 entries
    report = seed_jsonl(cache, tmp_path / "seed.jsonl")
    assert report.loaded == 30 and report.evicted == 30 - cache.stats().entries and report.evicted >= 19


def test_memo_stores_the_identity_column(tmp_path: Path, settings) -> None:
    import sqlite3

    from PIL import Image
    from pydantic import BaseModel

    from lavr.tools.base import RunContext

    class Out(BaseModel):
        n: int

    cache = ExpertCache(tmp_path / "c.sqlite")
    ctx = RunContext(settings, cache=cache)
    stored = ctx.images.add(Image.new("RGB", (16, 16)))
    ctx.memo(tool="t", image=stored, params={}, identity="model-v7", model=Out, compute=lambda: Out(n=1))
    rows = sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT tool, identity FROM entries").fetchall()
    assert rows == [("t", "model-v7")]
