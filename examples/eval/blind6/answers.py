#!/usr/bin/env python3
"""Checker / answer filler for the blind6 set (machinery adapted from ../blind2).

Reads scenes.json (made by make_scenes.py) and the question specs in
specs_single.py / specs_multi.py.  Each spec has the question text and,
next to it, its machine-checkable meaning: a Python expression over the
rule helpers in world.py.  This script evaluates every meaning, which
  * computes the answer (never typed by hand),
  * fails if any "the X" does not pick out exactly one object, or if a
    "which image" / extreme has no unique winner,
  * warns when an answer hinges on a comparison close to a rule boundary,
  * cross-checks that attribute words in the text match those in the meaning,
and writes single.json and multi.json.

Usage: python3 answers.py          (write files, print report)
       python3 answers.py --check  (also verify answers already in the json files; writes nothing)
       python3 answers.py --show   (also print every question with its answer)
"""
import collections
import json
import os
import re
import sys

from world import Scene, Multi, AmbiguityError, fmt
from specs_single import SINGLE
from specs_multi import MULTI

HERE = os.path.dirname(os.path.abspath(__file__))

# words in question text -> canonical attribute values (for the text/meaning cross-check)
LEX = {
    "color": {c: c for c in ["gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"]},
    "shape": {"cube": "cube", "cubes": "cube", "block": "cube", "blocks": "cube", "box": "cube", "boxes": "cube",
              "sphere": "sphere", "spheres": "sphere", "ball": "sphere", "balls": "sphere",
              "cylinder": "cylinder", "cylinders": "cylinder"},
    "size": {"small": "small", "tiny": "small", "little": "small", "large": "large", "big": "large",
             "bigger": None, "huge": "large"},
    "material": {"metal": "metal", "metallic": "metal", "shiny": "metal", "rubber": "rubber",
                 "matte": "rubber"},
}
LEX["color"]["grey"] = "gray"
LEX["color"]["colour"] = None


def text_values(text):
    words = re.findall(r"[a-z]+", text.lower())
    out = set()
    for cat, m in LEX.items():
        for w in words:
            v = m.get(w)
            if v:
                out.add(v)
    return out


def expr_values(expr):
    vals = set(re.findall(r"'([a-z]+)'", expr))
    canon = set()
    for cat, m in LEX.items():
        canon |= {v for v in m.values() if v}
    return vals & canon


def crosscheck(text, expr):
    t, e = text_values(text), expr_values(expr)
    msgs = []
    if t - e:
        msgs.append("text mentions %s not in meaning" % sorted(t - e))
    if e - t:
        msgs.append("meaning uses %s not in text" % sorted(e - t))
    return msgs


def main():
    check = "--check" in sys.argv
    data = json.load(open(os.path.join(HERE, "scenes.json")))
    single_sc = {s["id"]: s for s in data["single"]}
    multi_sc = {s["id"]: s for s in data["multi"]}
    errors, warnings = [], []

    # ---------------------------------------------------------- single
    sq = []
    for i, (sid, kind, text, *rest) in enumerate(SINGLE, 1):
        expr, flags = rest[-1], rest[:-1]
        qid = "s%03d" % i
        log = []
        sc = Scene(single_sc[sid], log)
        try:
            ans = fmt(eval(expr, sc.namespace()))
        except AmbiguityError as e:
            errors.append("%s [%s] %s -> %s" % (qid, sid, text, e))
            continue
        for m in sorted(set(log)):
            warnings.append("%s [%s] near: %s | %s" % (qid, sid, m, text))
        for m in ([] if "lexok" in flags else crosscheck(text, expr)):
            warnings.append("%s [%s] lex: %s | %s" % (qid, sid, m, text))
        sq.append({"id": qid, "scene": sid, "question": text, "answer": ans, "kind": kind,
                   "meaning": expr})

    # ----------------------------------------------------------- multi
    mq = []
    for i, (sids, kind, text, *rest) in enumerate(MULTI, 1):
        expr, flags = rest[-1], rest[:-1]
        qid = "m%03d" % i
        log = []
        scenes = [Scene(multi_sc[s], log) for s in sids]
        try:
            ans = fmt(eval(expr, Multi(scenes, log).namespace()))
        except AmbiguityError as e:
            errors.append("%s %s %s -> %s" % (qid, sids, text, e))
            continue
        for m in sorted(set(log)):
            warnings.append("%s %s near: %s | %s" % (qid, sids, m, text))
        for m in ([] if "lexok" in flags else crosscheck(text, expr)):
            warnings.append("%s %s lex: %s | %s" % (qid, sids, m, text))
        mq.append({"id": qid, "scenes": list(sids), "question": text, "answer": ans, "kind": kind,
                   "meaning": expr})

    # ---------------------------------------------------------- verify
    if check:
        for fname, qs in (("single.json", sq), ("multi.json", mq)):
            old = {q["id"]: q for q in json.load(open(os.path.join(HERE, fname)))["questions"]}
            for q in qs:
                o = old.get(q["id"])
                if o is None or o["answer"] != q["answer"] or o["question"] != q["question"]:
                    errors.append("%s: stored %r differs from computed %r" % (q["id"], o and o["answer"], q["answer"]))

    if "--show" in sys.argv:
        for q in sq:
            print("%s [%s] %-16s %-8s %s" % (q["id"], q["scene"], q["kind"], q["answer"], q["question"]))
        for q in mq:
            print("%s %s %-18s %-8s %s" % (q["id"], ",".join(q["scenes"]), q["kind"], q["answer"], q["question"]))
    for w in warnings:
        print("WARN", w)
    for e in errors:
        print("ERROR", e)

    def report(name, qs):
        kinds = collections.Counter(q["kind"] for q in qs)
        ans = collections.Counter(q["answer"] for q in qs)
        print("%s: %d questions" % (name, len(qs)))
        for k, v in sorted(kinds.items()):
            yn = collections.Counter(q["answer"] for q in qs if q["kind"] == k)
            print("   %-18s %3d   answers %s" % (k, v, dict(yn.most_common())))
        print("   answers overall:", dict(ans.most_common()))

    report("single", sq)
    report("multi", mq)

    if errors:
        print("%d errors: not writing files" % len(errors))
        sys.exit(1)
    if not check:
        used_s = {q["scene"] for q in sq}
        used_m = {s for q in mq for s in q["scenes"]}
        print("single scenes used: %d/40, multi scenes used: %d/45" % (len(used_s), len(used_m)))
        strip = lambda qs: [{k: v for k, v in q.items() if k != "meaning"} for q in qs]
        json.dump({"scenes": data["single"], "questions": strip(sq)},
                  open(os.path.join(HERE, "single.json"), "w"), indent=1)
        json.dump({"scenes": data["multi"], "questions": strip(mq)},
                  open(os.path.join(HERE, "multi.json"), "w"), indent=1)
        # questions with their meanings, for auditing
        json.dump({"single": sq, "multi": mq},
                  open(os.path.join(HERE, "questions_with_meaning.json"), "w"), indent=1)
        print("wrote single.json, multi.json, questions_with_meaning.json")
    print("%d warnings, %d errors" % (len(warnings), len(errors)))


if __name__ == "__main__":
    main()
