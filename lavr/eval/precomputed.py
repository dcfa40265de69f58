"""Seed a run's expert cache with a dataset row's ``precomputed`` outputs, so only the LLM stage runs.

A row's ``precomputed`` is an object of tool name -> entry. An entry is either the value itself (the tool's
cached output as JSON, e.g. a ``RawDetections`` dump for ``detect``) or the long form
``{"value": {...}, "params": {...}, "identity": "..."}``. Missing ``params`` default to the parameters the tool
passes to the cache for a default call (``DEFAULT_PARAMS``; ``detect`` caches one prediction at
``conf=min(0.1, settings.detector_confidence)``), a missing ``identity`` to the tool's ``identity()``. The image
hash is that of the decoded image (``StoredImage.sha256``), computed here, so rows never state it.

A ``detect`` value (validated by ``RawDetections`` before it is stored, so a bad one is refused with its reason)::

    {"detections": [{"label": "circle", "box": [0.1, 0.2, 0.3, 0.4], "confidence": 1.0,
                     "attributes": {"color": "red", "size": "large", "material": "metal"}}, ...],
     "labels": ["circle", "square", "triangle"]}

``box`` follows the box convention (``[x1, y1, x2, y2]`` normalised, origin top-left; the ``{"x1": ...}`` form
works too); ``confidence`` defaults to 1.0 and ``attributes`` to none. ``labels`` (optional) declares what the
source could have found: the known labels are the detections' own labels plus the declared ones, so
``detect(classes=[...])`` answers any of them (a declared label that was not found counts 0). Attributes reach
the scene graph's nodes unchanged (its own size/position/color fill only the attributes not given).

Whole files of precomputed outputs (``lavr cache seed``, ``seed_file``) may also give entries keyed by image
hash, one JSON object per line (``seed_jsonl`` reads a file of only these)::

    {"image_sha256": "<64 hex>", "tool": "detect", "params": {...}, "identity": "<model identity>", "value": {...}}

- ``image_sha256``: lavr's content hash of the image (``StoredImage.sha256``, see ``lavr.images.content_hash``),
  which hashes the decoded pixels, not the file bytes.
- ``tool``: the tool name as registered.
- ``params``: the parameters exactly as the tool passes them to the cache (optional, default ``{}``).
- ``identity``: the model identity string of the tool; may be omitted when ``identity_for(tool)`` supplies it.
- ``value``: the tool's cached value as JSON (validated with the tool's cache model, ``normalise_value``, so a
  malformed one is reported instead of being silently recomputed later).

Blank lines are skipped. A malformed line is recorded in ``SeedReport.errors`` as ``"line N: reason"`` and
seeding goes on with the next line.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import InputError, LavrError
from ..images import StoredImage
from ..jsonl import json_lines
from ..settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["CACHE_MODELS", "DEFAULT_PARAMS", "ScratchCache", "SeedReport", "normalise_value", "parse_seed_line",
           "seed_file", "seed_jsonl", "seed_row"]

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class SeedReport(BaseModel):
    """Outcome of seeding: entries stored, how many of those the size bound evicted again before seeding
    ended, and one ``"line N: reason"`` per line that was skipped (too large for the bound included)."""

    loaded: int = 0
    evicted: int = 0
    errors: list[str] = []


def parse_seed_line(line: str, identity_for: Callable[[str], str] | None) -> dict[str, Any]:
    """Validate one line of the hash-keyed form; raises ValueError with a short reason."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    sha, tool, params = obj.get("image_sha256"), obj.get("tool"), obj.get("params", {})
    if not (isinstance(sha, str) and _SHA256.match(sha)):
        raise ValueError("image_sha256 must be 64 hex digits")
    if not (isinstance(tool, str) and tool):
        raise ValueError("tool must be a non-empty string")
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    if not isinstance(obj.get("value"), dict):
        raise ValueError("value must be an object")
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


def put_record(cache: Any, record: dict[str, Any]) -> str:
    """Store one parsed record (``parse_seed_line``'s result) in ``cache``; returns its key."""
    key = cache.key(image_sha256=record["image_sha256"], tool=record["tool"], params=record["params"],
                    identity=record["identity"])
    cache.put(key, record["value"], tool=record["tool"], image_sha256=record["image_sha256"],
              identity=record["identity"])
    return key


