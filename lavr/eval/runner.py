"""Run an agent over a dataset and write one result line per row: ``run_eval``.

Behaviour:

- **Results file**: one JSON line per row (keys in ``lavr.eval.results``), appended and flushed as each row
  finishes, so a killed run leaves a valid file. Lines are in completion order, not dataset order.
- **Resume** (default): ids already in the file are skipped. Rows recorded with an error are skipped too,
  unless ``retry_errors`` is set, then they run again. On start the file is rewritten without torn lines (and
  without the error records about to be retried), so appending never glues onto half a line.
  ``resume=False`` starts the file afresh.
- **Errors**: a row that fails (bad dataset row, unreadable image, LLM failure, ...) is written with ``error``
  and ``error_kind`` and no score; the run goes on.
- **Batching by image**: rows are grouped by image; a group runs consecutively in one worker, which decodes and
  hashes the image once and shares the image store across the group's questions. Each question still gets its
  own ``RunContext`` (fresh object ids), so an answer never depends on which questions ran before it; repeated
  expert calls on the image are served by the on-disk expert cache.
- **Concurrency**: ``executor="local"`` runs ``concurrency`` image groups at once in a thread pool, all sharing
  one agent (useful with remote LLMs; the embedded llama.cpp model serialises its calls anyway).
  ``executor="ray"`` runs groups on Ray actors (see ``lavr.eval.ray_executor``).
- **Seeds**: ``random``, ``numpy`` and ``torch`` are seeded with ``seed``; an ``AgentSpec`` also gets
  ``settings.llm_seed = seed`` (a plain factory is responsible for its own LLM seed).
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import InputError
from ..images import ImageStore
from ..tools import RunContext
from ..trace import ToolStep
from .dataset import EvalDataset, EvalRow, load_dataset
from .metrics import METRICS
from .precomputed import ScratchCache, seed_row
from .report import EvalReport, build_report, summary_line
from .results import ResultsLock, ResultsWriter, read_results, rewrite_results
from .spec import AgentSpec, agent_mode

logger = logging.getLogger(__name__)

__all__ = ["EvalSummary", "GroupOptions", "evaluate_group", "group_by_image", "run_eval", "seed_everything"]

Executor = Literal["local", "ray"]
OnRecord = Callable[[dict[str, Any]], None]


class EvalSummary(BaseModel):
    """What ``run_eval`` did, and the report over the dataset's rows in the results file."""

    out: Path
    metric: str
    seed: int
    executor: str
    rows: int
    ran: int
    skipped: int
    seconds: float
    report: EvalReport

    @property
    def accuracy(self) -> float | None:
        return self.report.accuracy

    @property
    def scored(self) -> int:
        return self.report.scored

    @property
    def errors(self) -> int:
        return self.report.errors

    def line(self) -> str:
        """``accuracy: X.XXX (N questions)``."""
        return summary_line(self.report)


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


def group_by_image(rows: list[EvalRow]) -> list[list[EvalRow]]:
    """Rows grouped by image path, groups in order of first appearance, rows in dataset order."""
    groups: dict[Path | None, list[EvalRow]] = {}
    for row in rows:
        groups.setdefault(row.image, []).append(row)
    return list(groups.values())


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
        "question_type": row.question_type, "prediction": None, "raw_answer": None, "answers": row.answers,
        "choices": row.choices, "score": None, "metric": opts.metric, "error": row.error,
        "error_kind": row.error_kind, "seconds": 0.0, "usage": None, "tools": [], "steps": 0, "retries": 0,
        "finished": None, "mode": None, "llm": None, "seed": opts.seed,
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


def evaluate_row(agent: Any, store: ImageStore, image_id: str, row: EvalRow, opts: GroupOptions,
                 scratch: ScratchCache | None = None) -> dict[str, Any]:
    """Ask one question about an already stored image and score the answer; failures become error records."""
    record = base_record(row, opts)
    record.update(mode=agent_mode(agent), llm=getattr(getattr(agent, "backend", None), "name", None))
    if opts.metric == "multiple_choice" and not row.choices:
        return _fail(record, "dataset:missing_choices", "the multiple_choice metric needs the row's choices")
    start = time.perf_counter()
    try:
        cache = agent.cache
        if row.precomputed and cache is None:
            if scratch is None:
                raise InputError("precomputed outputs need the expert cache or a scratch cache")
            cache = scratch.get()
        ctx = RunContext(agent.settings, images=store, cache=cache)
        if row.precomputed:
            seed_row(cache, agent.registry, store.get(image_id), row.precomputed, agent.settings)
        answer = agent.ask(image_id, row.question, context=ctx)
    except Exception as exc:  # noqa: BLE001 - one row's failure must not end the run
        logger.warning("row %s failed: %s: %s", row.id, type(exc).__name__, exc)
        record["seconds"] = round(time.perf_counter() - start, 4)
        return _fail(record, f"run:{type(exc).__name__}", str(exc))
    record.update(
        seconds=round(time.perf_counter() - start, 4), raw_answer=answer.answer,
        prediction=answer.answer, usage=answer.usage.model_dump(),
        tools=[s.tool for s in answer.steps if isinstance(s, ToolStep)], steps=len(answer.steps),
        retries=answer.retries, finished=answer.finished, llm=answer.llm,
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
        stored = store.add(rows[0].image)
    except Exception as exc:  # noqa: BLE001 - an unreadable image fails its rows, not the run
        for row in rows:
            record = base_record(row, opts)
            record["mode"] = agent_mode(agent)
            on_record(_fail(record, f"run:{type(exc).__name__}", str(exc)))
        return
    for row in rows:
        on_record(evaluate_row(agent, store, stored.id, row, opts, scratch))


def _prepare_output(out: Path, *, resume: bool, retry_errors: bool) -> set[str]:
    """Rewrite ``out`` with the records to keep and return their ids (the rows not to run again)."""
    if not resume:
        rewrite_results(out, [])
        return set()
    kept = [r for r in read_results(out) if r.get("error") is None or not retry_errors]
    if out.exists():
        rewrite_results(out, kept)
    return {r["id"] for r in kept}


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="q", file=sys.stderr, dynamic_ncols=True,
                disable=not enabled or not sys.stderr.isatty())


