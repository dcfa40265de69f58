"""The Python chat API: ``ChatSession.open(...).send(text, images=[...]) -> Answer``, with its history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..images import ImageInput
from ..settings import Settings
from ..trace import Answer
from .models import ChatService, ChatTurn


def open_chat(mode: str = "auto", llm: Any = None, *, settings: Settings | None = None, **agent_kwargs: Any) -> Any:
    """A ``ChatThreads`` service with an agent of the given planning mode (``make_agent``'s arguments)."""
    from ..agents import make_agent
    from .service import ChatThreads

    settings = settings or Settings()
    agent = make_agent(mode, llm if llm is not None else settings.llm, settings=settings, **agent_kwargs)
    return ChatThreads(agent, settings=settings)


class ChatSession:
    """One thread of a ``ChatService``::

        chat = ChatSession(open_chat())              # a new thread; ChatSession(service, "t_...") resumes one
        chat.send("How many people?", images=["bus.jpg"]).answer
        chat.send("And which one is leftmost?").answer
        chat.history                                 # the committed turns, oldest first
    """

    def __init__(self, service: ChatService, thread_id: str | None = None):
        self.service = service
        self.id = thread_id if thread_id is not None else service.new_thread()
        if thread_id is not None:
            service.history(thread_id)  # ThreadNotFound now rather than at the first send

    def send(self, text: str, images: Sequence[ImageInput] = ()) -> Answer:
        return self.service.send(self.id, text, images).turn.answer

    @property
    def history(self) -> list[ChatTurn]:
        return self.service.history(self.id)

    def last(self) -> ChatTurn | None:
        turns = self.history
        return turns[-1] if turns else None