def seed_jsonl(cache: Any, path: Path, *, identity_for: Callable[[str], str] | None = None,
               normalise: Callable[[str, dict], dict] | None = None) -> SeedReport:
    """Load a JSONL file of hash-keyed entries (the module docstring's form) into ``cache``.

    Args:
        cache: an ``ExpertCache``.
        path: The JSONL file.
        identity_for: Gives the model identity for a tool name when a line has no ``identity``.
        normalise: ``(tool, value) -> value`` validating a value before it is stored; raises ValueError (or a
            ``LavrError``) to skip the line (``normalise_value`` does it per tool).

    Returns:
        How many entries were loaded and the errors of the lines that were skipped.
    """
    report = SeedReport()
    keys: list[str] = []
    for entry in json_lines(path, what="JSONL file of precomputed outputs"):
        if entry.problem is not None:
            report.errors.append(f"line {entry.number}: {entry.problem}")
            continue
        try:
            record = parse_seed_line(entry.text, identity_for)
            if normalise is not None:
                record["value"] = normalise(record["tool"], record["value"])
            keys.append(put_record(cache, record))
        except (ValueError, LavrError) as exc:  # EntryTooLarge is a ValueError
            report.errors.append(f"line {entry.number}: {exc}")
            continue
        report.loaded += 1
    report.evicted = cache.count_missing(keys)
    return report


def _detect_params(settings: Settings) -> dict[str, Any]:
    from ..tools import detect

    floor = getattr(detect, "PREDICT_CONF", 0.1)
    threshold = settings.detector_confidence
    return {"conf": floor if threshold is None else min(floor, threshold)}


DEFAULT_PARAMS: dict[str, Callable[[Settings], dict[str, Any]]] = {"detect": _detect_params}


def _detect_model() -> type[BaseModel]:
    from ..tools.detect import RawDetections

    return RawDetections


# The model each tool validates its cached value with. A seeded value is validated (and stored in its canonical
# form) here, so a malformed one is refused with its reason instead of failing validation at lookup time, where
# the tool would silently recompute it with its own model and overwrite it.
CACHE_MODELS: dict[str, Callable[[], type[BaseModel]]] = {"detect": _detect_model}
# What a precomputed result says it came from, when it does not say.
PRECOMPUTED_SOURCE = "precomputed"