def _run_local(groups: list[list[EvalRow]], agent_factory: Callable[[], Any], opts: GroupOptions,
               concurrency: int, on_record: OnRecord) -> None:
    agent = agent_factory()
    scratch = ScratchCache()
    try:
        if concurrency <= 1 or len(groups) <= 1:
            for group in groups:
                evaluate_group(agent, group, opts, on_record, scratch)
            return
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lavr-eval")
        try:
            futures = [pool.submit(evaluate_group, agent, g, opts, on_record, scratch) for g in groups]
            for future in as_completed(futures):
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        scratch.close()


def run_eval(dataset: EvalDataset | Path | str, *, agent_factory: Callable[[], Any], out: Path | str,
             metric: str = "vqa", concurrency: int = 1, resume: bool = True, retry_errors: bool = False,
             seed: int = 0, executor: Executor = "local", progress: bool = True) -> EvalSummary:
    """Evaluate an agent on a dataset, writing one JSON line per row to ``out`` (see the module docstring).

    Args:
        dataset: A loaded dataset or the path of one.
        agent_factory: Builds the agent: an ``AgentSpec`` (required by ``executor="ray"``, picklable) or any
            callable returning an ``Agent``.
        out: The results file (JSONL).
        metric: A name in ``METRICS``: ``vqa``, ``exact_match`` or ``multiple_choice``.
        concurrency: Image groups evaluated at once (threads, or Ray actors).
        resume: Skip rows already in ``out``; ``False`` starts ``out`` afresh.
        retry_errors: With ``resume``, run rows recorded with an error again.
        seed: Seed for ``random``/``numpy``/``torch`` and the LLM (``AgentSpec`` only).
        executor: ``local`` (threads in this process) or ``ray``.
        progress: Show a progress bar on stderr (only when stderr is a terminal).

    Returns:
        The summary, whose report covers every dataset row found in ``out`` (resumed ones included).

    Raises:
        InputError: Unknown metric or executor, or a factory that Ray cannot use.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if executor not in ("local", "ray"):
        raise InputError(f"unknown executor {executor!r}; use 'local' or 'ray'")
    started = time.perf_counter()
    data = dataset if isinstance(dataset, EvalDataset) else load_dataset(dataset)
    out = Path(out).expanduser()
    _check_out(out, data.path)
    with ResultsLock(out):
        return _run_locked(data, agent_factory, out, metric, concurrency, resume, retry_errors, seed, executor,
                           progress, started)


def _check_out(out: Path, dataset_path: Path) -> None:
    """Refuse a results path that is a folder, or the dataset file itself (it would be overwritten)."""
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; give a results file name, e.g. {out / 'results.jsonl'}")
    if out.resolve() == Path(dataset_path).expanduser().resolve():
        raise InputError(f"--out {out}: is the dataset file itself; give another results file")
    if not out.parent.is_dir() and out.parent.exists():
        raise InputError(f"--out {out}: {out.parent} is not a folder")


def _run_locked(data: EvalDataset, agent_factory: Callable[[], Any], out: Path, metric: str, concurrency: int,
                resume: bool, retry_errors: bool, seed: int, executor: Executor, progress: bool,
                started: float) -> EvalSummary:
    """``run_eval``'s work, while this process holds the results file's lock."""
    done = _prepare_output(out, resume=resume, retry_errors=retry_errors)
    todo = [r for r in data.rows if r.id not in done]
    opts = GroupOptions(metric=metric, seed=seed, root=data.root, allowed_roots=tuple(data.allowed_roots))
    seed_everything(seed)
    if isinstance(agent_factory, AgentSpec):
        agent_factory = agent_factory.with_settings(llm_seed=seed)
    logger.info("eval: %d rows, %d already in %s, %d to run", len(data.rows), len(data.rows) - len(todo), out,
                len(todo))
    bar = _progress(len(todo), progress)
    ran = 0
    with ResultsWriter(out) as writer:
        def on_record(record: dict[str, Any]) -> None:
            nonlocal ran
            writer.write(record)
            ran += 1
            bar.update(1)

        try:
            for row in todo:
                if not row.ok:
                    on_record(base_record(row, opts))
            groups = group_by_image([r for r in todo if r.ok])
            if groups and executor == "ray":
                from .ray_executor import run_groups_on_ray

                run_groups_on_ray(groups, agent_factory=agent_factory, opts=opts, concurrency=concurrency,
                                  on_record=on_record)
            elif groups:
                _run_local(groups, agent_factory, opts, concurrency, on_record)
        finally:
            bar.close()
    ids = {r.id for r in data.rows}
    report = build_report(r for r in read_results(out) if r["id"] in ids)
    return EvalSummary(out=out, metric=metric, seed=seed, executor=executor, rows=len(data.rows), ran=ran,
                       skipped=len(data.rows) - len(todo), seconds=round(time.perf_counter() - started, 3),
                       report=report)
