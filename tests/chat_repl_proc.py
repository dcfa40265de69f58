"""``lavr chat`` (the real command: ``lavr.cli.main``) over the scripted LLM and the test tools, for the terminal
tests under a pseudo-terminal. The "find" expert takes ``FIND_DELAY_S`` (default 1.5 s) on an image it has not
seen, so the status line has something to show.

Usage: ``python tests/chat_repl_proc.py DATA_DIR [lavr chat options]`` (``LAVR_DATA_DIR`` should be DATA_DIR too:
the command keeps its prompt history there).
"""

import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from chat_helpers import Describe, FindPeople, answer, call, make_chat  # noqa: E402

import lavr.chat.session  # noqa: E402
from lavr.cli import main  # noqa: E402
from lavr.settings import Settings  # noqa: E402


def reply(messages):
    last = messages[-1].content
    if "Observation (find)" in last:
        return answer("2", "find reported obj_0 and obj_1")
    if "Observation (where)" in last:
        return answer("right", "obj_1 is on the right")
    if "Observation (describe)" in last:
        return answer("40 grey cubes")
    question = last.lower().split("question:")[-1]
    if "where is obj_1" in question:
        return call("where", object="obj_1")
    if "describe" in question:
        return call("describe", image="img_0")
    return call("find", image="img_0")


if __name__ == "__main__":
    FindPeople.delay_s = float(os.environ.get("FIND_DELAY_S", "1.5"))
    settings = Settings(data_dir=Path(sys.argv[1]), llm="scripted")
    chat, _ = make_chat(settings, [reply], repeat_last=True, tools=[Describe(settings)])
    lavr.chat.session.open_chat = lambda *args, **kwargs: chat  # what `lavr chat` opens: this scripted service
    sys.exit(main(["chat", *sys.argv[2:]]))