def normalise_value(tool: str, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` validated by ``tool``'s cache model and dumped canonically (unchanged for other tools).

    For ``detect`` this accepts boxes as ``[x1, y1, x2, y2]``, a missing confidence (1.0), attribute values that
    are numbers, and a missing ``labels`` (the detections' own labels are always known).

    Raises:
        InputError: The value does not fit the tool's cache model.
    """
    loader = CACHE_MODELS.get(tool)
    if loader is None:
        return value
    from ..tools.registry import format_validation_error

    try:
        model = loader().model_validate(value)
    except ValidationError as exc:
        raise InputError(f"precomputed {tool}: {format_validation_error(exc)}") from None
    dumped = model.model_dump(mode="json")
    if "model" in dumped and not dumped["model"]:
        dumped["model"] = PRECOMPUTED_SOURCE
    return dumped


def _entry(tool: str, entry: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """``(value, params, identity or None)`` of one precomputed entry."""
    if "value" in entry and set(entry) <= {"value", "params", "identity"}:
        value, params, identity = entry["value"], entry.get("params"), entry.get("identity")
    else:
        value, params, identity = entry, None, None
    if not isinstance(value, dict):
        raise InputError(f"precomputed {tool}: the value must be an object")
    if params is None:
        params = DEFAULT_PARAMS.get(tool, lambda _s: {})(settings)
    if not isinstance(params, dict):
        raise InputError(f"precomputed {tool}: params must be an object")
    return normalise_value(tool, value), params, identity


def seed_row(cache: Any, registry: Any, image: StoredImage, precomputed: dict[str, dict[str, Any]],
             settings: Settings) -> list[str]:
    """Put a row's precomputed outputs into ``cache`` for ``image``.

    Args:
        cache: An ``ExpertCache``.
        registry: The agent's ``ToolRegistry`` (for tool identities).
        image: The stored image the question is about.
        precomputed: Tool name -> entry (format in the module docstring).
        settings: The agent's settings (default parameters depend on them).

    Returns:
        The cache keys of the entries stored, in order.

    Raises:
        InputError: An entry names an unknown tool or is malformed.
        EntryTooLarge: An entry is larger than the cache's whole size bound (entries before it are stored).
    """
    stored: list[str] = []
    for tool, entry in precomputed.items():
        if tool not in registry:
            raise InputError(f"precomputed output for unknown tool {tool!r}; tools: {', '.join(registry.names())}")
        value, params, identity = _entry(tool, entry, settings)
        identity = identity or registry.get(tool).identity()
        key = cache.key(image_sha256=image.sha256, tool=tool, params=params, identity=identity)
        cache.put(key, value, tool=tool, image_sha256=image.sha256, identity=identity)
        stored.append(key)
    return stored


class ScratchCache:
    """A throw-away ``ExpertCache`` in a temporary folder, opened on first use: it holds precomputed outputs
    when the agent runs without the on-disk cache (``--no-cache``)."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._cache: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._cache is None:
                from ..cache import ExpertCache

                self._dir = tempfile.TemporaryDirectory(prefix="lavr-eval-")
                self._cache = ExpertCache(Path(self._dir.name) / "precomputed.sqlite")
            return self._cache

    def close(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
            if self._dir is not None:
                self._dir.cleanup()
            self._cache = self._dir = None


def seed_file(path: Path, cache: Any, registry: Any, settings: Settings) -> Any:
    """Seed ``cache`` from a JSONL file mixing two line forms, and report what was loaded.

    - ``{"image": "photo.jpg", "precomputed": {"detect": {...}}}``: an image path (relative to the file's folder)
      and tool entries as in a dataset row; lavr computes the image hash.
    - ``{"image_sha256": ..., "tool": ..., "params": ..., "identity": ..., "value": ...}``: the low-level form of
      ``seed_jsonl`` (``identity`` defaults to the tool's).

    A bad line is reported as ``"line N: reason"`` and seeding goes on; so is an entry larger than the cache's
    whole bound. With ``settings.allowed_roots`` set, image paths outside them are refused like any other image
    read (without saying whether the file exists). ``SeedReport.evicted`` counts the stored entries that the
    cache's size bound evicted again before seeding ended, so a report never claims entries the cache lost.
    """
    from ..images import content_hash, load_image

    report = SeedReport()
    keys: list[str] = []
    folder = Path(path).parent
    identity_for = (lambda tool: registry.get(tool).identity()) if registry is not None else None
    for entry in json_lines(path, what="JSONL file of precomputed outputs"):
        number, line, obj = entry.number, entry.text, entry.value
        if entry.problem is not None:  # not UTF-8, not JSON, too deep or too long: reported, and seeding goes on
            report.errors.append(f"line {number}: {entry.problem}")
            continue
        try:
            if isinstance(obj, dict) and "image" in obj:
                if not isinstance(obj.get("precomputed"), dict):
                    raise ValueError("'precomputed' must be an object of tool name -> output")
                pil, name = load_image(folder / str(obj["image"]), max_pixels=settings.max_image_pixels,
                                       work_side=settings.work_image_side, allowed_roots=settings.allowed_roots)
                image = StoredImage(id="img_0", pil=pil, sha256=content_hash(pil), source=name)
                row_keys = seed_row(cache, registry, image, obj["precomputed"], settings)
                keys += row_keys
                report.loaded += len(row_keys)
                continue
            record = parse_seed_line(line, identity_for)
            record["value"] = normalise_value(record["tool"], record["value"])
            keys.append(put_record(cache, record))
        except (ValueError, LavrError) as exc:  # EntryTooLarge is a ValueError
            report.errors.append(f"line {number}: {exc}")
            continue
        report.loaded += 1
    report.evicted = cache.count_missing(keys)
    return report
