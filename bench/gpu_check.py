#!/usr/bin/env python
"""Device check: each expert through lavr's own code on cuda (fp16 where lavr uses it) against cpu, side by side.

Run on a machine with a GPU:  python bench/gpu_check.py --detector-weights PATH/best.pt
Prints JSON: per expert, the device, the dtype used, seconds per image (warm, median of 5) on cuda and on cpu,
and whether the cuda result agrees with the cpu one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "tools"))  # test_caption builds the tiny GIT model

from lavr.settings import Settings  # noqa: E402
from lavr.tools.base import RunContext  # noqa: E402


def timed(fn: Callable[[], Any], repeats: int = 5) -> tuple[Any, float]:
    fn()  # warm-up (weights, kernels)
    times, out = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def photo() -> Image.Image:
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / "bus.jpg"
    return Image.open(path).convert("RGB")


def check_detect(weights: str, tmp: Path) -> dict[str, Any]:
    from lavr.tools.detect import DetectTool

    results = {}
    for device in ("cuda", "cpu"):
        tool = DetectTool(Settings(data_dir=tmp, device=device, detector_weights=weights))
        raw, secs = timed(lambda tool=tool: tool.predict([photo()], conf=0.25)[0])
        dtype = str(next(tool._model.model.parameters()).dtype)
        results[device] = {"seconds": round(secs, 4), "dtype_after_predict": dtype,
                           "boxes": [d.box.as_list(2) for d in raw.detections],
                           "labels": [d.label for d in raw.detections]}
    agree = results["cuda"]["labels"] == results["cpu"]["labels"] and all(
        max(abs(a - b) for a, b in zip(x, y)) <= 0.02
        for x, y in zip(results["cuda"]["boxes"], results["cpu"]["boxes"]))
    return {"cuda": results["cuda"], "cpu": results["cpu"], "agree": agree,
            "speedup": round(results["cpu"]["seconds"] / results["cuda"]["seconds"], 1)}


def check_region_features(tmp: Path) -> dict[str, Any]:
    from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2

    from lavr.schema import Box
    from lavr.tools.region_features import RegionFeaturesInput, RegionFeaturesTool

    torch.manual_seed(0)
    weights = tmp / "frcnn.pth"
    torch.save(fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91).state_dict(), weights)
    vectors = {}
    out = {}
    for device in ("cuda", "cpu"):
        settings = Settings(data_dir=tmp, device=device, region_weights=weights)
        tool = RegionFeaturesTool(settings)

        def run(settings: Settings = settings, tool: RegionFeaturesTool = tool) -> Any:
            ctx = RunContext(settings)
            ctx.images.add_pil(photo(), source="bus")
            for box in (Box(x1=0.05, y1=0.35, x2=0.25, y2=0.85), Box(x1=0.8, y1=0.23, x2=1.0, y2=0.82)):
                ctx.register_object(image="img_0", label="person", confidence=0.9, box=box)
            tool.run(RegionFeaturesInput(min_score=0.99), ctx)
            return ctx.region_vectors

        vecs, secs = timed(run, repeats=3)
        vectors[device] = vecs
        out[device] = {"seconds": round(secs, 4)}
    a, b = torch.tensor(vectors["cuda"]["obj_0"]), torch.tensor(vectors["cpu"]["obj_0"])
    out["cosine_cuda_vs_cpu"] = round(float(torch.nn.functional.cosine_similarity(a, b, dim=0)), 5)
    out["agree"] = out["cosine_cuda_vs_cpu"] > 0.999
    return out


def check_caption(tmp: Path) -> dict[str, Any]:
    from test_caption import _build_git  # a tiny randomly initialised GIT model, as the tests build it

    from lavr.tools.caption import CaptionTool

    folder = _build_git(tmp / "git")
    out = {}
    for device in ("cuda", "cpu"):
        tool = CaptionTool(Settings(data_dir=tmp, device=device, caption_model=str(folder)))
        text, secs = timed(lambda tool=tool: tool.generate(photo()), repeats=3)
        model = getattr(tool, "_model", None)
        dtype = str(next(model.parameters()).dtype) if model is not None else "?"
        out[device] = {"seconds": round(secs, 4), "dtype": dtype, "caption_chars": len(text)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector-weights", required=True)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    report: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for name, fn in (("detect", lambda: check_detect(args.detector_weights, tmp)),
                     ("region_features", lambda: check_region_features(tmp)),
                     ("caption", lambda: check_caption(tmp))):
        try:
            report[name] = fn()
        except Exception as exc:  # report every expert even if one fails
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
