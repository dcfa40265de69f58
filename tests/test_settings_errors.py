"""Bad settings and options end in one line, ``lavr: error: ...``, and exit 2 (issue 9), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lavr.cli import main
from lavr.errors import InputError, SettingsError
from lavr.settings import Settings


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("lavr: error: "), err
    assert "Traceback" not in err
    return err


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("name,value,needles", [
    ("LAVR_MAX_STEPS", "-1", ["LAVR_MAX_STEPS='-1'", "an integer at least 1 and at most 50"]),
    ("LAVR_MAX_STEPS", "51", ["LAVR_MAX_STEPS='51'", "at most 50"]),
    ("LAVR_TOOL_TIMEOUT_S", "abc", ["LAVR_TOOL_TIMEOUT_S='abc'", "a number above 0"]),
    ("LAVR_TOOL_TIMEOUT_S", "0", ["LAVR_TOOL_TIMEOUT_S='0'", "above 0"]),
    ("LAVR_DEVICE", "tpu", ["LAVR_DEVICE='tpu'", "one of cpu, cuda, mps, auto"]),
    ("LAVR_CACHE_MAX_BYTES", "-1", ["LAVR_CACHE_MAX_BYTES", "at least 1"]),
    ("LAVR_ALLOWED_ROOTS", "[oops", ["LAVR_ALLOWED_ROOTS: not valid JSON", '["/data/images"]']),
    ("LAVR_ALLOWED_ROOTS", '[""]', ["LAVR_ALLOWED_ROOTS", "an empty entry is not a folder"]),
    ("LAVR_ALLOWED_ROOTS", '["."]', ["LAVR_ALLOWED_ROOTS", "'.' is not an absolute path"]),
    ("LAVR_ALLOWED_ROOTS", '["images"]', ["'images' is not an absolute path"]),
    ("LAVR_MAX_IMAGE_PIXELS", "0", ["LAVR_MAX_IMAGE_PIXELS", "at least 16"]),
    # issue 18: values that were silently taken to mean something else
    ("LAVR_DATA_DIR", "", ["LAVR_DATA_DIR=''", "an empty value would mean the working folder"]),
    ("LAVR_CHAT_HISTORY_TOKENS", "-5", ["LAVR_CHAT_HISTORY_TOKENS='-5'", "at least 1"]),
    ("LAVR_SERVER_TOKEN", "", ["LAVR_SERVER_TOKEN", "an empty token would turn auth off", "unset it"]),
    ("LAVR_SERVER_TOKEN", " s3cret ", ["LAVR_SERVER_TOKEN=(the value is not shown)", "spaces around the token"]),
])
def test_bad_environment_settings_are_one_line(data_env, monkeypatch, capsys, name, value, needles):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError):
        Settings()  # the Python API: a typed error (an InputError and a ValueError)
    for argv in (["tools"], ["cache", "stats"]):
        assert main(argv) == 2
        err = _one_error_line(capsys)
        assert all(n in err for n in needles), err


@pytest.mark.parametrize("value", ["-1", "0", "80"])
def test_max_steps_option_is_validated_not_ignored(data_env, capsys, value):
    assert main(["ask", "sample:bus", "How many?", "--max-steps", value]) == 2
    err = _one_error_line(capsys)
    assert f"--max-steps {value} is not allowed; allowed: an integer at least 1 and at most 50" in err


def test_max_steps_option_is_validated_in_eval_too(data_env, capsys):
    (data_env / "d.jsonl").write_text("")
    assert main(["eval", str(data_env / "d.jsonl"), "--out", str(data_env / "r.jsonl"), "--max-steps", "0"]) == 2
    assert "--max-steps 0 is not allowed" in _one_error_line(capsys)


def test_settings_keyword_is_named_as_given():
    with pytest.raises(SettingsError, match=r"^max_steps=0 is not allowed .* at least 1 and at most 50$"):
        Settings(max_steps=0)
    assert isinstance(SettingsError("x"), InputError) and isinstance(SettingsError("x"), ValueError)


def test_absolute_allowed_roots_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("LAVR_ALLOWED_ROOTS", json.dumps([str(tmp_path), "~/pictures"]))
    assert Settings().allowed_roots == [tmp_path, Path("~/pictures").expanduser()]


@pytest.mark.parametrize("make_dir", [
    lambda p: p / "afile",  # a file, not a folder
    lambda p: p / "afile" / "below",  # below a file
    lambda p: Path("/proc/lavr-data"),  # a folder nobody can create
])
def test_unusable_data_dir_is_one_line(tmp_path, monkeypatch, capsys, make_dir):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("LAVR_DATA_DIR", str(make_dir(tmp_path)))
    assert main(["cache", "stats"]) == 2
    err = _one_error_line(capsys)
    assert "LAVR_DATA_DIR=" in err and "allowed: a writable folder" in err


def test_trace_html_to_a_missing_folder_is_refused_before_any_work(data_env, capsys):
    target = data_env / "no" / "such" / "trace.html"
    # --llm names a server nobody runs: were the path checked after the LLM work, this would fail differently
    assert main(["ask", "sample:bus", "How many?", "--llm", "openai:m", "--trace-html", str(target)]) == 2
    err = _one_error_line(capsys)
    assert "--trace-html" in err and "does not exist" in err
    assert main(["ask", "sample:bus", "How many?", "--trace-html", str(data_env)]) == 2
    assert "is a folder" in _one_error_line(capsys)


def test_threads_of_one_process_can_check_the_data_folder_at_once(tmp_path):
    """The LLM's warm-up thread and the question both check ``models``: each check writes a file of its own (one
    name per process made one thread's check fail now and then with 'No such file or directory')."""
    import threading

    settings = Settings(data_dir=tmp_path)
    errors: list[Exception] = []

    def check_many() -> None:
        for _ in range(300):
            try:
                settings.subdir("models")
            except SettingsError as exc:  # pragma: no cover - the failure this test is about
                errors.append(exc)

    threads = [threading.Thread(target=check_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list((tmp_path / "models").iterdir()) == []  # no probe left behind
