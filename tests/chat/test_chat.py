"""Chat threads on the SQLite checkpointer, driven by a scripted LLM: references across turns, several images,
history trimming, resuming in a new process, bad thread ids, corrupt stores, two writers on one thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from chat_helpers import FindPeople, Where, answer, call, make_agent, make_chat, photo

from lavr.backends import ScriptedBackend
from lavr.chat import ChatSession
from lavr.chat.service import ChatThreads
from lavr.chat.thread import ThreadState, prompt_history, trim_history
from lavr.errors import ImageError, InputError, ThreadNotFound, ThreadStateError

REPO = Path(__file__).resolve().parents[2]


def question_text(backend: ScriptedBackend, n: int) -> str:
    return backend.requests[n]["messages"][1].content


def test_follow_up_resolves_an_object_of_an_earlier_turn(settings):
    chat, backend = make_chat(settings, [
        call("find", image="img_0"), answer("2", "find reported obj_0 and obj_1"),
        call("where", object="obj_1"), answer("right", "obj_1 is on the right"),
    ])
    session = ChatSession(chat)
    first = session.send("How many people?", images=[photo()])
    assert first.answer == "2" and [s.kind for s in first.steps] == ["plan", "tool", "answer"]
    second = session.send("Where is the second one?")
    # the follow-up's prompt names the objects found in turn 1, and the tool resolved obj_1 from turn 1
    prompt = question_text(backend, 2)
    assert "obj_1 person [0.600, 0.100, 0.950, 0.950]" in prompt and "Q: How many people?" in prompt
    assert second.steps[1].error is None and second.steps[1].result == "obj_1 is on the right of img_0"
    assert [t.answer.answer for t in session.history] == ["2", "right"]
    assert session.history[0].images == ["img_0"] and session.history[1].images == []


def test_two_images_in_one_thread_keep_their_ids(settings):
    chat, backend = make_chat(settings, [
        call("find", image="img_0"), answer("2"),
        call("find", image="img_1"), answer("2"),
        call("where", object="obj_2"), answer("left", "obj_2 in img_1 is on the left"),
    ])
    session = ChatSession(chat)
    session.send("How many people here?", images=[photo((200, 0, 0))])
    second = session.send("And in this one?", images=[photo((0, 0, 200))])
    assert second.image == "img_1" and session.history[1].images == ["img_1"]
    prompt = question_text(backend, 2)
    assert "Images in this thread: img_0 (96x64), img_1 (96x64); img_1 attached with the question below" in prompt
    assert "Image img_1: 96x64 pixels. Image img_0: 96x64 pixels." in prompt
    # objects of the second image got new ids; the first image's objects kept theirs
    third = session.send("Where is obj_2?")
    where = third.steps[1]
    assert where.data["image"] == "img_1" and where.data["side"] == "left"
    state = chat.state(session.id)
    assert [(o.id, o.image) for o in state.objects] == [("obj_0", "img_0"), ("obj_1", "img_0"),
                                                         ("obj_2", "img_1"), ("obj_3", "img_1")]
    assert len({i.sha256 for i in state.images}) == 2


def test_history_is_trimmed_by_whole_turns_to_the_budget(settings):
    settings = settings.model_copy(update={"chat_history_tokens": 120})
    replies = []
    for n in range(6):
        replies += [answer(f"answer number {n}", "x" * 40)]
    chat, backend = make_chat(settings, replies, router=False)  # made-up messages: no routing
    session = ChatSession(chat)
    for n in range(6):
        session.send(f"question number {n} " + "y" * 60, images=[photo()] if n == 0 else [])
    last_prompt = question_text(backend, 5)
    assert "question number 4" in last_prompt           # the newest earlier turn is kept whole
    assert "question number 0" not in last_prompt        # the oldest are dropped whole, never cut
    dropped = int(last_prompt.split("earlier turns omitted")[0].rsplit("(", 1)[1])
    kept = last_prompt.count("Q: question number")
    assert dropped + kept == 5 and dropped >= 1
    assert len(session.history) == 6                     # trimming is for the prompt only


def test_trim_history_keeps_newest_whole_pairs():
    pairs = [(f"q{n}" + "a" * 36, "b" * 36) for n in range(10)]
    kept, dropped = trim_history(pairs, 100)
    assert kept == pairs[-len(kept):] and dropped == 10 - len(kept) and 1 <= len(kept) < 10
    assert trim_history(pairs, 0) == ([], 10)


def test_prompt_history_budget_comes_from_the_backend_context(settings):
    chat, _ = make_chat(settings.model_copy(update={"llm_context": 4096}), [])
    assert chat.history_budget() == 1024
    state = ThreadState(id="t", prior=[("q", "a")])
    assert prompt_history(state, 1024) == [("q", "a")]


def _resume_script(data_dir: Path) -> str:
    return f"""
