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
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import InputError
from ..outputs import refuse_overwrite
from .dataset import EvalDataset, EvalRow, load_dataset
from .groups import GroupOptions, OnRecord, base_record, evaluate_group, seed_everything
from .metrics import METRICS
from .precomputed import ScratchCache
from .report import EvalReport, build_report, summary_line
from .results import ResultsLock, ResultsWriter, is_results_file, read_results, rewrite_results
from .spec import AgentSpec

logger = logging.getLogger(__name__)

__all__ = ["EvalSummary", "group_by_image", "run_eval"]

Executor = Literal["local", "ray"]
MAX_SEED = 2**32 - 1


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


def group_by_image(rows: list[EvalRow]) -> list[list[EvalRow]]:
    """Rows grouped by their images, groups in order of first appearance, rows in dataset order."""
    groups: dict[tuple[Path | None, ...], list[EvalRow]] = {}
    for row in rows:
        groups.setdefault(tuple(row.images) or (row.image,), []).append(row)
    return list(groups.values())


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
    if not 0 <= seed <= MAX_SEED:  # numpy's and torch's seeds are unsigned 32-bit integers
        raise InputError(f"--seed {seed} is not allowed; allowed: an integer from 0 to {MAX_SEED:,}")
    started = time.perf_counter()
    data = dataset if isinstance(dataset, EvalDataset) else load_dataset(dataset)
    out = Path(out).expanduser()
    _check_out(out, data.path)
    with ResultsLock(out):
        return _run_locked(data, agent_factory, out, metric, concurrency, resume, retry_errors, seed, executor,
                           progress, started)


def _check_out(out: Path, dataset_path: Path) -> None:
    """Refuse a results path that would lose data: a folder, the dataset itself (also through a link), or an
    existing file that is not a results file (notes, a report: resuming would drop their lines)."""
    if not out.parent.is_dir() and out.parent.exists():
        raise InputError(f"--out {out}: {out.parent} is not a folder")
    refuse_overwrite(out, option="--out", inputs=[("the dataset file", dataset_path)], written_by_lavr=is_results_file,
                     kind="a lavr results file")


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
