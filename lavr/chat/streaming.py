"""One chat turn as a stream of events for a synchronous reader (the web page's handlers): the turn runs in a thread
of its own, and its run events (``Progress`` and trace steps, as ``ChatService.send`` reports them) come out in
order as they happen. The server's SSE stream reads the same events on its event loop (``server._stream``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .models import ChatReply

_END = object()


class TurnStream:
    """Iterate for a turn's events; afterwards ``reply`` holds the committed turn, or ``error`` what it raised.

    Args:
        send: ``service.send`` with everything bound but ``on_step`` and ``on_progress``.

    A reader that stops early (a closed page) leaves the turn running to its commit, as a client that hangs up on
    the API does.
    """

    def __init__(self, send: Callable[..., ChatReply]):
        self._send = send
        self._events: queue.Queue[Any] = queue.Queue()
        self.reply: ChatReply | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lavr-page-turn", daemon=True)

    def _run(self) -> None:
        try:
            self.reply = self._send(on_step=self._events.put, on_progress=self._events.put)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, who reports it
            self.error = exc
        finally:
            self._events.put(_END)

    def start(self) -> TurnStream:
        """Start the turn (iterating starts it too)."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return self

    def ready(self) -> list[Any]:
        """The events that have arrived so far, without waiting (the end stays for ``batches``)."""
        got: list[Any] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is _END:
                self._events.put(_END)
                break
            got.append(event)
        return got

    def batches(self) -> Iterator[list[Any]]:
        """The events in order, each time as many as have arrived (at least one)."""
        self.start()
        while True:
            batch = [self._events.get()]
            while not self._events.empty():
                batch.append(self._events.get_nowait())
            done = batch[-1] is _END
            if done:
                batch.pop()
            if batch:
                yield batch
            if done:
                return

    def __iter__(self) -> Iterator[Any]:
        self.start()
        while True:
            event = self._events.get()
            if event is _END:
                return
            yield event
