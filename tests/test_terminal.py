"""Text lavr prints to a terminal never carries live control characters (issue 18): LLM answers, rationales,
``/trace``, ids from datasets and error messages show ESC, BEL, CSI/OSC and C1 controls visibly (``\\x1b``)."""

from __future__ import annotations

import io
import json

from chat_helpers import answer, call, make_chat, photo, png_bytes
from eval_helpers import ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image

from lavr.chat.cli import Repl
from lavr.cli import main
from lavr.terminal import for_terminal

PWNED = "\x1b]0;PWNED\x07\x1b[2J"  # retitle the window, then clear the screen
C1 = "\x9b31m\x9d0;x\x9c"  # the same as single C1 controls: CSI, OSC, ST


def live_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]


def test_the_helper_shows_controls_and_keeps_text():
    assert for_terminal(PWNED) == "\\x1b]0;PWNED\\x07\\x1b[2J"
    assert for_terminal(C1) == "\\x9b31m\\x9d0;x\\x9c"
    assert for_terminal("caf\u00e9 \u4e2d\u6587\nline two\tcol") == "caf\u00e9 \u4e2d\u6587\nline two\tcol"
    assert for_terminal("a\rb\x00c\x7f") == "a\\x0db\\x00c\\x7f"
    dumped = json.dumps({"answer": PWNED + C1}, ensure_ascii=False)
    assert json.loads(for_terminal(dumped, json=True)) == {"answer": PWNED + C1}  # still the same JSON
    assert live_controls(for_terminal(dumped, json=True)) == []


def _replies(tmp_path, text: str, rationale: str) -> str:
    path = tmp_path / "replies.json"
    path.write_text(json.dumps({"replies": [{"thought": "t", "answer": text, "rationale": rationale}],
                                "repeat_last": True}))
    return f"scripted:{path}"


def test_ask_prints_the_answer_rationale_and_json_with_controls_escaped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48), (10, 200, 10)).save(image)
    llm = _replies(tmp_path, PWNED + C1, "because " + PWNED)
    assert main(["ask", str(image), "What does the sign say?", "--llm", llm, "--no-cache", "--rationale"]) == 0
    out, err = capsys.readouterr()
    assert live_controls(out) == [] and live_controls(err) == []
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in out and "rationale: because \\x1b]0;PWNED" in err
    assert main(["ask", str(image), "What does the sign say?", "--llm", llm, "--no-cache", "--json"]) == 0
    out = capsys.readouterr().out
    assert live_controls(out) == [] and json.loads(out)["answer"] == PWNED + C1  # valid JSON, same answer


def test_error_lines_escape_what_they_quote(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    llm = _replies(tmp_path, "4", "r")
    assert main(["ask", str(tmp_path / f"x{PWNED}.png"), "How many?", "--llm", llm]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lavr: error: ") and live_controls(err) == [] and "\\x1b]0;PWNED" in err


def test_eval_ids_and_error_reasons_are_escaped(ds_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    data = write_jsonl(ds_dir / "d.jsonl", [row(f"q{PWNED}", image="missing.png"), row("ok")])
    llm = _replies(tmp_path, "4", "r")
    main(["eval", str(data), "--out", str(tmp_path / "r.jsonl"), "--llm", llm, "--no-progress", "--no-cache"])
    out, err = capsys.readouterr()
    assert "q\\x1b]0;PWNED" in out and live_controls(out) == [] and live_controls(err) == []


def test_the_chat_repl_escapes_answers_trace_titles_and_errors(settings, tmp_path):
    img = tmp_path / "p.png"
    img.write_bytes(png_bytes(photo()))
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer(PWNED, "because " + C1)])
    out, err = io.StringIO(), io.StringIO()
    lines = [f"/image {img}", f"How many {PWNED}?", "/trace", "/threads", f"/thread bad{PWNED}", f"/nope{C1}"]
    assert Repl(chat, out=out, err=err).run(iter(lines)) == 0
    assert live_controls(out.getvalue()) == [] and live_controls(err.getvalue()) == []
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in out.getvalue() and "\\x9b31m" in err.getvalue()
