"""A chat server in its own process, with the scripted LLM and test tools, for the restart and SIGKILL tests.

Usage: ``python tests/chat_server_proc.py DATA_DIR PORT``. A question containing "hang" blocks the turn (after
touching DATA_DIR/in_turn) until the process is killed.
"""

import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from chat_helpers import answer, call, make_chat  # noqa: E402

from lavr.chat.server import create_app  # noqa: E402
from lavr.settings import Settings  # noqa: E402


def main() -> None:
    data, port = Path(sys.argv[1]), int(sys.argv[2])

    def reply(messages):
        last = messages[-1].content
        if "Question: hang" in last:
            (data / "in_turn").touch()
            time.sleep(600)
        if "Observation (find)" in last:
            return answer("2")
        if "Observation (where)" in last:
            return answer("right")
        if "Question: where is obj_1" in last:
            return call("where", object="obj_1")
        return call("find", image="img_0")

    import uvicorn

    settings = Settings(data_dir=data, llm="scripted")
    chat, _ = make_chat(settings, [reply], repeat_last=True, router=False)  # "hang on" is a made-up question
    uvicorn.run(create_app(chat, settings, web=False), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
