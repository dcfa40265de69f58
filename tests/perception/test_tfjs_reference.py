"""lavr's TF.js executor against TF.js itself, on every model lavr uses.

The fixtures (tests/data/tfjs_reference/, recorded by scripts/tfjs_reference.py from @tensorflow/tfjs 4.22's CPU
backend in node) hold, per case, the pre-processing human applies, and per tensor a strided sample, the largest
values with their positions, or the whole tensor when small. Every output must match within 1e-3 of its scale:
``max |ours - TF.js| <= 1e-3 * max(scale, 1)``, the scale taken per column (last axis) for small outputs, whose
columns mix coordinates, scores and class ids, and over the whole tensor otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from perception_helpers import needs_models

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "data" / "tfjs_reference").glob("*.json"))
TOLERANCE = 1e-3


pytestmark = pytest.mark.models


def fixture(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def apply_pipeline(pixels: np.ndarray, steps: list[dict[str, Any]]):
    """The fixture's pre-processing steps (tf calls in the node script) done with lavr's own functions."""
    import torch

    from lavr.tfjs.ops.array import pad_value
    from lavr.tfjs.ops.nn import resize_bilinear

    x = torch.from_numpy(pixels)
    for step in steps:
        op = step["op"]
        if op == "resizeBilinear":
            x = resize_bilinear(x, tuple(step["size"]), align_corners=step["alignCorners"],
                                half_pixel_centers=step["halfPixelCenters"])
        elif op in ("div", "mul"):
            x = x / step["value"] if op == "div" else x * step["value"]
        elif op == "transpose":
            x = x.permute(step["perm"]).contiguous()
        elif op == "pad":
            x = pad_value(x, [tuple(p) for p in step["paddings"]])
        elif op == "cast":
            x = x.to(torch.int64)  # TF.js casts float to int32 by truncation
        elif op == "grayscale":
            gray = (x * torch.tensor([0.2989, 0.5870, 0.1140])).sum(-1, keepdim=True)
            x = (gray - 0.5) * 2
        else:
            raise AssertionError(f"unknown step {step}")
    return x


def photo_pixels(doc: dict[str, Any]) -> np.ndarray:
    from PIL import Image

    from lavr.samples import sample_path

    with Image.open(sample_path(doc["photo"])) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if doc["crop"]:
        x1, y1, x2, y2 = doc["crop"]
        pixels = pixels[y1:y2, x1:x2]
    return pixels[None].astype(np.float32)


def max_scaled_diff(ours: np.ndarray, ref: dict[str, Any]) -> tuple[float, float]:
    """(max |ours - ref| / tolerance, max |ours - ref|): the first must be <= 1."""
    assert list(ours.shape) == ref["shape"], f"shape {list(ours.shape)} != {ref['shape']}"
    flat = ours.reshape(-1).astype(np.float64)
    if "values" in ref:
        expected = np.asarray(ref["values"], dtype=np.float64).reshape(ours.shape)
        diff = np.abs(ours.astype(np.float64) - expected)
        last = ours.shape[-1] if ours.ndim else 1
        columns = np.abs(expected).reshape(-1, last).max(axis=0) if expected.size else np.zeros(last)
        allowed = TOLERANCE * np.maximum(columns, 1.0)
        return float((diff.reshape(-1, last) / allowed).max()), float(diff.max())
    positions = np.linspace(0, flat.size - 1, len(ref["sample"])).round().astype(np.int64)
    diffs = np.concatenate([np.abs(flat[positions] - np.asarray(ref["sample"])),
                            np.abs(flat[ref["top"]["index"]] - np.asarray(ref["top"]["value"])),
                            [abs(flat.mean() - ref["mean"]), abs(flat.std() - ref["std"])]])
    return float(diffs.max() / (TOLERANCE * max(ref["scale"], 1.0))), float(diffs.max())


@pytest.fixture(scope="module")
def models():
    from lavr.perception.install import model_json
    from lavr.settings import Settings
    from lavr.tfjs import load_graph_model

    cache: dict[str, Any] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_graph_model(model_json(Settings(human_models_auto_install=False), name))
        return cache[name]

    return get


def test_fixtures_cover_every_model_lavr_uses():
    from lavr.perception.install import MODELS

    covered = {fixture(p)["model"] for p in FIXTURES}
    assert covered == set(MODELS), f"models without a TF.js reference: {set(MODELS) - covered}"


@needs_models
@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_executor_matches_tfjs(path, models):
    doc = fixture(path)
    pixels = photo_pixels(doc)
    x = apply_pipeline(pixels, doc["pipeline"])
    ratio, _ = max_scaled_diff(x.numpy(), doc["input"])
    assert ratio <= 1, f"{doc['case']}: the pre-processed input differs from TF.js's"
    outputs = models(doc["model"]).run(x, list(doc["outputs"]))
    for name, ref in doc["outputs"].items():
        ratio, diff = max_scaled_diff(outputs[name].numpy(), ref)
        assert ratio <= 1, f"{doc['case']} {name}: max abs diff {diff:.3g} over the tolerance"


@needs_models
def test_fixtures_were_recorded_from_the_installed_model_files():
    import hashlib

    from lavr.perception.install import model_json
    from lavr.settings import Settings

    for path in FIXTURES:
        doc = fixture(path)
        model = model_json(Settings(human_models_auto_install=False), doc["model"])
        assert hashlib.sha256(model.read_bytes()).hexdigest() == doc["model_json_sha256"], path.name


def wrapper_input(doc: dict[str, Any]):
    """The model input lavr's wrapper builds from the fixture's photo (or crop)."""
    from PIL import Image

    from lavr.perception.detectors import CenterNet, NanoDet
    from lavr.perception.face_attributes import FaceAttributes
    from lavr.perception.pose import MoveNet

    pixels = photo_pixels(doc)[0].astype(np.uint8)
    image = Image.fromarray(pixels)
    settings = None
    if doc["model"] == "centernet":
        return CenterNet(settings).preprocess(image)
    if doc["model"] == "nanodet":
        return NanoDet(settings).preprocess(image)
    if doc["model"] == "movenet-multipose":
        return MoveNet(settings).preprocess(image)[0]
    if doc["model"] == "emotion":
        return FaceAttributes(settings).emotion_input([image])
    if doc["model"] == "faceres":
        return FaceAttributes(settings).faceres_input([image])
    raise AssertionError(doc["model"])


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_wrappers_preprocess_as_human_does(path):
    """Each wrapper's input equals the fixture's pre-processing (human's tf calls, run by TF.js) of the same photo."""
    doc = fixture(path)
    ours = wrapper_input(doc)
    ratio, diff = max_scaled_diff(ours.numpy(), doc["input"])
    assert ratio <= 1, f"{doc['case']}: input differs from TF.js's by {diff:.3g}"
    assert ours.dtype == apply_pipeline(photo_pixels(doc), doc["pipeline"]).dtype
