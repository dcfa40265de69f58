#!/usr/bin/env python
"""A new ``lavr ask`` process on a photo it has never seen: seconds to the printed answer, CPU and peak memory.

Each run writes a new copy of the photo (one pixel changed, PNG: the expert cache, keyed by image content, cannot
answer from memory) and starts ``python run.py ask COPY QUESTION`` with the GGUF, the prompt prefix's KV state and
the perception models already on disk, as on a machine where lavr has run before. Several checkouts can be timed
side by side (``--variant before=/work/main --variant after=.``): their runs alternate, each on its own copy, so
both see the same load on the cores. Prints one JSON object: per variant the median and every run's wall seconds
to the answer on stdout, seconds to exit, CPU seconds (user + system, all threads) and peak RSS (the kernel's
maxrss of that process), with the load average before and after each run; the answers of the variants must agree.

    python bench/cold_ask.py [--runs 5] [--variant NAME=CHECKOUT[,VAR=VALUE...]]... [--image sample:bus]

Timings grow with whatever else runs on the cores: compare variants only within one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> tuple[str, Path, dict[str, str]]:
    """``NAME=CHECKOUT[,VAR=VALUE...]``: a name, the lavr checkout put first on PYTHONPATH, extra environment."""
    name, _, rest = text.partition("=")
    checkout, *pairs = rest.split(",")
    if not name or not checkout:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=CHECKOUT[,VAR=VALUE...]")
    env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    return name, Path(checkout).expanduser().resolve(), env


def new_photo(image: str, folder: Path, serial: int) -> Path:
    """A copy of ``image`` whose top-left pixel encodes ``serial``: new bytes and content, the same scene."""
    from PIL import Image

    from lavr.samples import resolve_image_arg

    with Image.open(resolve_image_arg(image)) as img:
        rgb = img.convert("RGB")
    rgb.putpixel((0, 0), (serial % 256, (serial // 256) % 256, 7))
    path = folder / f"photo-{serial}.png"
    rgb.save(path)
    return path


def run_once(checkout: Path, env_extra: dict[str, str], photo: Path, question: str) -> dict[str, Any]:
    """One cold process: seconds until its answer line is on stdout and until it exits, CPU, peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(checkout), **env_extra}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(checkout / "run.py"), "ask", str(photo), question],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=checkout)
    assert child.stdout is not None and child.stderr is not None
    answer = child.stdout.readline().decode().strip()
    answered = time.perf_counter() - start
    rest, errors = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    exited = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{checkout}: lavr ask exited with {code}: {errors.decode()[-2000:]}{rest.decode()}")
    return {"answer": answer, "answer_s": round(answered, 2), "exit_s": round(exited, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_gb": round(usage.ru_maxrss / 1024 ** 2, 3),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", type=parse_variant,
                        help="NAME=CHECKOUT[,VAR=VALUE...] (repeatable; default: this checkout)")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (alternating)")
    parser.add_argument("--image", default="sample:bus")
    parser.add_argument("--question", default="How many buses are there?")
    args = parser.parse_args(argv)
    variants = args.variant or [("this", REPO, {})]
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in variants}
    with tempfile.TemporaryDirectory(prefix="lavr-cold-ask-") as tmp:
        serial = int(time.time()) % 100_000 * 100  # new content on every invocation too
        for _ in range(args.runs):
            for name, checkout, env in variants:
                serial += 1
                rows[name].append(run_once(checkout, env, new_photo(args.image, Path(tmp), serial), args.question))
    answers = {name: sorted({r["answer"] for r in runs}) for name, runs in rows.items()}
    summary = {
        name: {"median_answer_s": statistics.median(r["answer_s"] for r in runs),
               "median_exit_s": statistics.median(r["exit_s"] for r in runs),
               "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
               "max_peak_rss_gb": max(r["peak_rss_gb"] for r in runs),
               "answers": answers[name], "runs": runs}
        for name, runs in rows.items()
    }
    print(json.dumps({"image": args.image, "question": args.question, "cpus": os.cpu_count(),
                      "variants": {name: str(checkout) + "".join(f",{k}={v}" for k, v in env.items())
                                   for name, checkout, env in variants},
                      "answers_agree": len({tuple(a) for a in answers.values()}) == 1, "results": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