import sys
sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'tests')!r}]
from pathlib import Path
from chat_helpers import answer, call, make_chat
from lavr.chat import ChatSession
from lavr.settings import Settings
settings = Settings(data_dir=Path({str(data_dir)!r}), llm="scripted")
chat, backend = make_chat(settings, [call("where", object="obj_0"), answer("left")])
session = ChatSession(chat, sys.argv[1])
ans = session.send("Where is the first person?")
print(ans.answer, ans.steps[1].result, len(session.history))
print(backend.requests[0]["messages"][1].content)
"""


def test_thread_resumes_in_a_new_process(settings, tmp_path):
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2")])
    session = ChatSession(chat)
    session.send("How many people?", images=[photo()])
    chat.close()
    script = tmp_path / "resume.py"
    script.write_text(_resume_script(settings.data_dir))
    out = subprocess.run([sys.executable, str(script), session.id], capture_output=True, text=True, timeout=120,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    first, *prompt = out.stdout.splitlines()
    assert first == "left obj_0 is on the left of img_0 2"   # obj_0 and img_0 were restored from the checkpoint
    assert "Q: How many people? [attached img_0]" in "\n".join(prompt)
    assert "unregistered type" not in out.stderr  # the checkpoint serializer knows lavr's trace types


def test_unknown_and_invalid_thread_ids(settings):
    chat, _ = make_chat(settings, [answer("x")])
    with pytest.raises(ThreadNotFound, match="no chat thread 'nope'"):
        chat.send("nope", "hello", [photo()])
    with pytest.raises(ThreadNotFound):
        ChatSession(chat, "nope")
    with pytest.raises(InputError, match="invalid thread id"):
        chat.history("../etc/passwd")
    tid = chat.new_thread("mine")
    with pytest.raises(InputError, match="already exists"):
        chat.new_thread("mine")
    with pytest.raises(InputError, match="attach an image first"):
        chat.send(tid, "how many?")
    assert chat.history(tid) == []


def test_bad_input_changes_nothing(settings, tmp_path):
    chat, _ = make_chat(settings, [answer("2")])
    session = ChatSession(chat)
    session.send("How many?", images=[photo()])
    bad = tmp_path / "not.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError):
        session.send("and this?", images=[bad])
    with pytest.raises(InputError, match="empty"):
        session.send("   ")
    assert len(session.history) == 1 and len(chat.state(session.id).images) == 1


def test_a_failing_turn_leaves_the_thread_as_it_was(settings):
    def boom(messages):
        raise RuntimeError("backend fell over")

    chat, _ = make_chat(settings, [answer("2"), boom])
    session = ChatSession(chat)
    session.send("How many?", images=[photo()])
    with pytest.raises(RuntimeError):
        session.send("and now?")
    assert [t.text for t in session.history] == ["How many?"]


def test_corrupt_store_file_is_set_aside_untouched(settings, caplog):
    path = settings.subdir("chat") / "threads.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    agent, _ = make_agent(settings, [])
    with caplog.at_level("WARNING", logger="lavr.chat.service"):
        chat = ChatThreads(agent, settings=settings)
    aside = list(path.parent.glob("threads.sqlite.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"this is not a database" * 100  # nothing overwritten
    assert "is damaged" in caplog.text and str(aside[0]) in caplog.text and chat.threads() == []


def test_corrupt_checkpoint_row_affects_only_its_thread(settings):
    chat, _ = make_chat(settings, [answer("2")], repeat_last=True)
    good, bad = ChatSession(chat), ChatSession(chat)
    good.send("How many?", images=[photo()])
    bad.send("How many?", images=[photo()])
    with chat.store.lock:
        chat.store.conn.execute("UPDATE writes SET value = X'c1c1c1' WHERE thread_id = ?", (bad.id,))
        chat.store.conn.execute("UPDATE checkpoints SET checkpoint = X'c1c1c1' WHERE thread_id = ?", (bad.id,))
        chat.store.conn.commit()
    with pytest.raises(ThreadStateError, match=f"thread '{bad.id}': stored state is unreadable"):
        chat.history(bad.id)
    assert len(good.history) == 1 and good.send("again?").answer == "2"
    listed = {t.id: t.title for t in chat.threads()}
    assert listed[bad.id] == "(unreadable)" and listed[good.id] == "How many?"


def test_two_writers_on_one_thread_are_serialised(settings):
    inside = threading.Event()
    overlap = []

    def slow_answer(messages):
        if inside.is_set():
            overlap.append(True)
        inside.set()
        time.sleep(0.3)
        inside.clear()
        return answer("ok")

    chat, backend = make_chat(settings, [slow_answer], repeat_last=True, router=False)  # made-up messages
    session = ChatSession(chat)
    session.send("first", images=[photo()])
    errors = []

    def writer(text):
        try:
            chat.send(session.id, text)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"from client {n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors and not overlap
    texts = [t.text for t in session.history]
    assert texts[0] == "first" and sorted(texts[1:]) == ["from client 0", "from client 1", "from client 2"]
    # each later turn saw every earlier one: none was lost or overwritten
    assert [t.index for t in session.history] == [0, 1, 2, 3]
    assert "Q: " + texts[2] in question_text(backend, 3)


def test_expert_outputs_are_reused_across_turns(settings):
    """A follow-up that runs the same expert on the same image hits the per-image cache."""
    from lavr.agents import Agent

    backend = ScriptedBackend([call("find", image="img_0"), answer("2"), call("find", image="img_0"), answer("2")])
    agent = Agent(backend, settings=settings.model_copy(update={"num_examples": 0}), tools=[FindPeople(settings)])
    chat = ChatThreads(agent, settings=settings)
    FindPeople.calls = 0
    session = ChatSession(chat)
    session.send("How many?", images=[photo()])
    again = session.send("How many, again?")
    assert again.steps[1].cached and FindPeople.calls == 1


def test_a_react_chat_lives_in_the_agents_graph(settings):
    """The thread lives in the runner graph's checkpointed state: messages, images, object ids, records (query
    mode's chat: tests/chat/test_chat_query.py)."""
    from lavr.agents import make_agent as make_mode_agent

    mode = "react"
    s = settings.model_copy(update={"num_examples": 0})
    replies = [call("find", image="img_0"), answer("2"), call("where", object="obj_1"), answer("right")]
    agent = make_mode_agent(mode, ScriptedBackend(replies), settings=s, tools=[FindPeople(s), Where(s)],
                            cache=False)
    chat = ChatThreads(agent, settings=s)
    session = ChatSession(chat)
    session.send("How many people?", images=[photo()])
    second = session.send("Where is obj_1?")
    assert second.answer == "right" and second.mode == mode
    assert any(st.kind == "tool" and st.result == "obj_1 is on the right of img_0" for st in second.steps)
    values = chat.graph.get_state({"configurable": {"thread_id": session.id}}).values
    assert [r["question"] for r in values["answers"]] == ["How many people?", "Where is obj_1?"]
    assert tuple(values["history"][-1]) == ("Where is obj_1?", "right")
    assert [o["id"] for o in values["objects"]] == ["obj_0", "obj_1"]
    assert [i["id"] for i in values["images"]] == ["img_0"] and values["images"][0]["sha256"]
    assert [t.answer.answer for t in session.history] == ["2", "right"]
