"""``lavr chat`` as a person uses it: the real command under a pseudo-terminal (pexpect), with the scripted LLM and
test tools (``chat_repl_proc.py``; the "find" expert takes 1.5 s). The prompt edits lines and recalls history, the
status line names the tool running while it runs, the thread id comes when the thread starts, a question with no
image starts nothing, ``/trace all`` shows a long result whole, and ``--thread`` shows the last turns."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

HERE = Path(__file__).resolve().parents[1]  # tests/, where chat_repl_proc.py is
UP, CTRL_A = "\x1b[A", "\x01"


def spawn(data: Path, *options: str):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), LAVR_DATA_DIR=str(data), TERM="xterm",
               PROMPT_TOOLKIT_NO_CPR="1", PAGER="cat")  # no terminal answers cursor-position requests here
    child = pexpect.spawn(sys.executable, [str(HERE / "chat_repl_proc.py"), str(data), *options], env=env,
                          encoding="utf-8", dimensions=(30, 110), timeout=60)
    child.logfile_read = open(data / "screen.log", "a", encoding="utf-8")  # noqa: SIM115 - closed with the child
    return child


def prompt(child) -> None:
    child.expect_exact("lavr>")
    time.sleep(0.2)  # let prompt_toolkit take the terminal before keys arrive


def ask(child, line: str) -> None:
    child.send(line + "\r")


def test_terminal_chat_under_a_pseudo_terminal(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    child = spawn(data)
    try:
        child.expect_exact("lavr chat: starting")  # said before the slow start-up, not after
        child.expect_exact("threads in SQLite")
        prompt(child)
        ask(child, "How many people?")
        child.expect_exact("attach an image first: /image PATH (or /image sample:bus), then ask again; "
                           "no thread was started")
        prompt(child)
        ask(child, "/threads")
        child.expect_exact("no threads yet")  # the image-less question left no empty thread
        prompt(child)
        ask(child, "/image sample:bus")
        child.expect_exact("attached sample:bus (810x1080; sent with your next message)")
        prompt(child)
        ask(child, "How many people?")
        # the status line says what runs while it runs (the expert takes 1.5 s), then the thread id, the answer
        child.expect_exact("running find on img_0")
        child.expect(r"new thread (t_[0-9a-f]{16}) \(resume it with: lavr chat --thread t_[0-9a-f]{16}\)\r\n2\r\n")
        thread = child.match.group(1)
        child.expect(r"\(3 steps · [0-9.]+ s · /trace to see how\)")
        prompt(child)
        # line editing: type the end of the line, jump to its start (Ctrl-A), type the first letter
        child.send("here is obj_1?")
        child.send(CTRL_A + "W\r")
        child.expect_exact("running where on obj_1")
        child.expect_exact("right\r\n  (3 steps")
        prompt(child)
        # history: the arrow up brings the last line back
        child.send(UP)
        child.expect_exact("Where is obj_1?")
        child.send("\r")
        child.expect_exact("right\r\n  (3 steps")
        prompt(child)
        ask(child, "Describe it")
        child.expect_exact("40 grey cubes\r\n  (3 steps")
        prompt(child)
        ask(child, "/trace all")  # longer than the screen: through the pager (cat here), whole
        child.expect_exact("#1 tool describe")
        child.expect_exact("  result:")
        child.expect_exact("END-OF-SCENE")
        prompt(child)
        ask(child, "/quit")
        child.expect_exact(f"thread: {thread}")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (data / "chat" / "repl_history").read_text()
    assert "+Where is obj_1?" in history and "+/image sample:bus" in history

    # resuming shows the last turns, then Ctrl-D ends the session
    child = spawn(data, "--thread", thread)
    try:
        child.expect_exact(f"resuming thread {thread} (4 turns):")
        child.expect_exact("(1 earlier turns;")
        child.expect_exact("you:  Where is obj_1?\r\n  lavr: right\r\n  you:  Where is obj_1?\r\n  lavr: right\r\n"
                           "  you:  Describe it\r\n  lavr: 40 grey cubes")
        prompt(child)
        child.sendcontrol("d")
        child.expect_exact(f"thread: {thread}")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
