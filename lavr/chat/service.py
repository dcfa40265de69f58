"""``ChatThreads``: chat sessions on a LangGraph checkpointer (SQLite under the data folder, or PostgreSQL).

Each thread is a LangGraph thread of a small graph whose state holds the thread (``ThreadState``) and the pending
turn. A turn runs the agent (any planning mode) with the thread's images, crops and objects restored into its
``RunContext``, and returns the new thread state; the checkpoint written after that node is the commit. A
process killed during a turn leaves the previous checkpoint's thread intact.

Turns of one thread are serialised: a lock per thread in the process, plus a lock that other processes see
(``fcntl`` on a lock file next to the SQLite database, or a PostgreSQL advisory lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from ..errors import ImageError, InputError, LavrError, ThreadNotFound, ThreadStateError
from ..images import ImageInput, load_image
from ..schema import Answer, Step
from ..settings import Settings
from ..tools.base import RunContext
from .blobs import ImageBlobs
from .models import (ChatReply, ChatTurn, StepCallback, ThreadImage, ThreadInfo, check_thread_id, new_thread_id,
                     utcnow)
from .thread import CropRecord, ThreadState, prompt_history

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000


class ChatGraphState(TypedDict, total=False):
    thread: dict[str, Any]
    pending: dict[str, Any] | None


def _configurable(config: RunnableConfig) -> dict[str, Any]:
    return config.get("configurable") or {}


class ChatThreads:
    """The ``ChatService`` on a checkpointer. ``agent`` is any lavr agent (``make_agent(mode, ...)``).

    Args:
        agent: answers one turn; its expert cache is shared by every thread (keyed by image content).
        settings: data folder, history budget, image limits.
        checkpointer: a LangGraph checkpointer; default: ``open_checkpointer(settings)``.
    """

    def __init__(self, agent: Any, *, settings: Settings | None = None, checkpointer: Any = None):
        self.agent = agent
        self.settings = settings or agent.settings
        self._owned = checkpointer is None
        self.store = checkpointer if checkpointer is not None else open_checkpointer(self.settings)
        self.blobs = ImageBlobs(self.settings.subdir("chat") / "images")
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.graph = self._build()

    # Graph --------------------------------------------------------------------------------------
    def _build(self) -> Any:
        def route(state: ChatGraphState) -> str:
            return "turn" if state.get("pending") else END

        def turn(state: ChatGraphState, config: RunnableConfig) -> dict[str, Any]:
            thread = ThreadState.model_validate(state["thread"])
            pending = state["pending"] or {}
            updated = self._run_turn(thread, pending, _configurable(config).get("lavr_on_step"))
            return {"thread": updated.model_dump(mode="json"), "pending": None}

        graph = StateGraph(ChatGraphState)
        graph.add_node("turn", turn)
        graph.add_conditional_edges(START, route, {"turn": "turn", END: END})
        graph.add_edge("turn", END)
        return graph.compile(checkpointer=self.store)

    @staticmethod
    def _config(thread_id: str, **extra: Any) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id, **extra}}

    # Reading ------------------------------------------------------------------------------------
    def _load(self, thread_id: str) -> ThreadState | None:
        try:
            snapshot = self.graph.get_state(self._config(thread_id))
        except LavrError:
            raise
        except Exception as exc:  # a corrupt row: serde, msgpack or SQL errors; other threads are unaffected
            raise ThreadStateError(f"thread {thread_id!r}: stored state is unreadable ({type(exc).__name__}: "
                                   f"{str(exc)[:200]})") from None
        raw = snapshot.values.get("thread") if snapshot and snapshot.values else None
        if raw is None:
            return None
        try:
            return ThreadState.model_validate(raw)
        except ValueError as exc:
            raise ThreadStateError(f"thread {thread_id!r}: stored state is invalid ({str(exc)[:200]})") from None

    def _require(self, thread_id: str) -> ThreadState:
        check_thread_id(thread_id)
        state = self._load(thread_id)
        if state is None:
            raise ThreadNotFound(f"no chat thread {thread_id!r}")
        return state

    def history(self, thread_id: str) -> list[ChatTurn]:
        return self._require(thread_id).turns

    def info(self, thread_id: str) -> ThreadInfo:
        return self._require(thread_id).info()

    def state(self, thread_id: str) -> ThreadState:
        return self._require(thread_id)

    def exists(self, thread_id: str) -> bool:
        check_thread_id(thread_id)
        return self._load(thread_id) is not None

    def threads(self) -> list[ThreadInfo]:
        infos = []
        for tid in thread_ids(self.store):
            try:
                state = self._load(tid)
            except ThreadStateError as exc:
                logger.warning("%s", exc)
                infos.append(ThreadInfo(id=tid, title="(unreadable)"))
                continue
            if state is not None:
                infos.append(state.info())
        return sorted(infos, key=lambda i: i.updated, reverse=True)

    def image(self, thread_id: str, image_id: str) -> Any:
        state = self._require(thread_id)
        for img in state.images:
            if img.id == image_id:
                return self.blobs.get(img.sha256)
        for crop in state.crops:
            if crop.id == image_id:
                parent = self.image(thread_id, crop.parent)
                w, h = parent.size
                return parent.crop(crop.box.to_pixels(w, h))
        raise ImageError(f"thread {thread_id!r} has no image {image_id!r}")

    # Writing ------------------------------------------------------------------------------------
    def new_thread(self, thread_id: str | None = None, *, history: Sequence[tuple[str, str]] = ()) -> str:
        thread_id = check_thread_id(thread_id) if thread_id else new_thread_id()
        with self._locked(thread_id):
            if self._load(thread_id) is not None:
                raise InputError(f"chat thread {thread_id!r} already exists")
            self._create(thread_id, history)
        return thread_id

    def _create(self, thread_id: str, history: Sequence[tuple[str, str]]) -> ThreadState:
        state = ThreadState(id=thread_id, prior=[(str(q), str(a)) for q, a in history])
        self.graph.invoke({"thread": state.model_dump(mode="json"), "pending": None}, self._config(thread_id))
        return state

    def send(self, thread_id: str | None, text: str, images: Sequence[ImageInput] = (), *, create: bool = False,
             history: Sequence[tuple[str, str]] = (), on_step: StepCallback | None = None) -> ChatReply:
        text = (text or "").strip()
        if not text:
            raise InputError("the message is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"the message is longer than {MAX_TEXT_CHARS} characters")
        # Decode and store the images before anything is committed: a bad image changes nothing.
        hashes = [self._store_image(img) for img in images]
        if thread_id is None:
            thread_id, create = new_thread_id(), True
        check_thread_id(thread_id)
        with self._locked(thread_id):
            before = self._load(thread_id)
            if before is None:
                if not create:
                    raise ThreadNotFound(f"no chat thread {thread_id!r}")
                before = self._create(thread_id, history)
            if not before.images and not hashes:
                raise InputError("attach an image first: this thread has none")
            pending = {"text": text, "images": [h for h, _, _ in hashes],
                       "sizes": [[w, h] for _, w, h in hashes]}
            config = self._config(thread_id, lavr_on_step=on_step)
            config["recursion_limit"] = 10
            out = self.graph.invoke({"pending": pending}, config)
        state = ThreadState.model_validate(out["thread"])
        return ChatReply(thread_id=thread_id, turn=state.turns[-1])

    def _store_image(self, image: ImageInput) -> tuple[str, int, int]:
        s = self.settings
        pil, _ = load_image(image, max_pixels=s.max_image_pixels, work_side=s.work_image_side,
                            allowed_roots=s.allowed_roots)
        return self.blobs.put(pil), pil.width, pil.height

    # The turn -----------------------------------------------------------------------------------
    def _context(self, state: ThreadState) -> RunContext:
        ctx = self.agent.new_context() if hasattr(self.agent, "new_context") else RunContext(self.settings)
        for img in state.images:
            ctx.images.add_pil(self.blobs.get(img.sha256), source=f"thread image {img.id}", image_id=img.id)
        for crop in state.crops:
            try:
                made = ctx.images.crop(crop.parent, crop.box)
            except ImageError as exc:  # its parent went missing: the crop id is simply gone
                logger.warning("thread %s: cannot restore %s (%s)", state.id, crop.id, exc)
                continue
            if made.id != crop.id:
                logger.warning("thread %s: %s restored as %s", state.id, crop.id, made.id)
        ctx.objects.update({o.id: o for o in state.objects})
        return ctx

    def history_budget(self) -> int:
        return self.settings.chat_history_tokens or max(256, self.settings.llm_context // 4)

    def _run_turn(self, state: ThreadState, pending: dict[str, Any], on_step: StepCallback | None) -> ThreadState:
        start = time.perf_counter()
        index = len(state.turns)
        ctx = self._context(state)
        new_ids = []
        for sha, (w, h) in zip(pending.get("images", []), pending.get("sizes", [])):
            image_id = state.next_image_id()
            ctx.images.add_pil(self.blobs.get(sha), source=f"thread image {image_id}", image_id=image_id)
            state.images.append(ThreadImage(id=image_id, sha256=sha, width=w, height=h, turn=index))
            new_ids.append(image_id)
        text = pending["text"]
        focus = new_ids[0] if new_ids else state.images[-1].id
        ids = [focus] + [i.id for i in state.images if i.id != focus]
        question = text
        if len(state.images) > 1:
            attached = f"{', '.join(new_ids)} attached with this message; " if new_ids else ""
            question = f"{text}\n({attached}images in this thread: {', '.join(i.id for i in state.images)})"
        history = prompt_history(state, self.history_budget())
        answer = self.agent._run(ctx, ids, question, history, start, f"{state.id}:{index}")
        answer = answer.model_copy(update={"question": text})
        if on_step is not None:
            for step in answer.steps:
                _safe_call(on_step, step)
        state.crops = [CropRecord(id=i, parent=s.parent, box=s.box) for i in ctx.images.ids()
                       if (s := ctx.images.get(i)).parent is not None and s.box is not None]
        state.objects = list(ctx.objects.values())
        state.turns.append(ChatTurn(index=index, text=text, images=new_ids, answer=answer))
        state.title = state.title or text[:60]
        state.updated = utcnow()
        return state

    # Locks --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, thread_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(thread_id, threading.Lock())
        with lock, process_lock(self.store, self.settings, thread_id):
            yield

    def close(self) -> None:
        if self._owned:
            close_checkpointer(self.store)


def _safe_call(callback: StepCallback, step: Step) -> None:
    try:
        callback(step)
    except Exception:  # a listener that went away (client disconnected) must not fail the turn
        logger.debug("step callback failed", exc_info=True)


# Checkpointers ------------------------------------------------------------------------------------

def open_checkpointer(settings: Settings) -> Any:
    """SQLite at ``DATA_DIR/chat/threads.sqlite``, or PostgreSQL when ``chat_postgres_url`` is set."""
    if settings.chat_postgres_url:
        return open_postgres(settings.chat_postgres_url)
    return open_sqlite(settings.subdir("chat") / "threads.sqlite")


def open_sqlite(path: Path) -> Any:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn)
        saver.setup()
        conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ThreadStateError(f"{path}: the chat thread database is unreadable ({exc}); move it aside to start "
                               "with no threads, or restore it from a backup") from None
    return saver


def open_postgres(url: str) -> Any:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:  # pragma: no cover - a dependency
        raise LavrError(f"PostgreSQL threads need langgraph-checkpoint-postgres and psycopg ({exc})") from None
    import psycopg

    try:  # one direct connection first: a wrong URL or a server that is down fails now, with its reason
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        raise LavrError(f"cannot use the PostgreSQL chat store ({str(exc).strip()[:300]})") from None
    pool = ConnectionPool(url, min_size=1, max_size=8, open=False,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    try:
        pool.open(wait=True, timeout=15)
        saver = PostgresSaver(pool)
        saver.setup()
    except (psycopg.Error, Exception) as exc:
        pool.close()
        raise LavrError(f"cannot use the PostgreSQL chat store ({type(exc).__name__}: {str(exc)[:200]})") from None
    return saver


def close_checkpointer(saver: Any) -> None:
    conn = getattr(saver, "conn", None)
    with contextlib.suppress(Exception):
        conn.close()


def thread_ids(saver: Any) -> list[str]:
    """Every thread id in the checkpointer's tables."""
    conn = saver.conn
    if hasattr(conn, "execute") and conn.__class__.__module__.startswith("sqlite3"):
        with saver.lock:
            return [r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    with saver._cursor() as cur:
        cur.execute("SELECT DISTINCT thread_id FROM checkpoints")
        return [r["thread_id"] for r in cur.fetchall()]


@contextlib.contextmanager
def process_lock(saver: Any, settings: Settings, thread_id: str) -> Iterator[None]:
    """Serialise a thread's turns across processes: a PostgreSQL advisory lock, or ``flock`` on a lock file."""
    conn = getattr(saver, "conn", None)
    if conn is not None and conn.__class__.__name__ == "ConnectionPool":
        key = int.from_bytes(hashlib.sha256(thread_id.encode()).digest()[:8], "big", signed=True)
        with conn.connection() as pg:
            pg.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return
    lock_dir = settings.subdir("chat") / "locks"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{thread_id}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def answer_of(reply: ChatReply) -> Answer:
    return reply.turn.answer
