"""Evaluating one image group (the questions about one image, sharing one image store and the agent's cache):
the part of an evaluation that runs in a worker, a thread here or a Ray actor (``ray_executor``)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from ..images import ImageStore
from ..tools import RunContext
from ..trace import ToolStep
from .dataset import EvalRow
from .metrics import METRICS
from .precomputed import ScratchCache, seed_row
from .spec import agent_mode

logger = logging.getLogger(__name__)

OnRecord = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class GroupOptions:
    """Per-run options every worker needs (picklable)."""

    metric: str
    seed: int
    root: Path
    allowed_roots: tuple[Path, ...] = field(default_factory=tuple)


def seed_everything(seed: int) -> None:
    """Seed ``random``, ``numpy`` and (when installed) ``torch``."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)


def _display_path(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def base_record(row: EvalRow, opts: GroupOptions) -> dict[str, Any]:
    """The record of a row before it runs: what the dataset says, with empty outcome fields."""
    return {
        "id": row.id, "image": _display_path(row.image, opts.root), "question": row.question,
        **({"images": [_display_path(p, opts.root) for p in row.images]} if row.images else {}),
        "question_type": row.question_type, "prediction": None, "raw_answer": None, "answers": row.answers,
        "choices": row.choices, "score": None, "metric": opts.metric, "error": row.error,
        "error_kind": row.error_kind, "seconds": 0.0, "usage": None, "tools": [], "steps": 0, "retries": 0,
        "finished": None, "mode": None, "llm": None, "seed": opts.seed,
        # Where the image was read from, so that a report of this file finds it from any working folder.
        "image_path": str(row.image.resolve()) if row.image is not None else None,
        "trace": [],
    }


def score(metric: str, prediction: str, row: EvalRow) -> float:
    """Score a prediction with a metric of ``METRICS``; ``multiple_choice`` uses the row's choices."""
    fn = METRICS[metric]
    if metric == "multiple_choice":
        return float(fn(prediction, row.answers, choices=row.choices or []))
    return float(fn(prediction, [str(a) for a in row.answers]))


def _fail(record: dict[str, Any], kind: str, message: str) -> dict[str, Any]:
    record.update(error=message or kind, error_kind=kind, score=None)
    return record


def evaluate_row(agent: Any, store: ImageStore, image_id: str | list[str], row: EvalRow, opts: GroupOptions,
                 scratch: ScratchCache | None = None) -> dict[str, Any]:
    """Ask one question about already stored images (the question's image, or all of a several-image row's in
    order) and score the answer; failures become error records."""
    record = base_record(row, opts)
    record.update(mode=agent_mode(agent), llm=getattr(getattr(agent, "backend", None), "name", None))
    if opts.metric == "multiple_choice" and not row.choices:
        return _fail(record, "dataset:missing_choices", "the multiple_choice metric needs the row's choices")
    start = time.perf_counter()
    try:
        cache = agent.cache
        if (row.precomputed or any(row.image_precomputed)) and cache is None:
            if scratch is None:
                raise InputError("precomputed outputs need the expert cache or a scratch cache")
            cache = scratch.get()
        ctx = RunContext(agent.settings, images=store, cache=cache)
        ids = image_id if isinstance(image_id, list) else [image_id]
        outputs = row.image_precomputed if row.images else [row.precomputed]
        for one, precomputed in zip(ids, outputs):
            if precomputed:
                seed_row(cache, agent.registry, store.get(one), precomputed, agent.settings)
        focus = ids[row.images.index(row.image)] if row.images and row.image in row.images else ids[-1]
        answer = agent.ask([focus, *[i for i in ids if i != focus]] if len(ids) > 1 else focus, row.question,
                           context=ctx)
    except Exception as exc:  # noqa: BLE001 - one row's failure must not end the run
        logger.warning("row %s failed: %s: %s", row.id, type(exc).__name__, exc)
        record["seconds"] = round(time.perf_counter() - start, 4)
        return _fail(record, f"run:{type(exc).__name__}", str(exc))
    record.update(
        seconds=round(time.perf_counter() - start, 4), raw_answer=answer.answer,
        prediction=answer.answer, usage=answer.usage.model_dump(),
        tools=[s.tool for s in answer.steps if isinstance(s, ToolStep)], steps=len(answer.steps),
        retries=answer.retries, finished=answer.finished, llm=answer.llm,
        trace=[step.model_dump(mode="json", exclude_none=True) for step in answer.steps],
    )
    try:
        record["score"] = score(opts.metric, record["prediction"], row)
    except (ValueError, TypeError, IndexError) as exc:
        _fail(record, f"score:{type(exc).__name__}", str(exc))
    return record


def evaluate_group(agent: Any, rows: list[EvalRow], opts: GroupOptions, on_record: OnRecord,
                   scratch: ScratchCache | None = None) -> None:
    """Run every row of one image group with ``agent``, calling ``on_record`` with each result as it is ready.

    Args:
        agent: The agent (``Agent`` or a subclass).
        rows: Good rows that share one image.
        opts: Metric, seed and the folders images may come from.
        on_record: Receives each result record.
        scratch: Holds precomputed outputs when the agent has no cache; a private one is used when omitted.
    """
    if scratch is None:
        owned = ScratchCache()
        try:
            return evaluate_group(agent, rows, opts, on_record, owned)
        finally:
            owned.close()
    settings = agent.settings
    # One rule for every image read: confined to the allowed roots when there are any (the run's, else the
    # agent's settings'), else any readable file the dataset names. The dataset's own folder is not special.
    store = ImageStore(max_pixels=settings.max_image_pixels, work_side=settings.work_image_side,
                       allowed_roots=list(opts.allowed_roots or settings.allowed_roots))
    try:
        # a valid row (the loader's error rows never get here) has its image, its last one when it has several
        stored = [store.add(path).id for path in (rows[0].images or [cast(Path, rows[0].image)])]
    except Exception as exc:  # noqa: BLE001 - an unreadable image fails its rows, not the run
        for row in rows:
            record = base_record(row, opts)
            record["mode"] = agent_mode(agent)
            on_record(_fail(record, f"run:{type(exc).__name__}", str(exc)))
        return
    for row in rows:
        on_record(evaluate_row(agent, store, stored if rows[0].images else stored[0], row, opts, scratch))


