"""``executor="ray"``: the same evaluation, with image groups spread over Ray actors.

Each actor builds its agent once (``agent_factory()``; pass an ``AgentSpec`` so it pickles small and builds
the experts inside the worker) and evaluates whole image groups with ``groups.evaluate_group``. The driver
schedules groups onto idle actors and writes the records they return, so the results file, the resume logic and
the summary are exactly those of the local executor; a group's records arrive together when it finishes.

GPU-aware: when the cluster has GPUs and the settings' device is ``cuda`` or ``auto``, each actor asks for one
GPU (so there are at most as many actors as GPUs); otherwise actors use one CPU each. ``LAVR_*`` and offline
variables of the driver are passed to the actors. When Ray is not running yet, a local instance is started and
shut down afterwards; an already initialised Ray (``ray.init(address=...)``) is used as is.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import InputError, LavrError
from ..settings import Settings
from .dataset import EvalRow
from .groups import GroupOptions, OnRecord, base_record, evaluate_group, seed_everything
from .precomputed import ScratchCache
from .spec import AgentSpec, agent_mode

logger = logging.getLogger(__name__)

__all__ = ["EvalActor", "gpus_per_actor", "run_groups_on_ray"]

PASSED_ENV_PREFIXES = ("LAVR_",)
PASSED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE", "HF_HOME", "XDG_DATA_HOME")


class EvalActor:
    """A Ray actor body: one agent, built once, evaluating image groups."""

    def __init__(self, agent_factory: Callable[[], Any], seed: int):
        seed_everything(seed)
        self.agent = agent_factory()
        self.scratch = ScratchCache()

    def mode(self) -> str:
        """The agent's mode; also a cheap call that proves the actor was built."""
        return agent_mode(self.agent)

    def run_group(self, rows: list[EvalRow], opts: GroupOptions) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        evaluate_group(self.agent, rows, opts, records.append, self.scratch)
        return records


def gpus_per_actor(settings: Settings, cluster_gpus: float) -> int:
    """1 when the cluster has a GPU and the settings may use CUDA (``cuda`` or ``auto``), else 0."""
    if cluster_gpus < 1:
        if settings.device == "cuda":
            logger.warning("device is cuda but the Ray cluster has no GPU; actors run on CPU")
        return 0
    return 1 if settings.device in ("cuda", "auto") else 0


def _actor_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV_PREFIXES) or k in PASSED_ENV}


def _failed(group: list[EvalRow], opts: GroupOptions, kind: str, message: str) -> list[dict[str, Any]]:
    records = []
    for row in group:
        record = base_record(row, opts)
        record.update(error=message, error_kind=kind)
        records.append(record)
    return records


def _start_actors(ray: Any, agent_factory: Callable[[], Any], opts: GroupOptions, count: int) -> list[Any]:
    settings = agent_factory.build_settings() if isinstance(agent_factory, AgentSpec) else Settings()
    gpus = gpus_per_actor(settings, ray.cluster_resources().get("GPU", 0))
    if gpus:
        count = max(1, min(count, int(ray.cluster_resources().get("GPU", 0))))
    remote_cls = ray.remote(EvalActor).options(num_cpus=1, num_gpus=gpus, runtime_env={"env_vars": _actor_env()})
    try:
        actors = [remote_cls.remote(agent_factory, opts.seed) for _ in range(count)]
    except (TypeError, pickle.PicklingError) as exc:  # the factory cannot be pickled
        raise InputError(f"agent_factory must be picklable for Ray (use an AgentSpec): {exc}") from None
    try:
        modes = ray.get([a.mode.remote() for a in actors])
    except ray.exceptions.RayError as exc:
        for actor in actors:
            ray.kill(actor)
        raise LavrError(f"could not build the agent on a Ray worker: {exc}") from None
    logger.info("ray: %d actor(s), %s GPU each, mode %s", len(actors), gpus, modes[0] if modes else "?")
    return actors


def run_groups_on_ray(groups: list[list[EvalRow]], *, agent_factory: Callable[[], Any], opts: GroupOptions,
                      concurrency: int, on_record: OnRecord) -> None:
    """Evaluate image groups on Ray actors, calling ``on_record`` (in the driver) for every result.

    Args:
        groups: Rows grouped by image (``runner.group_by_image``).
        agent_factory: A picklable agent factory, ideally an ``AgentSpec``.
        opts: Metric, seed and allowed folders.
        concurrency: Number of actors (capped by the number of groups, and of GPUs when GPUs are used).
        on_record: Receives each result record.

    Raises:
        InputError: Ray is not installed or the factory cannot be pickled.
        LavrError: No actor could build the agent.
    """
    try:
        import ray
    except ImportError:
        raise InputError("the ray executor needs Ray: pip install 'lavr[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    actors: list[Any] = []
    try:
        actors = _start_actors(ray, agent_factory, opts, max(1, min(concurrency, len(groups))))
        _schedule(ray, actors, groups, opts, on_record)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def _schedule(ray: Any, actors: list[Any], groups: list[list[EvalRow]], opts: GroupOptions,
              on_record: OnRecord) -> None:
    """Keep every live actor busy with one group; a failed group's rows become error records."""
    queue = deque(groups)
    idle = list(actors)
    pending: dict[Any, tuple[Any, list[EvalRow]]] = {}
    while queue or pending:
        while idle and queue:
            actor, group = idle.pop(), queue.popleft()
            pending[actor.run_group.remote(group, opts)] = (actor, group)
        if not pending:  # every actor died: fail what is left
            while queue:
                for record in _failed(queue.popleft(), opts, "run:RayActorError", "no live Ray worker left"):
                    on_record(record)
            break
        [ref], _ = ray.wait(list(pending), num_returns=1)
        actor, group = pending.pop(ref)
        try:
            records = ray.get(ref)
            idle.append(actor)
        except ray.exceptions.RayActorError as exc:
            logger.warning("a Ray worker died while evaluating %d row(s): %s", len(group), exc)
            records = _failed(group, opts, "run:RayActorError", f"Ray worker died: {exc}".splitlines()[0])
        except ray.exceptions.RayError as exc:
            logger.warning("a Ray task failed: %s", exc)
            records = _failed(group, opts, f"run:{type(exc).__name__}", str(exc).splitlines()[0])
            idle.append(actor)
        for record in records:
            on_record(record)
