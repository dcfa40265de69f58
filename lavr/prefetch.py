"""A new ``lavr ask`` process builds its image's scene graph in a forked child while it loads everything else.

A cold ``lavr ask`` used to do its work in turn on one busy core: import the agent (LangGraph, ~1 s), then torch
(~2 s) and the perception models with their first runs (~2 s), then write the program. The two halves need nothing
from each other until the program is written, so the process forks as it starts: the child imports torch, runs the
experts on the image and leaves their outputs in the on-disk expert cache; the parent meanwhile imports the agent and
loads the LLM, then waits for the child and finds every expert's output in the cache (it never imports torch).

Only where it is sound: Linux (fork), one thread in the process (nothing a fork could leave half-held), the expert
cache on (it is how the results come back). The child is a best effort: if it fails or overruns, the parent computes
what is missing itself, exactly as without it; nothing the child does is ever an answer.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["ForkedPrefetch", "can_fork", "prefetch_scene"]


def can_fork() -> bool:
    """Whether forking is sound here: Linux and no other thread (a lock held by one would stay held in the child)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


class ForkedPrefetch:
    """Runs ``work`` in a forked child whose output is discarded; ``wait`` says whether it finished cleanly."""

    def __init__(self, pid: int, what: str):
        self.pid = pid
        self.what = what
        self.code: int | None = None

    @classmethod
    def start(cls, work: Callable[[], Any], *, what: str) -> ForkedPrefetch | None:
        """Fork and run ``work`` in the child (its stdout and stderr go to /dev/null; it leaves with ``os._exit``,
        running no cleanup of the parent's). ``None`` where forking is not sound (``can_fork``) or fails."""
        if not can_fork():
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:  # no memory or process slots left: the parent does the work itself
            logger.info("no prefetch child for %s: %s", what, exc)
            return None
        if pid == 0:  # pragma: no cover - the child; its exit code is what the tests see
            code = 1
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the child's, closed by its exit
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it at once, with no message
                work()
                code = 0
            finally:
                os._exit(code)
        return cls(pid, what)

    def wait(self, timeout_s: float) -> bool:
        """Wait for the child at most ``timeout_s`` seconds (then end it); whether it finished with success."""
        started = time.monotonic()
        if self.code is None:
            deadline = started + timeout_s
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.code = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() >= deadline:
                    logger.info("prefetch of %s overran %.0f s: ended; the experts run here", self.what, timeout_s)
                    self.cancel()
                    break
                time.sleep(0.01)
        logger.info("prefetch of %s: waited %.2f s for it", self.what, time.monotonic() - started)
        if self.code not in (0, None):
            logger.info("prefetch of %s failed (exit %s): the experts run here", self.what, self.code)
        return self.code == 0

    def cancel(self) -> None:
        """End the child (if it still runs) and reap it."""
        if self.code is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
            self.code = os.waitstatus_to_exitcode(status)
        except (ProcessLookupError, ChildProcessError):
            self.code = -signal.SIGKILL


def prefetch_scene(image: Any, settings: Any) -> ForkedPrefetch | None:
    """Fork a child that runs the ``scene_graph`` expert on ``image`` (a path or sample), storing every expert's
    output in the expert cache that ``settings`` names: what query mode's first move asks for."""

    def work() -> None:
        from .cache import open_cache
        from .tools import default_tools
        from .tools.base import RunContext
        from .tools.scene_graph import SceneGraphInput

        ctx = RunContext(settings, cache=open_cache(settings))
        stored = ctx.images.add(image)
        tool = next(t for t in default_tools(settings) if t.name == "scene_graph")
        tool.run(SceneGraphInput(image=stored.id), ctx.for_call())

    return ForkedPrefetch.start(work, what=f"the scene graph of {image}")
