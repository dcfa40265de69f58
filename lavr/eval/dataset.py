"""Evaluation datasets: JSONL or CSV rows ``{id, image, question, answers}``.

Row format
----------
JSONL, one object per line (blank lines are skipped)::

    {"id": "bus-count", "image": "images/bus.jpg", "question": "How many people are in this photo?",
     "answers": ["4", "4", "four", ...], "question_type": "count"}

CSV with a header row and the same column names. In CSV, ``answers`` and ``choices`` are either ``a|b|c`` or a
JSON list (``["a", "b"]``) and ``precomputed`` is a JSON object.

Fields:

- ``id`` (required): a string (numbers are turned into strings); unique within the file; must not start with
  ``@`` (reserved for error rows).
- ``images`` (optional): several images for one question, in order (the first image first), each a path or
  ``{"image": path, "precomputed": {...}}``; the question is about the last one unless it names another
  ("the first image"). ``image`` may then be left out.
- ``image`` (required unless ``images``): a path relative to the dataset file's folder, or an absolute path. Without
  ``allowed_roots`` any readable file may be named (the dataset is the user's own input); with them, the
  resolved file must lie inside one of them (the dataset's folder is not allowed unless it is inside a root);
  symbolic links are resolved first, so a link pointing outside is refused.
- ``question`` (required): non-empty text.
- ``answers`` (required): a non-empty list of acceptable / human answers (VQA: usually 10). A single string or
  number counts as a one-answer list. For ``multiple_choice`` the first item is the correct option: its text,
  its letter (``"B"``) or its 0-based index (a JSON number).
- ``choices`` (optional): the options of a multiple-choice question, in order.
- ``question_type`` or ``answer_type`` (optional): a group name for per-type accuracy in the report.
- ``precomputed`` (optional): expert outputs to seed the cache with before the row runs, so only the LLM stage
  runs (see ``lavr.eval.precomputed``): an object of tool name -> the tool's cached value, e.g.
  ``{"detect": {"detections": [{"label": "circle", "box": [0.1, 0.2, 0.3, 0.4], "attributes": {"color": "red"}}],
  "labels": ["circle", "square"]}}`` (a ``RawDetections``), or the long form
  ``{"detect": {"value": {...}, "params": {"conf": 0.1}}}``.

Bad rows never stop loading: a malformed line, a missing id/question/image, an empty answer list, an image
outside the allowed folders or a duplicated id each become an error row (``EvalRow.error`` holds the reason).
An error row's ``id`` is ``"@line<N>:<given id>"`` (or ``"@line<N>"`` without one): good ids cannot start with
``@`` and line numbers are unique, so an error row's id never clashes with a good row's or another error row's
id in a results file (a clash would miscount the report, and resume would drop one of the two records).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import ImageError, InputError
from ..images import check_allowed
from ..jsonl import json_lines

logger = logging.getLogger(__name__)

__all__ = ["EvalDataset", "EvalRow", "load_dataset"]

_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)


class EvalRow(BaseModel):
    """One question of a dataset, or an error row (``error`` set) that the loader could not use."""

    id: str
    line: int = Field(description="1-based line (JSONL) or record line (CSV) in the dataset file.")
    image: Path | None = None
    images: list[Path] = Field(default_factory=list, description="All images of a several-image question, in order.")
    image_precomputed: list[dict[str, dict[str, Any]]] = Field(
        default_factory=list, description="Each of ``images``' precomputed outputs (aligned with ``images``).")
    question: str = ""
    answers: list[str | int] = Field(default_factory=list)
    choices: list[str] | None = None
    question_type: str | None = None
    precomputed: dict[str, dict[str, Any]] = Field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = Field(None, description="Short category of ``error``, e.g. 'dataset:missing_image'.")

    @property
    def ok(self) -> bool:
        return self.error is None


class EvalDataset(BaseModel):
    """A loaded dataset: every row in file order, error rows included."""

    path: Path
    root: Path = Field(description="The dataset file's folder; relative image paths start here.")
    allowed_roots: list[Path] = Field(default_factory=list, description="Other folders images may come from.")
    rows: list[EvalRow]

    @property
    def valid(self) -> list[EvalRow]:
        return [r for r in self.rows if r.ok]

    @property
    def invalid(self) -> list[EvalRow]:
        return [r for r in self.rows if not r.ok]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[EvalRow]:  # type: ignore[override]
        return iter(self.rows)


class _RowError(ValueError):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


def _as_list(value: Any, *, name: str, csv_mode: bool) -> list[Any] | None:
    """A list from a JSON list, a CSV cell (``a|b`` or a JSON list) or a scalar; None when absent."""
    if value is None or (isinstance(value, str) and not value.strip() and csv_mode):
        return None
    if isinstance(value, str) and csv_mode:
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _RowError("dataset:bad_field", f"{name}: invalid JSON list ({exc.msg})") from None
            except RecursionError:
                raise _RowError("dataset:bad_field", f"{name}: invalid JSON list (nested too deeply)") from None
        else:
            return [part.strip() for part in text.split("|")]
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise _RowError("dataset:bad_field", f"{name}: items must be strings or numbers")
        return value
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    raise _RowError("dataset:bad_field", f"{name}: expected a list")


def _answers(value: Any, *, csv_mode: bool) -> list[str | int]:
    items = _as_list(value, name="answers", csv_mode=csv_mode)
    if items is None:
        raise _RowError("dataset:missing_answers", "missing answers")
    answers: list[str | int] = [a if isinstance(a, int) else str(a).strip() for a in items]
    answers = [a for a in answers if not (isinstance(a, str) and not a)]
    if not answers:
        raise _RowError("dataset:empty_answers", "empty answers list")
    return answers


def _precomputed(value: Any, *, csv_mode: bool) -> dict[str, dict[str, Any]]:
    if value is None or (csv_mode and isinstance(value, str) and not value.strip()):
        return {}
    if csv_mode and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _RowError("dataset:bad_field", f"precomputed: invalid JSON ({exc.msg})") from None
        except RecursionError:
            raise _RowError("dataset:bad_field", "precomputed: invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
        raise _RowError("dataset:bad_field", "precomputed must be an object of tool name -> output object")
    return value


ERROR_ID_PREFIX = "@"


def _image_path(value: Any, root: Path, allowed_roots: list[Path]) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _RowError("dataset:missing_image", "missing image")
    path = Path(value.strip()).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        check_allowed(path, allowed_roots)
    except ImageError:
        raise _RowError("dataset:image_outside_roots",
                        f"image {value!r} is outside the allowed roots (LAVR_ALLOWED_ROOTS: "
                        f"{', '.join(str(r) for r in allowed_roots)})") from None
    if not path.is_file():
        raise _RowError("dataset:missing_image", f"image not found: {value}")
    return path


def _images(value: Any, root: Path, allowed_roots: list[Path], *,
            csv_mode: bool) -> tuple[list[Path], list[dict[str, dict[str, Any]]]]:
    """A several-image row's images and their precomputed outputs; none for a one-image row."""
    if value in (None, ""):
        return [], []
    if isinstance(value, str) and csv_mode:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _RowError("dataset:bad_field", f"images: invalid JSON list ({exc.msg})") from None
    if not isinstance(value, list) or not value or len(value) > 8:
        raise _RowError("dataset:bad_field", "images: expected a list of 1 to 8 images")
    paths, outputs = [], []
    for item in value:
        entry = item if isinstance(item, dict) else {"image": item}
        paths.append(_image_path(entry.get("image"), root, allowed_roots))
        outputs.append(_precomputed(entry.get("precomputed"), csv_mode=False))
    return paths, outputs


