"""Record TF.js's own outputs for the models lavr runs, as small test fixtures (tests/data/tfjs_reference/).

Each case is a packaged photo (optionally a crop of it), the pre-processing human applies before the model
(as tf calls, run by TF.js too) and the model's outputs. The node script ``scripts/tfjs_reference.mjs`` runs the
pure-JavaScript ``@tensorflow/tfjs`` CPU backend; this driver writes its inputs, runs it and keeps, per tensor,
its shape, summary statistics, a strided sample, its largest values with their positions, and the whole tensor
where it is small. ``tests/perception/test_tfjs_reference.py`` compares lavr's executor with them; CI needs no node.

Regenerate (about 2 minutes; node 20 and npm needed):

    mkdir -p /tmp/tfjs && (cd /tmp/tfjs && npm install @tensorflow/tfjs@4.22.0)
    python scripts/tfjs_reference.py --tfjs /tmp/tfjs [--models DIR] [--cases centernet-bus ...]

``--models`` defaults to the human-models folder lavr uses (``lavr models install``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIXTURES = REPO / "tests" / "data" / "tfjs_reference"
TFJS_VERSION = "4.22.0"
SAMPLE_COUNT = 384  # strided sample of a large tensor
TOP_COUNT = 24  # largest values of a large tensor, with their flat positions
FULL_LIMIT = 1024  # tensors up to this many values are kept whole


def legacy_resize(size: list[int]) -> dict[str, Any]:
    return {"op": "resizeBilinear", "size": size, "alignCorners": False, "halfPixelCenters": False}


@dataclass(frozen=True)
class Case:
    """One reference run: a model on a photo (or a crop of it) after human's pre-processing."""

    id: str
    model: str
    photo: str
    pipeline: list[dict[str, Any]]
    outputs: list[str]
    crop: tuple[int, int, int, int] | None = None  # pixel box x1, y1, x2, y2 of the photo
    notes: str = field(default="")


def movenet_pipeline(width: int, height: int) -> list[dict[str, Any]]:
    """human's movenetfix.padInput: pad the shorter side to a square (half before, half after), resize to 256,
    cast to int32 (truncating)."""
    pad_h = (width - height) // 2 if width > height else 0
    pad_w = (height - width) // 2 if height > width else 0
    return [{"op": "pad", "paddings": [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]]}, legacy_resize([256, 256]),
            {"op": "cast", "dtype": "int32"}]


CENTERNET_OUT = ["tower_0/detections", "tower_0/keypoints", "tower_0/wh"]
NANODET_OUT = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0"]
# Face crops: MTCNN's face boxes on these photos (lavr's faces tool), made square and 1.2 times as large.
ASTRONAUT_FACE = (151, 45, 293, 187)
GRACE_FACE = (135, 92, 391, 348)
ZIDANE_FACE = (867, 79, 1089, 301)


def face_cases(name: str, photo: str, box: tuple[int, int, int, int]) -> list[Case]:
    return [
        Case(f"emotion-{name}", "emotion", photo, [{"op": "div", "value": 255.0}, legacy_resize([64, 64]),
                                                  {"op": "grayscale"}], ["Identity:0"], crop=box),
        Case(f"faceres-{name}", "faceres", photo, [{"op": "div", "value": 255.0}, legacy_resize([224, 224]),
                                                  {"op": "mul", "value": 255.0}],
             ["gender_pred/Sigmoid:0", "age_pred/Softmax:0", "global_pooling/Mean"], crop=box),
    ]


def all_cases() -> list[Case]:
    from lavr.samples import sample_path

    def size(photo: str) -> tuple[int, int]:
        with Image.open(sample_path(photo)) as img:
            return img.size

    cases = [
        Case("centernet-bus", "centernet", "bus", [legacy_resize([512, 512])], CENTERNET_OUT),
        Case("centernet-coffee", "centernet", "coffee", [legacy_resize([512, 512])], CENTERNET_OUT),
        Case("nanodet-bus", "nanodet", "bus", [legacy_resize([416, 416]), {"op": "div", "value": 255.0},
                                               {"op": "transpose", "perm": [0, 3, 1, 2]}], NANODET_OUT),
        Case("nanodet-chelsea", "nanodet", "chelsea", [legacy_resize([416, 416]), {"op": "div", "value": 255.0},
                                                       {"op": "transpose", "perm": [0, 3, 1, 2]}], NANODET_OUT),
        Case("movenet-bus", "movenet-multipose", "bus", movenet_pipeline(*size("bus")), ["Identity:0"]),
        Case("movenet-zidane", "movenet-multipose", "zidane", movenet_pipeline(*size("zidane")), ["Identity:0"]),
    ]
    cases += face_cases("astronaut", "astronaut", ASTRONAUT_FACE)
    cases += face_cases("grace", "grace_hopper", GRACE_FACE)
    cases += face_cases("zidane", "zidane", ZIDANE_FACE)
    return cases


