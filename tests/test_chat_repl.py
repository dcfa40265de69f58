"""The ``lavr chat`` REPL over a chat service with a scripted LLM: /image, questions, /trace, /threads, /new."""

from __future__ import annotations

import io

from chat_helpers import answer, call, make_chat, png_bytes, photo
from lavr.chat.cli import Repl
from lavr.cli import build_parser


def test_repl_session(settings, tmp_path):
    img = tmp_path / "p.png"
    img.write_bytes(png_bytes(photo()))
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2", "find says two"),
                                   call("where", object="obj_1"), answer("right"), answer("fresh")])
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(chat, out=out, err=err)
    lines = [f"/image {img}", "How many people?", "/trace", "Where is obj_1?", "/threads", "/bogus",
             f"/image {tmp_path / 'missing.png'}", "/new", "/image " + str(img), "Who is in this one?", "/quit", "never read"]
    assert repl.run(iter(lines)) == 0
    text = out.getvalue()
    assert "attached" in text and "\n2\n" in text and "\nright\n" in text and "\nfresh\n" in text
    assert "#1 find(" in text and "found: obj_0 person" in text              # /trace of turn 1
    assert text.count(" turns ") == 1 and "How many people?" in text          # /threads before /new
    errors = err.getvalue().splitlines()
    assert errors[0].startswith("lavr: error: unknown command /bogus")
    assert errors[1].startswith("lavr: error: ") and "missing.png: no such file" in errors[1]
    threads = chat.threads()
    assert sorted(t.turns for t in threads) == [1, 2]
    assert text.rstrip().endswith(f"thread: {repl.thread_id}") and "never read" not in text


def test_repl_resumes_a_thread_and_refuses_unknown_ones(settings):
    chat, _ = make_chat(settings, [answer("2"), answer("3")])
    tid = chat.send(None, "How many?", [photo()]).thread_id
    out = io.StringIO()
    Repl(chat, thread_id=tid, out=out, err=io.StringIO()).run(iter(["and now?"]))
    assert "\n3\n" in out.getvalue() and len(chat.history(tid)) == 2
    try:
        Repl(chat, thread_id="nope")
    except Exception as exc:
        assert "no chat thread 'nope'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown thread was accepted")


def test_cli_has_chat_and_serve():
    args = build_parser().parse_args(["serve", "--port", "9000"])
    assert (args.host, args.port, args.mode) == ("127.0.0.1", 9000, "auto")
    args = build_parser().parse_args(["chat", "--image", "sample:bus", "--thread", "t1"])
    assert (args.image, args.thread) == ("sample:bus", "t1")