def _parse_row(raw: dict[str, Any], *, line: int, root: Path, allowed_roots: list[Path], csv_mode: bool) -> EvalRow:
    """Validate one record; raises ``_RowError`` on the first problem."""
    rid = raw.get("id")
    if rid is None or isinstance(rid, bool) or not str(rid).strip():
        raise _RowError("dataset:missing_id", "missing id")
    if str(rid).strip().startswith(ERROR_ID_PREFIX):
        raise _RowError("dataset:bad_id", f"id {str(rid).strip()!r} starts with {ERROR_ID_PREFIX!r}, which marks "
                        "error rows")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _RowError("dataset:missing_question", "missing question")
    images, image_precomputed = _images(raw.get("images"), root, allowed_roots, csv_mode=csv_mode)
    if images and raw.get("image") in (None, ""):
        image = images[-1]
    else:
        image = _image_path(raw.get("image"), root, allowed_roots)
    if images and image not in images:
        raise _RowError("dataset:bad_field", "images: the row's image must be one of its images")
    answers = _answers(raw.get("answers"), csv_mode=csv_mode)
    choices = _as_list(raw.get("choices"), name="choices", csv_mode=csv_mode)
    qtype = raw.get("question_type") or raw.get("answer_type")
    return EvalRow(
        id=str(rid).strip(), line=line, image=image, images=images, image_precomputed=image_precomputed,
        question=question.strip(), answers=answers,
        choices=[str(c) for c in choices] if choices else None,
        question_type=str(qtype).strip() if qtype not in (None, "") else None,
        precomputed=_precomputed(raw.get("precomputed"), csv_mode=csv_mode),
    )


