"""The ``lavr chat`` REPL over a chat service with a scripted LLM, in-process (piped output, and the status line on a
stand-in terminal): /image, questions, the thread id when a thread starts, /trace folded and in full, /threads,
/new, no empty threads, resuming with the last turns. ``test_chat_terminal.py`` drives the real command under a
pseudo-terminal."""

from __future__ import annotations

import io

from chat_helpers import Describe, answer, call, make_chat, photo, png_bytes

from lavr.chat.cli import Repl
from lavr.cli import build_parser


class Terminal(io.StringIO):
    """A stand-in terminal: what is written, and isatty() true."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_repl_session(settings, tmp_path):
    img = tmp_path / "p.png"
    img.write_bytes(png_bytes(photo()))
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2", "find says two"),
                                   call("where", object="obj_1"), answer("right"), answer("fresh")])
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(chat, out=out, err=err)
    lines = [f"/image {img}", "How many people?", "/trace", "/trace 1", "/trace 7", "Where is obj_1?", "/threads",
             "/bogus", f"/image {tmp_path / 'missing.png'}", "/new", "How many are there?", "/threads",
             "/image " + str(img), "Who is in this one?", "/quit", "never read"]
    assert repl.run(iter(lines)) == 0
    text = out.getvalue()
    first = next(t.id for t in chat.threads() if t.turns == 2)
    assert f"attached {img} (96x64; sent with your next message)" in text
    # the thread id is said when the thread starts, before its first answer; only then
    assert f"new thread {first} (resume it with: lavr chat --thread {first})\n2\n" in text
    assert text.count(f"new thread {first}") == 1 and "\nright\n" in text and "\nfresh\n" in text
    # /trace folded: one line per step, then how to see more; /trace 1: that step in full
    folded = text.split("/trace N shows step N")[0]
    rows = [line.split(" · ", 1)[0] + " " + line.split(" s: ", 1)[1] for line in folded.splitlines()
            if line.startswith("#")]
    assert rows == ['#0 plan use find -> find({"image": "img_0"})',
                    '#1 tool find {"image": "img_0"} -> found: obj_0 person [0.050, 0.200, 0.350, 0.900]; obj_…',
                    "#2 answer answer: 2 (find says two)"]
    assert "  args:\n    {\n     \"image\": \"img_0\"\n    }\n  result:\n    found: obj_0 person" in text
    errors = err.getvalue().splitlines()
    assert errors[0] == "lavr: error: no step '7' in the last turn: steps are 0, 1, 2"
    assert errors[1].startswith("lavr: error: unknown command /bogus")
    assert errors[2].startswith("lavr: error: ") and "missing.png: no such file" in errors[2]
    # a question with no image in a new thread asks for one and starts nothing
    assert "attach an image first: /image PATH (or /image sample:bus), then ask again; no thread was started" in text
    assert text.count(" turns ") == 2 and "How many people?" in text
    assert sorted(t.turns for t in chat.threads()) == [1, 2]
    assert text.rstrip().endswith(f"thread: {repl.thread_id}") and "never read" not in text


def test_trace_shows_long_results_whole(settings, tmp_path):
    """A scene of 2,500 characters is not cut (the old /trace stopped at 300): folded to one line, whole in full."""
    chat, _ = make_chat(settings, [call("describe", image="img_0"), answer("40")], tools=[Describe(settings)])
    out = io.StringIO()
    Repl(chat, out=out, err=io.StringIO()).run(iter(["/image sample:bus", "Describe it", "/trace", "/trace all"]))
    text = out.getvalue()
    folded, full = text.split("/trace N shows step N")
    line = next(line for line in folded.splitlines() if line.startswith("#1 tool describe"))
    assert len(line) == 100 and line.endswith("…")  # one line, as wide as the terminal
    result = full.split("  result:\n")[1].split("\n\n")[0].splitlines()
    assert len(result) > 20 and all(len(line) <= 100 and line.startswith("    ") for line in result)
    step = chat.history(chat.threads()[0].id)[0].answer.steps[1]
    assert " ".join(line.strip() for line in result) == step.result and len(step.result) > 2200
    assert step.result.endswith("thing_39 is a grey cube at [0.039, 0.100, 0.139, 0.900]; END-OF-SCENE")


def test_status_line_says_what_runs_while_a_turn_works(settings, tmp_path):
    """On a terminal, the status line names the tool running on which image, from the turn's live step events,
    and is erased before the answer."""
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2")])
    out = Terminal()
    repl = Repl(chat, out=out, err=io.StringIO())
    assert repl.interactive
    repl.run(iter(["/image sample:bus", "How many people?"]))
    text = out.getvalue()
    shown = [part.split(" · ")[0][2:] for part in text.split("\r\x1b[2K") if part[:1] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"]
    order = list(dict.fromkeys(shown))
    assert order[:4] == ["sending sample:bus", "thinking (react planner)", "#0 plan", "running find on img_0"], order
    assert "#1 tool find" in order and order.index("running find on img_0") < order.index("#1 tool find")
    assert "\r\x1b[2Knew thread t_" in text  # the line is cleared before the answer is printed
    assert "\n2\n  (3 steps · " in text and "/trace to see how)" in text


def test_repl_resumes_a_thread_showing_its_last_turns_and_refuses_unknown_ones(settings):
    chat, _ = make_chat(settings, [answer(str(n)) for n in range(6)], router=False)  # made-up messages
    tid = chat.send(None, "How many?", [photo()]).thread_id
    for n in range(1, 5):
        chat.send(tid, f"question {n}")
    out = io.StringIO()
    Repl(chat, thread_id=tid, out=out, err=io.StringIO()).run(iter(["/trace", "and now?"]))
    text = out.getvalue()
    assert text.startswith(f"resuming thread {tid} (5 turns):\n  (2 earlier turns;")
    assert "  you:  question 2\n  lavr: 2\n  you:  question 3\n  lavr: 3\n  you:  question 4\n  lavr: 4\n" in text
    assert "How many?" not in text and "#0 answer" in text  # /trace works on the resumed thread's last turn
    assert "\n5\n" in text and len(chat.history(tid)) == 6 and "new thread" not in text
    try:
        Repl(chat, thread_id="nope")
    except Exception as exc:
        assert "no chat thread 'nope'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown thread was accepted")


def test_cli_has_chat_and_serve():
    args = build_parser().parse_args(["serve", "--port", "9000"])
    assert (args.host, args.port, args.mode, args.workers) == ("127.0.0.1", 9000, "auto", 1)
    args = build_parser().parse_args(["chat", "--image", "sample:bus", "--thread", "t1"])
    assert (args.image, args.thread) == ("sample:bus", "t1")
