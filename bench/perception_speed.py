#!/usr/bin/env python
"""How fast lavr's TF.js executor runs the perception models, per image, in-process and warm.

Each model (CenterNet, NanoDet, MoveNet MultiPose, and the face attributes on the faces MTCNN finds) runs on every
packaged photo (``lavr.samples``: ultralytics' bus and zidane, scikit-image's, scikit-learn's, matplotlib's) after
one warm-up run; each photo is timed ``--repeats`` times and its median kept. Pre- and post-processing are
included (the wrappers' ``detect``/``poses``/``predict``), image decoding and face detection are not. Prints a
table of wall ms per image (median, mean, min, max over the photos), the CPU ms (all threads) and the sum of the
models per photo; ``--json`` writes every number.

    python bench/perception_speed.py [--threads 2] [--repeats 3] [--omp-wait-policy passive] [--json out.json]

Timings depend on what else runs on the cores: the load average before and after is reported with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process, all threads) of ``repeats`` calls. On busy cores
    the wall time grows with the load; the CPU time much less (it counts only when this process runs)."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target machine's cores)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photos", nargs="*", help="sample names (default: every packaged photo installed here)")
    parser.add_argument("--omp-wait-policy", choices=["default", "passive", "lavr"], default="default",
                        help="passive: OpenMP threads sleep instead of spinning between ops; lavr: as lavr commands "
                             "set it (passive with a short spin); set before torch loads")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args(argv)
    if args.omp_wait_policy == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    elif args.omp_wait_policy == "lavr":
        from lavr.cli import OPENMP_DEFAULTS

        os.environ.update(OPENMP_DEFAULTS)

    import torch
    from PIL import Image

    from lavr.errors import ImageError
    from lavr.perception.detectors import CenterNet, NanoDet
    from lavr.perception.face_attributes import FaceAttributes, face_crop
    from lavr.perception.pose import MoveNet
    from lavr.samples import SAMPLES, sample_path
    from lavr.settings import Settings
    from lavr.tools.faces import FacesTool

    torch.set_num_threads(args.threads)
    settings = Settings()
    photos: dict[str, Image.Image] = {}
    for name in args.photos or list(SAMPLES):
        try:
            with Image.open(sample_path(name)) as img:
                photos[name] = img.convert("RGB")
        except ImageError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    faces_tool = FacesTool(settings)
    crops = {name: [face_crop(img, f.box) for f in faces_tool.detect(img).faces if f.confidence >= 0.9]
             for name, img in photos.items()}
    load_before = os.getloadavg()

    centernet, nanodet, movenet, attributes = (CenterNet(settings), NanoDet(settings), MoveNet(settings),
                                               FaceAttributes(settings))
    runners: dict[str, Callable[[str], Callable[[], Any]] | None] = {
        "centernet": lambda p: (lambda: centernet.detect(photos[p])),
        "nanodet": lambda p: (lambda: nanodet.detect(photos[p])),
        "movenet-multipose": lambda p: (lambda: movenet.poses(photos[p])),
        "face attributes (all faces of the photo)": lambda p: (lambda: attributes.predict(crops[p])),
    }
    loads: dict[str, float] = {}
    results: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    for model, make in runners.items():
        assert make is not None
        first = next(p for p in photos if model.startswith("face") is False or crops[p])
        start = time.perf_counter()
        make(first)()  # loads the weights, warms up
        loads[model] = time.perf_counter() - start
        timings = {p: timed(make(p), args.repeats) for p in photos if not model.startswith("face") or crops[p]}
        results[model] = {p: wall for p, (wall, _) in timings.items()}
        cpu[model] = {p: cpu_s for p, (_, cpu_s) in timings.items()}
    load_after = os.getloadavg()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'default')}, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', 'default')}, {os.cpu_count()} CPUs; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; {len(photos)} photos, median of {args.repeats}")
    print()
    print("| model | wall ms/image median | mean | min | max | CPU ms/image median | first call (load + warm-up) |")
    print("|---|---|---|---|---|---|---|")
    for model, per_photo in results.items():
        ms = [v * 1000 for v in per_photo.values()]
        cpu_ms = statistics.median(v * 1000 for v in cpu[model].values())
        print(f"| {model} | {statistics.median(ms):.0f} | {statistics.mean(ms):.0f} | {min(ms):.0f} | {max(ms):.0f} "
              f"| {cpu_ms:.0f} | {loads[model]:.2f} s |")
    totals = {p: sum(r.get(p, 0.0) for r in results.values()) * 1000 for p in photos}
    cpu_totals = {p: sum(r.get(p, 0.0) for r in cpu.values()) * 1000 for p in photos}
    print(f"| all four, per photo | {statistics.median(totals.values()):.0f} | {statistics.mean(totals.values()):.0f} "
          f"| {min(totals.values()):.0f} | {max(totals.values()):.0f} | {statistics.median(cpu_totals.values()):.0f} "
          "| |")
    print()
    print("per photo (ms): " + "; ".join(
        f"{p} " + "/".join(f"{results[m][p] * 1000:.0f}" if p in results[m] else "-" for m in results)
        + f" ({len(crops[p])} faces)" for p in photos))
    if args.json:
        args.json.write_text(json.dumps({
            "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            "load_average": {"before": load_before, "after": load_after}, "repeats": args.repeats,
            "first_call_s": loads, "seconds": results, "cpu_seconds": cpu,
            "faces": {p: len(c) for p, c in crops.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