def _error_row(raw_id: Any, line: int, kind: str, reason: str, question: Any = None) -> EvalRow:
    given = str(raw_id).strip() if raw_id is not None and not isinstance(raw_id, (dict, list)) else ""
    suffix = f":{given}" if given else ""
    return EvalRow(id=f"{ERROR_ID_PREFIX}line{line}{suffix}", line=line,
                   question=question if isinstance(question, str) else "", error=reason, error_kind=kind)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, bool]]:
    """Yield ``(line, record or None, parse error or None, csv_mode)`` for every non-blank record."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        for line in json_lines(path, what="dataset file"):  # a line not UTF-8, not JSON or too deep: an error row
            if line.problem is not None:
                yield line.number, None, f"malformed line: {line.problem}", False
            elif not isinstance(line.value, dict):
                yield line.number, None, "malformed line: not a JSON object", False
            else:
                yield line.number, line.value, None, False
    elif suffix in CSV_SUFFIXES:
        # Bytes that are not UTF-8 are kept as surrogates, so the record they are in becomes an error row.
        with path.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.DictReader(fh)
            for record in reader:
                if None in record:  # more cells than header columns
                    yield reader.line_num, None, "malformed line: more cells than columns", True
                    continue
                if any(_NOT_UTF8.search(v or "") for v in list(record.values()) + list(record)):
                    yield reader.line_num, None, "malformed line: not UTF-8 text", True
                    continue
                if not any((v or "").strip() for v in record.values()):
                    continue
                yield reader.line_num, dict(record), None, True
    else:
        raise InputError(f"{path}: unknown dataset format (use .jsonl or .csv)")


def load_dataset(path: Path | str, *, allowed_roots: list[Path] | None = None, limit: int | None = None
                 ) -> EvalDataset:
    """Load a JSONL or CSV dataset (format in the module docstring); bad rows become error rows.

    Args:
        path: The ``.jsonl``/``.ndjson`` or ``.csv`` file.
        allowed_roots: The folders images must come from; empty or None: any readable file.
        limit: Keep only the first ``limit`` rows (error rows included).

    Returns:
        The dataset, rows in file order.

    Raises:
        InputError: The file does not exist or has an unknown extension.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such dataset file")
    root = path.resolve().parent
    roots = [Path(r).expanduser().resolve() for r in (allowed_roots or [])]
    rows: list[EvalRow] = []
    first_line: dict[str, int] = {}
    for line, raw, problem, csv_mode in _records(path):
        if limit is not None and len(rows) >= limit:
            break
        if raw is None:
            rows.append(_error_row(None, line, "dataset:malformed_line", problem or "malformed line"))
            continue
        try:
            row = _parse_row(raw, line=line, root=root, allowed_roots=roots, csv_mode=csv_mode)
        except _RowError as exc:
            rows.append(_error_row(raw.get("id"), line, exc.kind, str(exc), raw.get("question")))
            continue
        if row.id in first_line:
            rows.append(_error_row(row.id, line, "dataset:duplicate_id",
                                   f"duplicated id {row.id!r} (first on line {first_line[row.id]})", row.question))
            continue
        first_line[row.id] = line
        rows.append(row)
    bad = sum(1 for r in rows if not r.ok)
    if bad:
        logger.warning("%s: %d of %d rows are unusable (see the error rows)", path, bad, len(rows))
    return EvalDataset(path=path, root=root, allowed_roots=roots, rows=rows)
