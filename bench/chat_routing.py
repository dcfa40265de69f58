#!/usr/bin/env python
"""Chat routing (issue 25): how well messages are routed, how well conversation messages are answered, and what
routing adds to a scene question's time.

    python bench/chat_routing.py cv                      # 5-fold cross-validation on the development set
    python bench/chat_routing.py eval FILE [--llm local] # the shipped router on a labelled set (e.g. the blind one)
    python bench/chat_routing.py scenes FILE...          # how many questions of scene sets would be routed away
    python bench/chat_routing.py latency [--n 40]        # a scene turn with and without the router, side by side

``cv`` retrains the router on 4/5 of ``examples/eval/chat_dev.json`` and routes the other fifth, five times (three
shuffles), with the shipped hyper-parameters. ``eval`` routes every message of a file in the development/blind
format with the shipped weights and prints routing accuracy per kind, the confusion matrix and the scene questions
routed away; for ``conversation`` messages it also answers them (a thread seeded with the message's context) and
counts the answers that contain ``expected``. ``--llm none`` answers with templates only; the default, ``local``,
uses the embedded LLM where no template serves. ``scenes`` routes the questions of the blind single- and
multi-image sets (all questions about an image) in a fresh thread (``--follow-up``: in a thread with two answers).
``latency`` sends scene questions to two chat
services on one scripted agent and one stub expert, one with the router and one without, alternately, and prints
the median and 90th percentile of both and of their difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lavr.chat.routing import (  # noqa: E402
    KINDS,
    REPO_DEV_SET,
    RouterWeights,
    default_router,
    features,
    fit_softmax,
    load_examples,
    softmax,
    with_history_copies,
)


def table(truth: list[str], pred: list[str]) -> None:
    """Accuracy per kind and the confusion matrix (rows: the true kind, columns: the routed kind)."""
    n = len(truth)
    right = sum(t == p for t, p in zip(truth, pred))
    print(f"routing accuracy: {right}/{n} = {right / n:.3f}")
    print(f"{'kind':<14}{'n':>5}{'right':>7}{'acc':>7}   " + "".join(f"{k[:12]:>13}" for k in KINDS))
    for k in KINDS:
        rows = [p for t, p in zip(truth, pred) if t == k]
        if not rows:
            continue
        ok = sum(p == k for p in rows)
        print(f"{k:<14}{len(rows):>5}{ok:>7}{ok / len(rows):>7.3f}   " + "".join(f"{rows.count(c):>13}" for c in KINDS))
    away = sum(t == "scene" and p != "scene" for t, p in zip(truth, pred))
    print(f"scene questions routed away: {away}")


def cmd_cv(args: argparse.Namespace) -> None:
    shipped = RouterWeights.load()
    examples = load_examples(REPO_DEV_SET)
    router = default_router()
    x = features(examples, router.encoder)
    y = np.array([KINDS.index(e.kind) for e in examples])
    accs, aways = [], []
    for seed in range(args.shuffles):
        order = np.random.default_rng(seed).permutation(len(y))
        probs = np.zeros((len(y), len(KINDS)))
        for fold in range(5):
            test = order[fold::5]
            train = np.setdiff1d(order, test)
            no_context = np.array([not examples[i].context for i in train])
            w, b = fit_softmax(*with_history_copies(x[train], y[train], no_context), len(KINDS), l2=shipped.l2)
            probs[test] = softmax(x[test] @ w.T + b)
        pred = []
        for p in probs:
            best = int(np.argmax(p))
            pred.append(KINDS[best] if best == 0 or p[best] >= shipped.min_confidence else "scene")
        truth = [e.kind for e in examples]
        print(f"\nshuffle {seed} (whole messages; clause splitting not applied):")
        table(truth, pred)
        accs.append(np.mean([t == p for t, p in zip(truth, pred)]))
        aways.append(sum(t == "scene" and p != "scene" for t, p in zip(truth, pred)))
    print(f"\nmean accuracy over {args.shuffles} shuffles: {np.mean(accs):.3f}; scene routed away: {aways}")


def answer_service(llm: str) -> Any:
    """A chat service for answering conversation messages: the default experts (for ``help``) and the LLM."""
    from lavr.agents import make_agent
    from lavr.backends import ScriptedBackend
    from lavr.chat.service import ChatThreads
    from lavr.settings import Settings

    settings = Settings(data_dir=tempfile.mkdtemp(prefix="lavr-chat-routing-"))
    backend: Any = ScriptedBackend([]) if llm == "none" else llm
    chat = ChatThreads(make_agent("auto", backend, settings=settings, cache=False), settings=settings)
    if llm == "none":
        chat.answerer.llm = None  # templates only
    return chat


def cmd_eval(args: argparse.Namespace) -> None:
    examples = load_examples(Path(args.file))
    router = default_router()
    truth, pred, seconds = [], [], []
    for e in examples:
        d = router.route(e.message, earlier_answers=[c["assistant"] for c in e.context], has_history=bool(e.context))
        truth.append(e.kind)
        pred.append(d.kind)
        seconds.append(d.seconds)
    print(f"{args.file}: {len(examples)} messages; routing took median {statistics.median(seconds) * 1000:.1f} ms")
    table(truth, pred)
    wrong = [(e, p) for e, p in zip(examples, pred) if e.kind != p]
    if wrong and args.show:
        print("\nmisrouted:")
        for e, p in wrong:
            print(f"  {e.id}: {e.kind} -> {p}: {e.message!r}")
    conv = [(e, p) for e, p in zip(examples, pred) if e.kind == "conversation" and e.expected]
    if not conv or args.llm == "skip":
        return
    chat = answer_service(args.llm)
    right = 0
    llm_used = 0
    print(f"\nconversation answers ({len(conv)} with an expected phrase; llm={args.llm}):")
    for e, p in conv:
        if p != "conversation":
            print(f"  {e.id}: routed {p}: wrong")
            continue
        pairs = [(c["user"], c["assistant"]) for c in e.context]
        reply = chat.send(None, e.message, create=True, history=pairs)
        text = reply.answer.answer
        ok = e.expected.lower() in text.lower()
        right += ok
        llm_used += reply.answer.usage.llm_calls > 0
        if args.show and not ok:
            print(f"  {e.id}: {e.message!r} expected {e.expected!r}; answered {text[:200]!r}")
    print(f"conversation answer accuracy: {right}/{len(conv)} = {right / len(conv):.3f} "
          f"({llm_used} answered by the LLM)")
    chat.close()


def cmd_scenes(args: argparse.Namespace) -> None:
    router = default_router()
    total = away = 0
    for name in args.files:
        data = json.loads(Path(name).read_text())
        rows = data if isinstance(data, list) else data.get("questions", [])
        questions = [r["question"] for r in rows if isinstance(r, dict) and "question" in r]
        earlier = dict(earlier_answers=["2", "yes"], has_history=True) if args.follow_up else {}
        routed = [router.route(q, **earlier).kind for q in questions]
        n_away = sum(k != "scene" for k in routed)
        print(f"{name}: {len(questions)} questions, routed away: {n_away} "
              f"({', '.join(f'{k} {routed.count(k)}' for k in KINDS if k != 'scene' and routed.count(k))})")
        if args.show:
            for q, k in zip(questions, routed):
                if k != "scene":
                    print(f"  {k}: {q!r}")
        total += len(questions)
        away += n_away
    print(f"all: {total} scene questions, {away} routed away")


def cmd_latency(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from chat_helpers import answer, call, make_agent, photo  # the chat tests' stub expert and scripted agent

    from lavr.backends import ScriptedBackend
    from lavr.chat.service import ChatThreads
    from lavr.settings import Settings

    questions = [e.message for e in load_examples(REPO_DEV_SET) if e.kind == "scene"]

    def service(router: Any) -> tuple[Any, str]:
        settings = Settings(data_dir=tempfile.mkdtemp(prefix="lavr-route-bench-"), llm="scripted")
        def replies(messages: list[Any]) -> Any:
            return answer("2") if "Observation" in messages[-1].content else call("find", image="img_0")

        agent, _ = make_agent(settings, ScriptedBackend([replies], repeat_last=True))
        chat = ChatThreads(agent, settings=settings, router=router)
        tid = chat.send(None, "How many people are in this photo?", [photo()]).thread_id
        return chat, tid

    routed, plain = service(None), service(False)
    routed[0].router.available()  # loaded, as a service started before the first message has it
    for chat, tid in (routed, plain):  # warm both (imports, SQLite pages)
        for q in questions[:3]:
            chat.send(tid, q)
    times: dict[str, list[float]] = {"router": [], "none": []}
    route_ms = []
    for i in range(args.n):
        q = questions[i % len(questions)]
        for name, (chat, tid) in (("router", routed), ("none", plain)) if i % 2 == 0 else (("none", plain),
                                                                                          ("router", routed)):
            start = time.perf_counter()
            reply = chat.send(tid, q)
            times[name].append(time.perf_counter() - start)
            if name == "router":
                route_ms.append(float(reply.turn.kind == "scene"))
    diffs = [r - p for r, p in zip(times["router"], times["none"])]

    def ms(values: list[float], q: float) -> float:
        return float(np.quantile(values, q)) * 1000

    print(f"{args.n} scene questions each, alternating (scripted LLM, stub expert):")
    for name in ("none", "router"):
        print(f"  {name:<7} median {ms(times[name], 0.5):7.1f} ms   p90 {ms(times[name], 0.9):7.1f} ms")
    print(f"  added by routing: median {ms(diffs, 0.5):6.1f} ms   p90 {ms(diffs, 0.9):6.1f} ms")
    print(f"  routed as scene: {sum(route_ms):.0f}/{len(route_ms)} (the rest answered from memory, not comparable)")
    bench = default_router()
    one = [bench.route(q).seconds for q in questions]
    print(f"  route() alone over {len(one)} dev scene questions: median {ms(one, 0.5):.1f} ms, "
          f"p90 {ms(one, 0.9):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("cv")
    cv.add_argument("--shuffles", type=int, default=3)
    ev = sub.add_parser("eval")
    ev.add_argument("file")
    ev.add_argument("--llm", default="local", help="local (default), none (templates only), skip (routing only)")
    ev.add_argument("--show", action="store_true", help="print misrouted messages and wrong answers")
    sc = sub.add_parser("scenes")
    sc.add_argument("files", nargs="+")
    sc.add_argument("--show", action="store_true")
    sc.add_argument("--follow-up", action="store_true", help="as follow-ups in a thread that answered 2 and yes")
    la = sub.add_parser("latency")
    la.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    {"cv": cmd_cv, "eval": cmd_eval, "scenes": cmd_scenes, "latency": cmd_latency}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
