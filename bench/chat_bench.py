#!/usr/bin/env python
"""Chat benchmarks: a follow-up turn against the first turn on the same image, and the server's throughput.

    python bench/chat_bench.py follow-up [--llm local] [--image sample:bus]
    python bench/chat_bench.py throughput [--clients 1 4 16] [--turns 8] [--llm-ms 50]

``follow-up``: one chat thread with the real LLM (default ``local``) and the real experts; the LLM is loaded by a
warm-up question on another photo first, so the first turn's time is the question's own (cold expert cache), and
the follow-up on the same image reuses the cached expert outputs. Prints both turns' seconds and their ratio.

``throughput``: the OpenAI-compatible server on a loopback port with a stub LLM (sleeps ``--llm-ms`` per call,
like a remote LLM that uses no local CPU) and a stub expert; N clients, each on its own thread, each sending
``--turns`` follow-ups. A turn makes two LLM calls, so the ideal is ``N / (2 * llm_ms)`` turns per second;
the report gives the measured rate as a fraction of it (what the server, the graph and the checkpointer cost).
Only loopback traffic; every loop is bounded.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def follow_up(args: argparse.Namespace) -> dict[str, Any]:
    from lavr.cache import ExpertCache
    from lavr.chat import ChatSession, open_chat
    from lavr.samples import resolve_image_arg
    from lavr.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="lavr-chat-bench-"))
    base = Settings()
    settings = base.model_copy(update={"data_dir": data, "gguf_path": base.gguf_path or _assembled(base)})
    chat = open_chat("react", args.llm, settings=settings, cache=ExpertCache(data / "experts.sqlite"))
    warm = ChatSession(chat)
    t0 = time.perf_counter()
    warm.send("How many people are in this photo?", images=[resolve_image_arg("sample:zidane")])
    warm_s = time.perf_counter() - t0
    session = ChatSession(chat)
    rows = []
    for n, question in enumerate(args.questions):
        t0 = time.perf_counter()
        ans = session.send(question, images=[resolve_image_arg(args.image)] if n == 0 else [])
        rows.append({"turn": n, "question": question, "answer": ans.answer,
                     "seconds": round(time.perf_counter() - t0, 3), "llm_calls": ans.usage.llm_calls,
                     "prompt_tokens": ans.usage.prompt_tokens,
                     "tool_steps": sum(1 for s in ans.steps if s.kind == "tool"),
                     "cached_tool_steps": sum(1 for s in ans.steps if s.kind == "tool" and s.cached)})
    first, later = rows[0]["seconds"], [r["seconds"] for r in rows[1:]]
    return {"llm": args.llm, "image": args.image, "warm_up_s": round(warm_s, 2), "turns": rows,
            "follow_up_over_first": round(statistics.mean(later) / first, 3) if later and first else None}


def _assembled(settings: Any) -> Any:
    found = sorted(settings.subdir("models").glob("*.gguf"))
    return found[0] if found else None


def _stub_chat(data: Path, llm_ms: float) -> Any:
    from pydantic import BaseModel

    from lavr.agents import Agent
    from lavr.backends import ScriptedBackend
    from lavr.chat.service import ChatThreads
    from lavr.schema import Box
    from lavr.settings import Settings
    from lavr.tools.base import ImageArg, RunContext, Tool, ToolOutput

    class Found(ToolOutput):
        count: int

        def to_text(self) -> str:
            return f"counts: person={self.count}"

    class Boxes(BaseModel):
        boxes: list[Box]

    class Find(Tool[ImageArg, Found]):
        """Find people (benchmark stub: two fixed boxes, cached like a real expert)."""

        name = "find"
        input_model = ImageArg
        output_model = Found

        def run(self, a: ImageArg, ctx: RunContext) -> Found:
            boxes, _ = ctx.memo(tool="find", image=ctx.images.get(a.image), params={}, identity="stub",
                                model=Boxes, compute=lambda: Boxes(boxes=[Box(x1=0, y1=0, x2=.5, y2=1),
                                                                          Box(x1=.5, y1=0, x2=1, y2=1)]))
            for b in boxes.boxes:
                ctx.register_object(image=a.image, label="person", confidence=0.9, box=b)
            return Found(count=len(boxes.boxes))

    def reply(messages: list[Any]) -> dict[str, Any]:
        time.sleep(llm_ms / 1000)
        if "Observation (find)" in messages[-1].content:
            return {"thought": "done", "answer": "2", "rationale": "find counted 2"}
        return {"thought": "count", "tool_calls": [{"tool": "find", "args": {"image": "img_0"}}]}

    settings = Settings(data_dir=data, llm="scripted", num_examples=0)
    agent = Agent(ScriptedBackend([reply], repeat_last=True), settings=settings, tools=[Find(settings)])
    return ChatThreads(agent, settings=settings), settings


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    import uvicorn
    from PIL import Image

    from lavr.chat.server import create_app

    data = Path(tempfile.mkdtemp(prefix="lavr-chat-tput-"))
    chat, settings = _stub_chat(data, args.llm_ms)
    app = create_app(chat, settings, web=False, workers=max(args.clients) * 2)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buf, format="PNG")
    image_url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()

    def client(turns: int, out: list[float], errors: list[str]) -> None:
        with httpx.Client(timeout=120) as http:
            first = {"role": "user", "content": [{"type": "text", "text": "How many people?"},
                                                 {"type": "image_url", "image_url": {"url": image_url}}]}
            r = http.post(url, json={"messages": [first]})
            if r.status_code != 200:
                errors.append(r.text[:200])
                return
            thread = r.json()["lavr"]["thread_id"]
            for _ in range(turns):
                t0 = time.perf_counter()
                r = http.post(url, json={"messages": [{"role": "user", "content": "And how many now?"}]},
                              headers={"X-Lavr-Thread": thread})
                if r.status_code != 200:
                    errors.append(r.text[:200])
                    return
                out.append(time.perf_counter() - t0)

    results = []
    try:
        for n in args.clients:
            latencies: list[float] = []
            errors: list[str] = []
            threads = [threading.Thread(target=client, args=(args.turns, latencies, errors)) for _ in range(n)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
            wall = time.perf_counter() - t0
            # the first (thread-creating) turn of each client is in the wall time too: count it
            done = len(latencies) + n
            rate = done / wall
            ideal = n / (2 * args.llm_ms / 1000)
            results.append({"clients": n, "turns": done, "wall_s": round(wall, 3), "turns_per_s": round(rate, 2),
                            "ideal_turns_per_s": round(ideal, 2), "fraction_of_ideal": round(rate / ideal, 3),
                            "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
                            "errors": errors[:3]})
    finally:
        server.should_exit = True
        runner.join(10)
        chat.close()
    return {"llm_ms": args.llm_ms, "turns_per_client": args.turns + 1, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    f = sub.add_parser("follow-up")
    f.add_argument("--llm", default="local")
    f.add_argument("--image", default="sample:bus")
    f.add_argument("--questions", nargs="+", default=["How many people are in this photo?",
                                                      "Is anyone lying on the ground?"])
    t = sub.add_parser("throughput")
    t.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    t.add_argument("--turns", type=int, default=8, help="follow-up turns per client (bounded)")
    t.add_argument("--llm-ms", type=float, default=50.0, help="stub LLM latency per call")
    args = parser.parse_args()
    out = follow_up(args) if args.what == "follow-up" else throughput(args)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
