#!/usr/bin/env python
"""How long the HTML evaluation report and comparison take to generate, and how big they are, at 300 rows.

The results files are built from the shapes set (``lavr.eval.sample_results``: real scene images, real typed
traces with boxes and programs), with a share of wrong rows: the realistic case (about 45 % wrong) and the worst
case for the gallery (every row wrong: 300 cards). Each page is generated ``--repeat`` times in this process
after one warm-up (matplotlib's imports and font cache are paid once per process: reported apart, as
``first``); ``lavr report`` in a new process is timed too, imports included.

    python bench/report_bench.py [--rows 300] [--repeat 5] [--json out.json]
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

REPO = Path(__file__).resolve().parents[1]
SHAPES = REPO / "examples" / "eval" / "shapes.jsonl"
LIMIT_SECONDS, LIMIT_BYTES = 2.0, 5 * 1024 * 1024


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    """(the first call's seconds, the later calls' seconds)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    later = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        later.append(time.perf_counter() - start)
    return first, later


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()

    started = time.perf_counter()
    from lavr.eval.dataset import load_dataset
    from lavr.eval.html_report import write_compare_page, write_report_page
    from lavr.eval.sample_results import sample_results

    imports = time.perf_counter() - started
    shapes = load_dataset(SHAPES)
    out: dict[str, object] = {"rows": args.rows, "lavr_imports_s": round(imports, 3), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {}
        for name, wrong, abstain, seed in (("realistic", 0.35, 0.1, 0), ("all_wrong", 0.9, 0.1, 0),
                                           ("realistic_b", 0.35, 0.1, 1)):
            path = folder / f"{name}.jsonl"
            records = sample_results(shapes, n=args.rows, wrong_share=wrong, abstain_share=abstain, seed=seed)
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
            files[name] = path
        cases = {
            "report, realistic": (lambda: write_report_page(files["realistic"], folder / "r.html"), folder / "r.html"),
            "report, every row wrong": (lambda: write_report_page(files["all_wrong"], folder / "w.html"),
                                        folder / "w.html"),
            "compare, realistic vs realistic": (
                lambda: write_compare_page(files["realistic"], files["realistic_b"], folder / "d.html"),
                folder / "d.html"),
        }
        failed = False
        for name, (fn, page) in cases.items():
            first, later = timed(fn, args.repeat)
            size = page.stat().st_size
            median = statistics.median(later)
            ok = median < LIMIT_SECONDS and size < LIMIT_BYTES
            failed |= not ok
            out["cases"][name] = {"first_s": round(first, 3), "median_s": round(median, 3),
                                  "max_s": round(max(later), 3), "bytes": size, "ok": ok}
            print(f"{name}: median {median:.2f} s (max {max(later):.2f}, first in the process {first:.2f}), "
                  f"{size / 1e6:.2f} MB{'' if ok else '  OVER THE LIMIT'}")
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lavr", "report", str(files["realistic"]), "--html",
                        str(folder / "cli.html")], check=True, env=env, stdout=subprocess.DEVNULL)
        cli = time.perf_counter() - start
        out["lavr_report_process_s"] = round(cli, 3)
        print(f"`lavr report --html` as a new process, imports included: {cli:.2f} s")
    print(f"limits: {LIMIT_SECONDS:.0f} s of generation, {LIMIT_BYTES / 1024 / 1024:.0f} MB; "
          f"lavr.eval imports in this process: {imports:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
