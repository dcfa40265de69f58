"""The chat seam: records of threads and turns, and the ``ChatService`` protocol the server, the web page and the
REPL are written against (they do not care how threads persist)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from ..agents.events import Progress
from ..errors import InputError
from ..images import ImageInput
from ..trace import Answer, Step

THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

StepCallback = Callable[[Step], None]
ProgressCallback = Callable[[Progress], None]


def turn_listener(on_step: StepCallback | None, on_progress: ProgressCallback | None) -> Callable[[Any], None] | None:
    """One ``Agent.run`` event listener that hands steps to ``on_step`` and progress to ``on_progress``."""
    if on_step is None and on_progress is None:
        return None

    def listen(event: Any) -> None:
        if isinstance(event, Progress):
            if on_progress is not None:
                on_progress(event)
        elif on_step is not None:
            on_step(event)

    return listen


def check_thread_id(thread_id: str) -> str:
    """A thread id is 1-64 characters of letters, digits, ``_ . -`` (it ends up in file names and SQL keys)."""
    if not isinstance(thread_id, str) or not THREAD_ID.fullmatch(thread_id):  # match() lets a final newline in
        raise InputError(f"invalid thread id {str(thread_id)[:80]!r}: use 1-64 letters, digits, '_', '.' or '-'")
    return thread_id


def completion_id(thread_id: str) -> str:
    """A completion id that names its thread: ``chatcmpl-<12 hex>-<thread id>``."""
    return f"chatcmpl-{uuid.uuid4().hex[:12]}-{thread_id}"


def thread_of_completion(completion: str) -> str | None:
    """The thread id inside a completion id this server gave (``completion_id``), else None."""
    head, _, rest = completion.partition("-")
    random, _, thread_id = rest.partition("-")
    if head != "chatcmpl" or len(random) != 12 or not thread_id:
        return None
    try:
        return check_thread_id(thread_id)
    except InputError:
        return None


def new_thread_id() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ThreadImage(BaseModel):
    """An image of a thread: its id (what the user and the LLM name), content hash and size."""

    id: str
    sha256: str
    width: int
    height: int
    turn: int = Field(description="The turn it was attached in.")


class ChatTurn(BaseModel):
    """One committed exchange: the user's text, the images attached with it, and the full ``Answer``."""

    index: int
    text: str
    images: list[str] = Field(default_factory=list, description="Ids of the images attached in this turn.")
    answer: Answer
    at: str = Field(default_factory=utcnow)
    kind: Literal["scene", "conversation", "help", "smalltalk"] = Field(
        "scene", description="What the message was (lavr.chat.routing): only scene questions go to the agent.")
    refers_to: int | None = Field(None, description="For a conversation turn: the index of the turn it is about.")


class ThreadInfo(BaseModel):
    """A thread in a listing."""

    id: str
    title: str = ""
    turns: int = 0
    images: list[ThreadImage] = Field(default_factory=list)
    updated: str = ""


class ChatReply(BaseModel):
    """What ``send`` returns: the thread it went to and the committed turn."""

    thread_id: str
    turn: ChatTurn

    @property
    def answer(self) -> Answer:
        return self.turn.answer


class ChatService(Protocol):
    """Threads of turns about images.

    ``send`` commits a turn atomically: when it returns, the turn is stored; when it raises, the thread is as it
    was. Turns of one thread are serialised; turns of different threads may run at once.
    """

    def new_thread(self, thread_id: str | None = None, *, history: Sequence[tuple[str, str]] = ()) -> str:
        """Create an empty thread (a fresh id unless one is given; ``history`` seeds earlier (question, answer)
        pairs a client kept itself) and return its id. ``InputError`` if ``thread_id`` exists already."""
        ...

    def exists(self, thread_id: str) -> bool:
        ...

    def send(self, thread_id: str | None, text: str, images: Sequence[ImageInput] = (), *, create: bool = False,
             history: Sequence[tuple[str, str]] = (), on_step: StepCallback | None = None,
             on_progress: ProgressCallback | None = None) -> ChatReply:
        """Ask ``text`` in a thread, attaching ``images`` first. ``thread_id`` None, or ``create`` with an id that
        does not exist yet, makes a new thread seeded with ``history`` (only once the input has been checked).
        ``on_step`` sees each trace step as it happens; ``on_progress`` what starts next (the planner, or which
        tools on which images). Both are called in the turn's thread, before ``send`` returns.

        Raises:
            ThreadNotFound: ``thread_id`` does not exist.
            InputError / ImageError: empty text, no image in the thread, an unreadable image.
        """
        ...

    def threads(self) -> list[ThreadInfo]:
        """Every thread, most recently updated first."""
        ...

    def history(self, thread_id: str) -> list[ChatTurn]:
        """The committed turns of a thread, oldest first (``ThreadNotFound`` if there is no such thread)."""
        ...

    def info(self, thread_id: str) -> ThreadInfo:
        ...

    def state(self, thread_id: str) -> Any:
        """The whole thread (``lavr.chat.thread.ThreadState``: images, objects, turns with their traces), read
        once (``ThreadNotFound`` if there is none)."""
        ...

    def image(self, thread_id: str, image_id: str) -> Any:
        """The PIL image ``image_id`` of a thread (for drawing traces)."""
        ...
