"""``region_features``: a randomly initialised Faster R-CNN run through the tool's real load/forward/post path."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from tools_for_tests import FixedDetector  # noqa: E402

from lavr.errors import ToolError, WeightsMissing  # noqa: E402
from lavr.schema import Box  # noqa: E402
from lavr.settings import Settings  # noqa: E402
from lavr.tools.base import RunContext  # noqa: E402
from lavr.tools.detect import RawDetection  # noqa: E402
from lavr.tools.region_features import (  # noqa: E402
    GROUP_THRESHOLD,
    RegionFeaturesInput,
    RegionFeaturesTool,
    cosine,
    group_by_similarity,
    hub_weights_path,
    region_vectors,
)

logger = logging.getLogger(__name__)
ARCH = "fasterrcnn_mobilenet_v3_large_fpn"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init mobilenet_v3 Faster R-CNN state dict (no download)."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.manual_seed(0)
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path_factory.mktemp("weights") / "frcnn_random.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def settings(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(region_model="mobilenet_v3", region_weights=weights, device="cpu",
                    data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tool(settings: Settings) -> RegionFeaturesTool:
    return RegionFeaturesTool(settings)


def image_source() -> Path:
    from lavr.samples import sample_path

    return sample_path("bus")  # ultralytics is a dependency: its bus.jpg is always there


def make_ctx(settings: Settings, cache: object | None = None) -> RunContext:
    ctx = RunContext(settings, cache=cache)  # type: ignore[arg-type]
    ctx.images.add(image_source())
    return ctx


def run(tool: RegionFeaturesTool, ctx: RunContext, **kwargs: object):
    return tool.run(RegionFeaturesInput.model_validate(kwargs), ctx)


def test_own_regions_vectors_stay_out_of_output(tool: RegionFeaturesTool, settings: Settings) -> None:
    ctx = make_ctx(settings)
    tool.ensure_ready()
    start = time.perf_counter()
    out = run(tool, ctx, min_score=0.0)
    logger.info("region_features forward on CPU: %.2f s", time.perf_counter() - start)
    assert 0 < len(out.regions) <= 20
    assert all(r.source == "frcnn" and r.id.startswith("reg_") for r in out.regions)
    vectors = region_vectors(ctx)
    assert all(len(vectors[r.id]) == 1024 for r in out.regions)
    dumped = json.dumps(out.model_dump(mode="json"))
    assert "vector" not in dumped and len(dumped) < 20_000
    text = out.to_text()
    assert text.startswith(f"region_features of img_0 ({ARCH}): {len(out.regions)} regions")
    assert f"visually similar groups (cosine >= {GROUP_THRESHOLD:.2f})" in text
    assert len(text.splitlines()) == len(out.regions) + 2 and len(text) < 4000  # no vectors in the prompt text
    assert sorted(i for g in out.groups for i in g) == sorted(r.id for r in out.regions)
    again = run(tool, ctx, min_score=0.0)  # same ctx: the same regions keep their ids
    assert [r.id for r in again.regions] == [r.id for r in out.regions]


def test_identical_boxes_group_and_ranking(tool: RegionFeaturesTool, settings: Settings) -> None:
    ctx = make_ctx(settings)
    box = Box(x1=0.05, y1=0.2, x2=0.95, y2=0.8)
    a = ctx.register_object(image="img_0", label="bus", confidence=0.9, box=box)
    b = ctx.register_object(image="img_0", label="car", confidence=0.8, box=box)
    c = ctx.register_object(image="img_0", label="person", confidence=0.7, box=Box(x1=0.0, y1=0.85, x2=0.1, y2=1.0))
    d = ctx.register_object(image="img_0", label="person", confidence=0.6, box=Box(x1=0.3, y1=0.4, x2=0.45, y2=0.9))
    out = run(tool, ctx, objects=[a.id, b.id, c.id, d.id], similar_to=a.id)
    assert [r.id for r in out.regions] == [a.id, b.id, c.id, d.id]
    assert all(r.source == "detect" for r in out.regions)
    vectors = region_vectors(ctx)
    assert cosine(vectors[a.id], vectors[b.id]) == pytest.approx(1.0, abs=1e-6)
    assert any(a.id in g and b.id in g for g in out.groups)
    assert out.ranking is not None and out.ranking[0].id == b.id
    assert out.ranking[0].cosine == pytest.approx(1.0, abs=1e-4)
    expected = sorted((i for i in (b.id, c.id, d.id)), key=lambda i: -cosine(vectors[a.id], vectors[i]))
    assert [r.id for r in out.ranking] == expected
    assert f"most similar to {a.id}: {b.id} 1.00" in out.to_text()


def test_default_lists_detect_objects_then_own_regions(tool: RegionFeaturesTool, settings: Settings) -> None:
    ctx = make_ctx(settings)
    bus = RawDetection(label="bus", confidence=0.9, box=Box(x1=0.05, y1=0.2, x2=0.95, y2=0.8))
    tool.detector = FixedDetector(settings, [bus])  # the default lists the detector's own objects of the image
    try:
        _check_default_listing(tool, ctx)
    finally:
        tool.detector = None


def _check_default_listing(tool: RegionFeaturesTool, ctx: RunContext) -> None:
    out = run(tool, ctx, min_score=0.0)
    obj = ctx.get_object("obj_0")
    assert obj.label == "bus" and out.regions[0].id == obj.id and out.regions[0].source == "detect"
    assert any(r.source == "frcnn" for r in out.regions)
    reg = next(r.id for r in out.regions if r.source == "frcnn")
    ranked = run(tool, ctx, objects=[obj.id], similar_to=reg, min_score=0.0)  # similar_to joins the described set
    assert [r.id for r in ranked.regions] == [obj.id, reg] and ranked.ranking is not None


def test_errors(tool: RegionFeaturesTool, settings: Settings) -> None:
    ctx = make_ctx(settings)
    with pytest.raises(ToolError, match="unknown image id 'img_7'"):
        run(tool, ctx, image="img_7")
    with pytest.raises(ToolError, match="no regions in img_0"):
        run(tool, ctx, min_score=1.0)
    with pytest.raises(ToolError, match="unknown object id 'obj_9'"):
        run(tool, ctx, objects=["obj_9"])
    with pytest.raises(ToolError, match="unknown region id 'reg_42'"):
        run(tool, ctx, objects=["reg_42"])
    obj = ctx.register_object(image="img_0", label="bus", confidence=0.9, box=Box(x1=0.1, y1=0.1, x2=0.5, y2=0.5))
    with pytest.raises(ToolError, match="unknown region id 'reg_3'"):
        run(tool, ctx, objects=[obj.id], similar_to="reg_3")
    ctx.images.add(Image.new("RGB", (64, 64), (0, 0, 0)))
    with pytest.raises(ToolError, match="belongs to img_0"):
        run(tool, ctx, image="img_1", objects=[obj.id])


def test_availability_and_hub_cache_default(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = RegionFeaturesTool(Settings(region_model="mobilenet_v3", region_weights=tmp_path / "nope.pth"))
    avail = missing.availability()
    assert not avail.available and "nope.pth" in (avail.reason or "") and "LAVR_REGION_WEIGHTS" in (avail.fix or "")
    with pytest.raises(WeightsMissing):
        missing.setup()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_FPN_Weights as W

    expected = tmp_path / "hub" / "checkpoints" / W.COCO_V1.url.rsplit("/", 1)[-1]
    assert hub_weights_path("mobilenet_v3") == expected and expected.suffix == ".pth"
    default = RegionFeaturesTool(Settings(region_model="mobilenet_v3", device="cpu"))
    avail = default.availability()
    assert not avail.available and str(expected) in (avail.reason or "") and str(expected) in (avail.fix or "")
    expected.parent.mkdir(parents=True)
    shutil.copy(weights, expected)
    assert default.availability().available
    digest = hashlib.sha256(expected.read_bytes()).hexdigest()[:16]
    assert default.identity() == f"{ARCH}:{expected.name}:{digest}"


def test_identity_follows_the_weights_content_not_their_size(tool: RegionFeaturesTool, weights: Path,
                                                              tmp_path: Path) -> None:
    # A retrained file of exactly the same size is another model: its cached outputs must not be reused.
    other = tmp_path / weights.name
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    other.write_bytes(bytes(data))
    retrained = RegionFeaturesTool(Settings(region_model="mobilenet_v3", region_weights=other, device="cpu"))
    assert other.stat().st_size == weights.stat().st_size
    assert retrained.identity() != tool.identity()
    assert tool.identity() == RegionFeaturesTool(tool.settings).identity()  # stable for the same file
    wrong = RegionFeaturesTool(Settings(region_model="resnet50_fpn_v2", region_weights=weights))
    with pytest.raises(WeightsMissing, match="LAVR_REGION_MODEL"):
        wrong.setup()


def test_cache_hit_skips_forward(tool: RegionFeaturesTool, settings: Settings, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from lavr.cache import ExpertCache

    cache = ExpertCache(tmp_path / "experts.sqlite")
    first_ctx = make_ctx(settings, cache)
    first = run(tool, first_ctx, min_score=0.0)
    monkeypatch.setattr(tool, "compute", lambda *a, **k: pytest.fail("forward ran despite a cache entry"))
    ctx = make_ctx(settings, cache).for_call()
    second = run(tool, ctx, min_score=0.0)
    assert ctx.call.cached
    assert second.model_dump() == first.model_dump()
    assert region_vectors(ctx) == region_vectors(first_ctx)


def test_box_heads_are_1024_for_both_archs() -> None:
    from torchvision.models import detection

    for name in ("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_resnet50_fpn_v2"):
        model = getattr(detection, name)(weights=None, weights_backbone=None, num_classes=91).eval()
        with torch.inference_mode():
            out = model.roi_heads.box_head(torch.zeros(2, model.backbone.out_channels, 7, 7))
        assert out.shape == (2, 1024), name


def test_grouping_is_deterministic_average_linkage() -> None:
    vecs = {"a": [1.0, 0.0], "b": [0.99, 0.1], "c": [0.0, 1.0], "d": [0.05, 1.0], "e": [1.0, 1.0]}
    groups = group_by_similarity(list(vecs), vecs)
    assert groups == [["a", "b"], ["c", "d"], ["e"]]
    assert group_by_similarity(list(vecs), vecs) == groups
    assert group_by_similarity(["a", "z"], {"a": [1.0, 0.0], "z": [0.0, 0.0]}) == [["a"], ["z"]]


def test_weight_file_names_match_torchvision() -> None:
    from torchvision.models import detection

    from lavr.tools.region_features import ARCHS, WEIGHT_ENUMS, WEIGHT_FILES

    assert set(WEIGHT_FILES) == set(WEIGHT_ENUMS) == set(ARCHS)
    for model, enum in WEIGHT_ENUMS.items():
        assert getattr(detection, enum).COCO_V1.url.rsplit("/", 1)[-1] == WEIGHT_FILES[model]


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "th"}, {"XDG_CACHE_HOME": "xdg"},
                                 {"TORCH_HOME": "th", "XDG_CACHE_HOME": "xdg"}])
def test_hub_dir_without_importing_torch_agrees_with_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           env: dict[str, str]) -> None:
    import sys

    from lavr.tools.region_features import torch_hub_dir

    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    with_torch = Path(torch.hub.get_dir())
    monkeypatch.delitem(sys.modules, "torch")
    assert torch_hub_dir() == with_torch