def photo_array(photo: str, crop: tuple[int, int, int, int] | None) -> np.ndarray:
    """The photo (RGB, uint8 values) as a [1, H, W, 3] float32 array, cropped when asked."""
    from lavr.samples import sample_path

    with Image.open(sample_path(photo)) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if crop is not None:
        x1, y1, x2, y2 = crop
        pixels = pixels[y1:y2, x1:x2]
    return pixels[None].astype(np.float32)


def summarise(values: np.ndarray) -> dict[str, Any]:
    """What a fixture keeps of a tensor."""
    flat = values.reshape(-1).astype(np.float64)
    doc: dict[str, Any] = {
        "shape": list(values.shape), "dtype": str(values.dtype),
        "scale": float(np.abs(flat).max()) if flat.size else 0.0,
        "mean": float(flat.mean()) if flat.size else 0.0, "std": float(flat.std()) if flat.size else 0.0,
    }
    if flat.size <= FULL_LIMIT:
        doc["values"] = [float(f"{v:.9g}") for v in flat]
        return doc
    positions = np.linspace(0, flat.size - 1, SAMPLE_COUNT).round().astype(np.int64)
    doc["sample"] = [float(f"{v:.9g}") for v in flat[positions]]
    top = np.argsort(-flat, kind="stable")[:TOP_COUNT]
    doc["top"] = {"index": [int(i) for i in top], "value": [float(f"{flat[i]:.9g}") for i in top]}
    return doc


def run_node(job_dir: Path, tfjs: Path) -> dict[str, Any]:
    env = {**os.environ, "NODE_PATH": str(tfjs / "node_modules")}
    subprocess.run(["node", str(REPO / "scripts" / "tfjs_reference.mjs"), str(job_dir)], check=True, env=env)
    return json.loads((job_dir / "result.json").read_text())


def read_bin(job_dir: Path, spec: dict[str, Any]) -> np.ndarray:
    dtype = np.int32 if spec["dtype"] == "int32" else np.float32
    return np.fromfile(job_dir / spec["file"], dtype=dtype).reshape(spec["shape"])


def record(cases: list[Case], models: Path, tfjs: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="lavr-tfjs-") as tmp:
        job_dir = Path(tmp)
        job = {"cases": []}
        for case in cases:
            image = photo_array(case.photo, case.crop)
            image.tofile(job_dir / f"{case.id}.image.bin")
            job["cases"].append({
                "id": case.id, "model": str(models / f"{case.model}.json"), "pipeline": case.pipeline,
                "outputs": case.outputs,
                "image": {"file": f"{case.id}.image.bin", "shape": list(image.shape), "dtype": "float32"},
            })
        (job_dir / "job.json").write_text(json.dumps(job))
        result = run_node(job_dir, tfjs)
        out.mkdir(parents=True, exist_ok=True)
        for case in cases:
            entry = result["cases"][case.id]
            model_json = models / f"{case.model}.json"
            fixture = {
                "case": case.id, "model": case.model, "photo": case.photo,
                "crop": list(case.crop) if case.crop else None, "pipeline": case.pipeline,
                "tfjs": result["tfjs"], "backend": result["backend"], "tfjs_seconds": round(entry["seconds"], 2),
                "model_json_sha256": hashlib.sha256(model_json.read_bytes()).hexdigest(),
                "input": summarise(read_bin(job_dir, entry["input"])),
                "outputs": {name: summarise(read_bin(job_dir, spec)) for name, spec in entry["outputs"].items()},
            }
            path = out / f"{case.id}.json"
            path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
            print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                  f"{path.stat().st_size:,} bytes, TF.js {entry['seconds']:.1f} s")


def default_models_dir() -> Path:
    """lavr's human-models folder, installed first when it is missing."""
    from lavr.perception.install import install, stderr_progress
    from lavr.settings import Settings

    return install(Settings(), progress=stderr_progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfjs", type=Path, required=True,
                        help="folder whose node_modules holds @tensorflow/tfjs@" + TFJS_VERSION)
    parser.add_argument("--models", type=Path, default=None, help="human-models' models/ folder")
    parser.add_argument("--out", type=Path, default=FIXTURES)
    parser.add_argument("--cases", nargs="*", help="case ids (default: all)")
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.cases:
        unknown = set(args.cases) - {c.id for c in cases}
        if unknown:
            parser.error(f"unknown cases {sorted(unknown)}; known: {[c.id for c in cases]}")
        cases = [c for c in cases if c.id in args.cases]
    version = json.loads((args.tfjs / "node_modules/@tensorflow/tfjs/package.json").read_text())["version"]
    if version != TFJS_VERSION:
        parser.error(f"{args.tfjs} has @tensorflow/tfjs {version}; the fixtures are recorded with {TFJS_VERSION}")
    record(cases, args.models or default_models_dir(), args.tfjs, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
