"""``ChatThreads``: chat sessions on the agent's own LangGraph graph and a checkpointer (SQLite under the data
folder, or PostgreSQL).

A thread is a LangGraph thread of the runner's graph (``lavr.agents.graph``): its checkpointed state holds the
thread's messages (``history``), images (ids, content hashes, sizes: the pixels are kept by hash in
``ImageBlobs``), object ids (``objects``) and every finished question's record (``answers``: question, images,
final answer, trace). The record is written by the graph's ``finish`` node, in the same checkpoint as the rest of
the turn, so a turn is committed whole or not at all: a process killed during a turn leaves every earlier turn.
Every planning mode runs through the same graph, so every mode chats alike.

Each message is routed first (``lavr.chat.routing``): only questions about the images run the graph; questions
about the conversation, help and small talk are answered from the thread's history and stored traces
(``lavr.chat.conversation``) and committed as turns of their own (one ``update_state`` checkpoint).

Turns of one thread are serialised: a lock per thread in the process, plus a lock other processes see (``flock``
on a lock file next to the SQLite database, or a PostgreSQL advisory lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from ..errors import ImageError, InputError, LavrError, ThreadNotFound, ThreadStateError
from ..images import ImageInput, load_image
from ..settings import Settings
from ..trace import STEPS, Answer, Step, total_usage
from .blobs import ImageBlobs
from .conversation import ConversationAnswerer
from .models import (
    ChatReply,
    ChatTurn,
    ProgressCallback,
    StepCallback,
    ThreadImage,
    ThreadInfo,
    check_thread_id,
    new_thread_id,
    turn_listener,
    utcnow,
)
from .routing import Kind, RouteDecision, Router, default_router
from .thread import ThreadState, prompt_history

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000  # every message of a turn, the earlier ones a client sends along included
MAX_HISTORY_TURNS = 100  # earlier (question, answer) pairs a client may seed a new thread with
SETUP_LOCK_KEY = 0x6C617672_63686174  # "lavrchat": the advisory lock that serialises creating the PostgreSQL tables


class ChatThreads:
    """The ``ChatService`` on the agent's graph with a checkpointer. ``agent`` is any ``lavr.Agent`` (any planning
    mode); its LLM, planner, tools and expert cache are shared with a copy compiled with the checkpointer.

    Args:
        agent: answers the turns; its expert cache is shared by every thread (keyed by image content).
        settings: data folder, history budget, image limits.
        checkpointer: a LangGraph checkpointer; default: ``open_checkpointer(settings)``.
        router: decides which messages go to the agent (default: the package's router, loaded in the background
            now; ``False``: every message goes to the agent).
    """

    def __init__(self, agent: Any, *, settings: Settings | None = None, checkpointer: Any = None,
                 router: Router | bool | None = None):
        from ..agents import Agent

        self.settings = settings or agent.settings
        self._owned = checkpointer is None
        self.store = checkpointer if checkpointer is not None else open_checkpointer(self.settings)
        self.agent = Agent(agent.backend, planner=agent.planner, settings=agent.settings,
                           tools=list(agent.registry.tools()), cache=agent.cache or False, checkpointer=self.store)
        self.graph = self.agent.graph
        self.blobs = ImageBlobs(self.settings.subdir("chat") / "images")
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.router: Router | None = None if router is False else (router if isinstance(router, Router)
                                                                   else default_router())
        if self.router is not None:
            self.router.warm_up()
        self.answerer = ConversationAnswerer(self.agent.registry, self.agent.backend)

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    # Reading ------------------------------------------------------------------------------------
    def _values(self, thread_id: str) -> dict[str, Any] | None:
        try:
            snapshot = self.graph.get_state(self._config(thread_id))
        except LavrError:
            raise
        except Exception as exc:  # a corrupt row: serde, msgpack or SQL errors; other threads are unaffected
            raise ThreadStateError(f"thread {thread_id!r}: stored state is unreadable ({type(exc).__name__}: "
                                   f"{str(exc)[:200]})") from None
        values = snapshot.values if snapshot else None
        return values if values and "answers" in values else None

    def _load(self, thread_id: str, *, traces: bool = True) -> ThreadState | None:
        values = self._values(thread_id)
        if values is None:
            return None
        try:
            return self._thread(thread_id, values, traces=traces)
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreadStateError(f"thread {thread_id!r}: stored state is invalid ({str(exc)[:200]})") from None

    def _thread(self, thread_id: str, values: dict[str, Any], *, traces: bool = True) -> ThreadState:
        """The chat view of a thread's graph state: seeded pairs, committed turns, images and objects
        (``traces=False``: answers without their steps, all a new turn's prompt needs)."""
        from ..schema import Detection

        records = list(values.get("answers") or [])
        prior = [(r["question"], r["final"]["answer"]) for r in records if r.get("seeded")]
        turns: list[ChatTurn] = []
        images: dict[str, ThreadImage] = {}
        for rec in (r for r in records if not r.get("seeded")):
            index = len(turns)
            new = [i for i in rec.get("images", []) if i["id"] not in images]
            for i in new:
                images[i["id"]] = ThreadImage(id=i["id"], sha256=i["sha256"], width=i["width"], height=i["height"],
                                              turn=index)
            turns.append(ChatTurn(index=index, text=rec["question"], images=sorted(i["id"] for i in new),
                                  answer=self._answer(rec, thread_id, traces=traces), at=rec.get("at") or "",
                                  kind=rec.get("kind") or "scene", refers_to=rec.get("refers_to")))
        ordered = sorted(images.values(), key=lambda i: int(i.id.split("_")[1]))
        committed = {i.id for i in ordered}
        objects = [Detection.model_validate(o) for o in values.get("objects") or [] if o.get("image") in committed]
        return ThreadState(id=thread_id, title=turns[0].text[:60] if turns else "",
                           created=records[0].get("at", "") if records else "",
                           updated=records[-1].get("at", "") if records else "", prior=prior,
                           images=ordered, objects=objects, turns=turns)

    def _answer(self, rec: dict[str, Any], thread_id: str, *, traces: bool = True) -> Answer:
        """The ``Answer`` of a committed record, as ``Agent.run`` built it (the wall time is the steps' sum)."""
        from ..agents.agent import evidence_for

        steps: list[Step] = STEPS.validate_python(rec.get("steps") or []) if traces else []
        final = rec["final"]
        ids = [i["id"] for i in rec.get("images", [])]
        return Answer(question=rec["question"], image=ids[0] if ids else "", images=ids, answer=final["answer"],
                      rationale=final.get("rationale") or "", evidence=evidence_for(final["answer"], steps),
                      steps=steps, usage=total_usage(steps), seconds=round(sum(s.seconds for s in steps), 3),
                      retries=sum(1 for s in steps if s.kind == "retry"), finished=rec.get("finished") or "answered",
                      mode=rec.get("kind") if rec.get("kind", "scene") != "scene" else self.agent.mode,
                      llm=rec.get("llm", getattr(self.agent.backend, "name", "")), thread_id=thread_id)

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
        return self._values(thread_id) is not None

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
        for img in self._require(thread_id).images:
            if img.id == image_id:
                return self.blobs.get(img.sha256)
        raise ImageError(f"thread {thread_id!r} has no image {image_id!r}")

    # Writing ------------------------------------------------------------------------------------
    def new_thread(self, thread_id: str | None = None, *, history: Sequence[tuple[str, str]] = ()) -> str:
        thread_id = check_thread_id(thread_id) if thread_id else new_thread_id()
        check_history(history)
        with self._locked(thread_id):
            if self._values(thread_id) is not None:
                raise InputError(f"chat thread {thread_id!r} already exists")
            self._create(thread_id, history)
        return thread_id

    def _create(self, thread_id: str, history: Sequence[tuple[str, str]]) -> None:
        seeded = [{"question": str(q), "final": {"answer": str(a)}, "seeded": True, "at": utcnow()}
                  for q, a in history]
        self.graph.update_state(self._config(thread_id), {"answers": seeded, "objects": []}, as_node="finish")

    def send(self, thread_id: str | None, text: str, images: Sequence[ImageInput] = (), *, create: bool = False,
             history: Sequence[tuple[str, str]] = (), on_step: StepCallback | None = None,
             on_progress: ProgressCallback | None = None) -> ChatReply:
        text = (text or "").strip()
        if not text:
            raise InputError("the message is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"the message is longer than {MAX_TEXT_CHARS} characters")
        check_history(history)
        if thread_id is None:
            thread_id, create = new_thread_id(), True
        check_thread_id(thread_id)
        if create and not images and not self.exists(thread_id) and \
                self.route(text, ThreadState(id=thread_id, prior=list(history))).kind == "scene":
            raise InputError("attach an image first: this thread has none")  # before a thread or lock file exists
        # Decode and store the images before anything is committed: a bad image changes nothing.
        stored = [self._store_image(img) for img in images]
        made = done = False
        try:
            with self._locked(thread_id):
                state = self._load(thread_id, traces=False)
                if state is None:
                    if not create:
                        raise ThreadNotFound(f"no chat thread {thread_id!r}")
                    self._create(thread_id, history)
                    made = True
                    state = self._load(thread_id, traces=False)
                    assert state is not None
                decision = self.route(text, state)
                if decision.kind != "scene":
                    turn = self._answer_from_memory(state, text, stored, decision)
                else:
                    if not state.images and not stored:
                        raise InputError("attach an image first: this thread has none")
                    answer = self._run_turn(state, text, stored, on_event=turn_listener(on_step, on_progress))
                    turn = ChatTurn(index=len(state.turns), text=text,
                                    images=[i.id for i in state.images if i.turn == len(state.turns)], answer=answer)
                done = True
        finally:
            if made and not done:  # the thread was made for this turn, which failed: it never existed
                self._forget(thread_id)
        if decision.kind != "scene" and on_step is not None:  # answered from memory: its step, once it is done
            for step in turn.answer.steps:
                _safe_call(on_step, step)
        return ChatReply(thread_id=thread_id, turn=turn)

    def _forget(self, thread_id: str) -> None:
        """Remove a thread made for a turn that failed: its seeded checkpoint and its locks (nobody else can be
        waiting on them: the thread never existed for anyone else)."""
        try:
            self.store.delete_thread(thread_id)
        except Exception:  # noqa: BLE001 - the turn's own error is the one to report
            logger.warning("could not remove the empty thread %s", thread_id, exc_info=True)
        with self._locks_guard:
            self._locks.pop(thread_id, None)
        forget_lock(self.store, self.settings, thread_id)

    def _store_image(self, image: ImageInput) -> tuple[str, Any]:
        s = self.settings
        pil, _ = load_image(image, max_pixels=s.max_image_pixels, work_side=s.work_image_side,
                            allowed_roots=s.allowed_roots)
        return self.blobs.put(pil), pil

    def route(self, text: str, state: ThreadState) -> RouteDecision:
        """Which kind of message ``text`` is in this thread (``scene`` when routing is off)."""
        if self.router is None:
            return RouteDecision(kind="scene", reason="routing off")
        answers = [a for _, a in state.prior] + [t.answer.answer for t in state.turns if t.kind == "scene"]
        decision = self.router.route(text, earlier_answers=answers, has_history=bool(state.prior or state.turns))
        logger.debug("routed %r: %s (%s, %.1f ms)", text[:80], decision.kind, decision.reason,
                     decision.seconds * 1000)
        return decision

    def _is_scene(self, state: ThreadState) -> Any:
        """Whether a seeded earlier message was a question about the images (for counting the user's questions)."""
        answers = [a for _, a in state.prior]

        def check(text: str) -> bool:
            if self.router is None:
                return True
            return self.router.route(text, earlier_answers=answers, has_history=True).kind == "scene"
        return check

    def _answer_from_memory(self, state: ThreadState, text: str, stored: list[tuple[str, Any]],
                            decision: RouteDecision) -> ChatTurn:
        """Answer a conversation, help or small-talk message from the thread's history and traces, and commit it
        as a turn (with any images that came with it, so later questions can use them)."""
        start = time.perf_counter()
        kind: Kind = decision.kind
        full = self._load(state.id) if kind == "conversation" and state.turns else state  # with the traces
        assert full is not None
        index = len(state.turns)
        for sha, pil in stored:
            full.images.append(ThreadImage(id=full.next_image_id(), sha256=sha, width=pil.width, height=pil.height,
                                           turn=index))
        reply = self.answerer.answer(kind, text, full, is_scene=self._is_scene(full))
        step = reply.step(time.perf_counter() - start, route=f"{kind} (routed in {decision.seconds * 1000:.0f} ms)")
        record = {"question": text, "final": {"answer": reply.answer, "rationale": reply.rationale},
                  "finished": "answered", "kind": kind, "refers_to": reply.refers_to,
                  "llm": getattr(self.agent.backend, "name", "") if reply.usage is not None else "",
                  "images": [{"id": i.id, "width": i.width, "height": i.height, "sha256": i.sha256}
                             for i in full.images],
                  "steps": [step.model_dump(mode="json")], "at": utcnow(),
                  "route": decision.model_dump(mode="json")}
        self.graph.update_state(self._config(state.id), {"answers": [record]}, as_node="finish")
        answer = self._answer(record, state.id)
        answer.seconds = round(time.perf_counter() - start, 3)
        return ChatTurn(index=index, text=text, images=[i.id for i in full.images if i.turn == index],
                        answer=answer, kind=kind, refers_to=reply.refers_to, at=record["at"])

    def history_budget(self) -> int:
        return self.settings.chat_history_tokens or max(256, self.settings.llm_context // 4)

    def _run_turn(self, state: ThreadState, text: str, stored: list[tuple[str, Any]], *,
                  on_event: Any = None) -> Answer:
        """Restore the thread into a run context, add the new images, and run the graph on the thread."""
        start = time.perf_counter()
        index = len(state.turns)
        ctx = self.agent.new_context()
        for img in state.images:
            ctx.images.add_pil(self.blobs.get(img.sha256), source=f"thread image {img.id}", image_id=img.id)
        ctx.objects.update({o.id: o for o in state.objects})
        new_ids = []
        for sha, pil in stored:
            image_id = state.next_image_id()
            ctx.images.add_pil(pil, source=f"thread image {image_id}", image_id=image_id)
            state.images.append(ThreadImage(id=image_id, sha256=sha, width=pil.width, height=pil.height, turn=index))
            new_ids.append(image_id)
        focus = new_ids[-1] if new_ids else state.images[-1].id
        ids = [focus] + [i.id for i in state.images if i.id != focus]
        history = prompt_history(state, self.history_budget(), attached=new_ids)
        # One checkpoint per turn, written when it ends: the turn is committed whole, and a process killed during
        # it leaves the thread exactly as it was.
        return self.agent.run(ctx, ids, text, history=history, thread_id=state.id, start=start, durability="exit",
                              on_event=on_event)

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


def check_history(history: Sequence[tuple[str, str]]) -> None:
    """Earlier (question, answer) pairs a client brings obey the message bound too (they are stored with the
    thread, and checkpointed again with each of its turns)."""
    if len(history) > MAX_HISTORY_TURNS:
        raise InputError(f"the conversation has {len(history)} earlier turns; at most {MAX_HISTORY_TURNS} are "
                         "accepted (start a lavr thread and send only the new message)")
    for number, (question, answer) in enumerate(history, start=1):
        for role, text in (("question", question), ("answer", answer)):
            if len(str(text)) > MAX_TEXT_CHARS:
                raise InputError(f"earlier turn {number}: the {role} is longer than {MAX_TEXT_CHARS} characters")


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


def serializer() -> Any:
    """The checkpoint serializer, allowing exactly lavr's trace and record types (no pickle, nothing else)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    allowed = [("lavr.trace", name) for name in ("PlanStep", "ToolStep", "RetryStep", "RefusalStep", "AnswerStep",
                                                   "Answer")]
    allowed += [("lavr.schema", name) for name in ("ToolCall", "Usage", "Box", "Detection")]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


def open_sqlite(path: Path) -> Any:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    set_aside_if_damaged(path)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn, serde=serializer())
        saver.setup()
        conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ThreadStateError(f"{path}: the chat thread database is unreadable ({exc}); move it aside to start "
                               "with no threads, or restore it from a backup") from None
    return saver


def set_aside_if_damaged(path: Path) -> Path | None:
    """Check a thread database before anything writes to it (``PRAGMA quick_check`` on a read-only connection,
    as the expert cache does on open). A damaged one is renamed, with its WAL, to ``<name>.damaged-<timestamp>``
    and never written again; a new database starts, and a warning says where the old one went and how to read
    back what is left of it. Returns the new name, or None when the file is sound (or absent)."""
    import sqlite3

    from ..cache import is_corruption

    if not path.exists():
        return None
    try:
        probe = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30.0)
        try:
            result = probe.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            probe.close()
        problem = None if result is not None and result[0] == "ok" else " ".join(str(result and result[0]).split())
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            return None  # locked or unreachable, not damaged: opening it says so
        problem = str(exc)
    if problem is None:
        return None
    target = path.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S-%f}")
    path.replace(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    logger.warning("the chat thread database %s is damaged (%s): it was moved, untouched, to %s and a new, empty "
                   "one was started; read back what is left with: sqlite3 %s .recover", path, problem[:200],
                   target, target)
    return target


def open_postgres(url: str) -> Any:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:  # pragma: no cover - a dependency
        raise LavrError(f"PostgreSQL threads need langgraph-checkpoint-postgres and psycopg ({exc})") from None
    import psycopg

    try:  # one direct connection first: a wrong URL or a server that is down fails now, with its reason
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        raise LavrError(f"cannot use the PostgreSQL chat store ({str(exc).strip()[:300]})") from None
    # its connections return rows as dicts (the row factory), which PostgresSaver requires
    pool = cast("ConnectionPool[Connection[DictRow]]", ConnectionPool(
        url, min_size=1, max_size=8, open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}))
    try:
        pool.open(wait=True, timeout=15)
        saver = PostgresSaver(pool, serde=serializer())
        # Server processes that start together (lavr serve --workers N) would race to create the tables: CREATE
        # ... IF NOT EXISTS is not safe against a concurrent CREATE in PostgreSQL. One at a time, by a lock key,
        # polled (a statement left waiting on the lock would hold a snapshot that CREATE INDEX CONCURRENTLY, in the
        # process that has the lock, waits for).
        with pool.connection() as conn:
            deadline = time.monotonic() + 120

            def got_lock() -> bool:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (SETUP_LOCK_KEY,)).fetchone()
                return bool(row and row["got"])

            while not got_lock():
                if time.monotonic() > deadline:
                    raise LavrError("another process has been creating the chat tables for 2 minutes")
                time.sleep(0.1)
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
    except (psycopg.Error, Exception) as exc:
        pool.close()
        raise LavrError(f"cannot use the PostgreSQL chat store ({type(exc).__name__}: {str(exc)[:200]})") from None
    return saver


def close_checkpointer(saver: Any) -> None:
    conn = getattr(saver, "conn", None)
    if conn is not None:
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


def forget_lock(saver: Any, settings: Settings, thread_id: str) -> None:
    """Remove a thread's lock file (SQLite store; a PostgreSQL advisory lock leaves nothing behind)."""
    if getattr(getattr(saver, "conn", None), "__class__", type(None)).__name__ != "ConnectionPool":
        (settings.subdir("chat") / "locks" / f"{thread_id}.lock").unlink(missing_ok=True)
