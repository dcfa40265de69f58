"""Chat threads on the PostgreSQL checkpointer, against a real server started by the fixture."""

from __future__ import annotations

import threading

import pytest
from chat_helpers import answer, call, make_agent, photo
from postgres_server import postgres_url  # noqa: F401  (the fixture)

from lavr.chat import ChatSession
from lavr.chat.service import ChatThreads, open_postgres
from lavr.errors import ThreadNotFound


def test_threads_persist_in_postgres_and_resume_with_a_new_service(settings, postgres_url):  # noqa: F811
    settings = settings.model_copy(update={"chat_postgres_url": postgres_url})
    agent, _ = make_agent(settings, [call("find", image="img_0"), answer("2")])
    chat = ChatThreads(agent, settings=settings)
    assert type(chat.store).__name__ == "PostgresSaver"
    session = ChatSession(chat)
    assert session.send("How many people?", images=[photo()]).answer == "2"
    chat.close()

    # a new service (as after a restart) on the same database sees the thread, its objects and images
    agent2, backend2 = make_agent(settings, [call("where", object="obj_1"), answer("right")])
    chat2 = ChatThreads(agent2, settings=settings)
    resumed = ChatSession(chat2, session.id)
    assert resumed.send("Where is the second person?").answer == "right"
    assert resumed.history[1].answer.steps[1].result == "obj_1 is on the right of img_0"
    assert "Q: How many people? [attached img_0]" in backend2.requests[0]["messages"][1].content
    assert session.id in {t.id for t in chat2.threads()}
    with pytest.raises(ThreadNotFound):
        chat2.history("not-there")
    chat2.close()


def test_two_services_writing_one_thread_are_serialised_by_postgres(settings, postgres_url):  # noqa: F811
    """Two processes' worth of services (separate pools) on one thread: the advisory lock orders the turns."""
    settings = settings.model_copy(update={"chat_postgres_url": postgres_url})
    a_agent, _ = make_agent(settings, [answer("a")], repeat_last=True)
    b_agent, _ = make_agent(settings, [answer("b")], repeat_last=True)
    a, b = ChatThreads(a_agent, settings=settings), ChatThreads(b_agent, settings=settings)
    tid = ChatSession(a).id
    a.send(tid, "first", [photo()])
    errors = []

    def write(service, n):
        try:
            for k in range(3):
                service.send(tid, f"{n}{k}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(a, "a")), threading.Thread(target=write, args=(b, "b"))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors
    turns = a.history(tid)
    assert len(turns) == 7 and [t.index for t in turns] == list(range(7))
    assert sorted(t.text for t in turns[1:]) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    a.close()
    b.close()


def test_unreachable_postgres_is_a_clear_error(settings):
    from chat_helpers import free_port

    from lavr.errors import LavrError

    with pytest.raises(LavrError, match="cannot use the PostgreSQL chat store"):
        open_postgres(f"postgresql://lavr@127.0.0.1:{free_port()}/postgres?connect_timeout=2")
