#!/usr/bin/env python
"""Chat benchmarks: a follow-up turn against the first turn on the same image, the web page's time to its first
streamed step, and the server's throughput.

    python bench/chat_bench.py follow-up [--mode auto] [--llm local] [--image sample:bus] [--interleaved]
    python bench/chat_bench.py page [--mode auto] [--llm local] [--image sample:bus]
    python bench/chat_bench.py throughput [--clients 1 4 16] [--turns 8] [--llm-ms 50]

``follow-up``: chat threads in the default mode (query) with the real LLM (default ``local``) and the real experts.
The LLM is loaded by a warm-up question on another photo first. Then a thread starts on the image (cold expert
cache) and the later questions follow in it, one after another, as one user asks them; then each of them is asked
again as the first turn of a new thread on the same image (the experts' outputs cached, so the turn's own cost).
A follow-up's prompt continues the thread's earlier exchanges, which llama.cpp still holds after the previous turn.
With ``--interleaved`` each first turn is asked between the thread's turns (a server with many users): a
follow-up then evaluates its thread's earlier exchanges again. Prints every turn (seconds, LLM calls, new prompt
and completion tokens), and the median follow-up over the median first turn, over ``--rounds`` rounds, of the
pairs that made as many LLM calls.

``page``: the server with the web page (same agent) and a headless Chromium (Debian's chromium + chromium-driver);
the page sends a question about the photo, then a follow-up, and the browser itself times, from the Enter key:
the first streamed run event shown (what runs now), the first step shown, the answer. A warm-up question first
loads the LLM.

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


def _bench_settings(prefix: str) -> Any:
    """Settings with a fresh data folder whose ``models`` are the assembled ones here (GGUF, prefix state,
    perception models): a cold expert cache and no threads, nothing re-assembled."""
    import os

    from lavr.settings import Settings

    data = Path(tempfile.mkdtemp(prefix=prefix))
    base = Settings()
    (data / "models").symlink_to(base.subdir("models"))
    os.environ["LAVR_DATA_DIR"] = str(data)
    return base.model_copy(update={"data_dir": data})


def _machine() -> dict[str, Any]:
    import os

    return {"load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


def follow_up(args: argparse.Namespace) -> dict[str, Any]:
    from lavr.chat import ChatSession, open_chat
    from lavr.samples import resolve_image_arg

    settings = _bench_settings("lavr-chat-bench-")
    machine_before = _machine()
    chat = open_chat(args.mode, args.llm, settings=settings)
    t0 = time.perf_counter()
    ChatSession(chat).send("How many people are in this photo?", images=[resolve_image_arg("sample:zidane")])
    warm_s = time.perf_counter() - t0

    def turn(session: Any, question: str, label: str, image: bool) -> dict[str, Any]:
        t0 = time.perf_counter()
        ans = session.send(question, images=[resolve_image_arg(args.image)] if image else [])
        tools = [s for s in ans.steps if s.kind == "tool"]
        u = ans.usage
        return {"turn": label, "question": question, "answer": ans.answer,
                "seconds": round(time.perf_counter() - t0, 3), "mode": ans.mode, "llm_calls": u.llm_calls,
                "prompt_tokens": u.prompt_tokens, "new_prompt_tokens": u.prompt_tokens - u.cached_prompt_tokens,
                "completion_tokens": u.completion_tokens, "tool_steps": len(tools),
                "cached_tool_steps": sum(1 for s in tools if s.cached)}

    rows = []
    pairs: list[tuple[float, float]] = []
    for r in range(args.rounds):  # the LLM's seconds vary with the load: several rounds, medians
        thread = ChatSession(chat)
        rows.append(turn(thread, args.questions[0], f"round {r}: thread start" + (", experts cold" if r == 0 else ""),
                         True))
        follows, firsts = [], []
        for question in args.questions[1:]:
            if args.interleaved:  # another thread's turn between a thread's turns (a server with many users)
                firsts.append(turn(ChatSession(chat), question, f"round {r}: first turn of a new thread", True))
            follows.append(turn(thread, question, f"round {r}: follow-up", False))
        if not args.interleaved:  # the thread's turns one after another (one user), then the same questions new
            firsts = [turn(ChatSession(chat), q, f"round {r}: first turn of a new thread", True)
                      for q in args.questions[1:]]
        for first, follow in zip(firsts, follows):
            rows += [first, follow]
            if first["llm_calls"] == follow["llm_calls"]:  # like with like: a rejected program costs a 2nd call
                pairs.append((first["seconds"], follow["seconds"]))
    chat.close()
    firsts, follows = [a for a, _ in pairs], [b for _, b in pairs]
    return {"mode": args.mode, "llm": args.llm, "image": args.image, "interleaved": args.interleaved,
            "warm_up_s": round(warm_s, 2),
            "machine_before": machine_before, "machine_after": _machine(), "turns": rows,
            "pairs_with_equal_llm_calls": len(pairs),
            "median_first_turn_s": round(statistics.median(firsts), 3) if pairs else None,
            "median_follow_up_s": round(statistics.median(follows), 3) if pairs else None,
            "follow_up_over_first_turn": round(statistics.median(follows) / statistics.median(firsts), 3)
            if pairs else None}


PAGE_TIMER = """
window.__lavr = {t0: null, running: false, event: null, step: null, done: null, answer: null};
const box = document.querySelector('#lavr-input textarea');
box.addEventListener('keydown', e => { if (e.key === 'Enter') window.__lavr.t0 = performance.now(); }, true);
new MutationObserver(() => {
  const t = window.__lavr, p = document.querySelector('#lavr-trace .lavr-trace');
  if (t.t0 === null || !p) return;
  const now = performance.now() - t.t0;
  if (p.dataset.state === 'running') t.running = true;  // this turn's panel (the last turn's stays 'done' until then)
  if (!t.running) return;
  if (t.event === null && p.dataset.state === 'running' && +p.dataset.events >= 1) t.event = now;
  if (t.step === null && p.dataset.state === 'running' && p.querySelector('details.step')) t.step = now;
  if (t.done === null && p.dataset.state === 'done') {
    t.done = now; t.answer = (p.querySelector('.lavr-q .answer') || {}).textContent || null;
  }
}).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def page(args: argparse.Namespace) -> dict[str, Any]:
    import shutil
    import socket

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from lavr.chat import ChatSession, open_chat
    from lavr.chat.server import create_app
    from lavr.samples import resolve_image_arg

    settings = _bench_settings("lavr-page-bench-")
    machine_before = _machine()
    chat = open_chat(args.mode, args.llm, settings=settings)
    ChatSession(chat).send("How many people are in this photo?", images=[resolve_image_arg("sample:zidane")])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(chat, settings, web=True), host="127.0.0.1", port=port,
                                           log_level="warning"))
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    while not server.started:
        time.sleep(0.05)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", f"--user-data-dir={settings.data_dir / 'chromium'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=shutil.which("chromedriver")))
    rows = []
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 600, poll_frequency=0.1)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-input textarea"))
        for n, question in enumerate(args.questions):
            driver.execute_script(PAGE_TIMER)
            if n == 0:
                driver.find_element(By.CSS_SELECTOR, "#lavr-input input[type=file]").send_keys(
                    str(resolve_image_arg(args.image)))
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-input img"))
            box = driver.find_element(By.CSS_SELECTOR, "#lavr-input textarea")
            box.send_keys(question)
            box.send_keys(Keys.ENTER)
            wait.until(lambda d: d.execute_script("return window.__lavr.done") is not None)
            t = driver.execute_script("return window.__lavr")
            answer = t["answer"]
            rows.append({"turn": "first turn, experts cold" if n == 0 else f"follow-up {n}", "question": question,
                         "answer": answer, "first_event_s": _s(t["event"]), "first_step_s": _s(t["step"]),
                         "answer_s": _s(t["done"])})
            if args.screenshot and n == len(args.questions) - 1:
                driver.save_screenshot(args.screenshot)
    finally:
        driver.quit()
        server.should_exit = True
        runner.join(10)
        chat.close()
    return {"mode": args.mode, "llm": args.llm, "image": args.image, "machine_before": machine_before,
            "machine_after": _machine(), "turns": rows}


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


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
    from lavr.cli import set_openmp_defaults

    set_openmp_defaults()  # as a lavr command runs (before torch and llama.cpp load libgomp)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    questions = ["How many people are there?", "And how many of them are on the left half?",
                 "How many faces are there?"]
    for name in ("follow-up", "page"):
        f = sub.add_parser(name)
        f.add_argument("--mode", default="auto", help="planning mode (default: auto, i.e. query with the local LLM)")
        f.add_argument("--llm", default="local")
        f.add_argument("--image", default="sample:bus")
        f.add_argument("--questions", nargs="+", default=questions)
        if name == "follow-up":
            f.add_argument("--rounds", type=int, default=3, help="rounds of every question (medians are reported)")
            f.add_argument("--interleaved", action="store_true",
                           help="ask each question in a new thread between the thread's own turns")
        if name == "page":
            f.add_argument("--screenshot", help="save the page after the last turn here (PNG)")
    t = sub.add_parser("throughput")
    t.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    t.add_argument("--turns", type=int, default=8, help="follow-up turns per client (bounded)")
    t.add_argument("--llm-ms", type=float, default=50.0, help="stub LLM latency per call")
    args = parser.parse_args()
    out = {"follow-up": follow_up, "page": page, "throughput": throughput}[args.what](args)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
