"""Tests for the caption tool (lavr.tools.caption) on tiny randomly initialised BLIP, GIT and ViT-BERT models."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers / huggingface_hub are imported
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from lavr.agents.executor import ToolExecutor
from lavr.cache import ExpertCache
from lavr.errors import ToolError, WeightsMissing
from lavr.schema import Box, ToolCall
from lavr.settings import Settings
from lavr.tools.base import RunContext
from lavr.tools.caption import CaptionInput, CaptionOutput, CaptionTool, resolve_model, strip_prompt
from lavr.tools.registry import ToolRegistry

transformers = pytest.importorskip("transformers")


WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "bus", "on", "the", "street", "what", "color", "is", "?",
         "red", "of", "picture", "man", "dog", "parked"]
TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
VISION = dict(TINY, image_size=32, patch_size=8)
TOKENS = dict(bos_token_id=2, eos_token_id=3, pad_token_id=0)
QUESTION = "what color is the bus?"


def _tokenizer(folder: Path) -> transformers.BertTokenizer:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return transformers.BertTokenizer.from_pretrained(str(folder))


def _build_blip(folder: Path) -> Path:
    tokenizer = _tokenizer(folder)
    config = transformers.BlipConfig(
        text_config=dict(TINY, vocab_size=len(WORDS), max_position_embeddings=64, sep_token_id=3, **TOKENS),
        vision_config=VISION, projection_dim=32, image_text_hidden_size=32,
    )
    model = transformers.BlipForConditionalGeneration(config)
    processor = transformers.BlipProcessor(
        image_processor=transformers.BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _build_git(folder: Path) -> Path:
    tokenizer = _tokenizer(folder)
    config = transformers.GitConfig(vision_config=VISION, vocab_size=len(WORDS), max_position_embeddings=64,
                                    **TINY, **TOKENS)
    image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    transformers.GitForCausalLM(config).save_pretrained(folder)
    transformers.GitProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def _build_vit_bert(folder: Path) -> Path:
    tokenizer = _tokenizer(folder)
    encoder = transformers.ViTConfig(**VISION)
    decoder = transformers.BertConfig(vocab_size=len(WORDS), max_position_embeddings=64, is_decoder=True,
                                      add_cross_attention=True, **TINY)
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 2, 0, 3
    model = transformers.VisionEncoderDecoderModel(config=config)
    model.generation_config.decoder_start_token_id, model.generation_config.pad_token_id = 2, 0
    model.generation_config.eos_token_id = 3
    model.save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("caption_models")
    return {"blip": _build_blip(root / "tiny-blip"), "git": _build_git(root / "tiny-git"),
            "ved": _build_vit_bert(root / "tiny-vit-bert")}


def _settings(model: Path | str, tmp: Path) -> Settings:
    return Settings(caption_model=str(model), device="cpu", data_dir=tmp / "data")


@pytest.fixture(scope="module")
def blip_tool(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> CaptionTool:
    return CaptionTool(_settings(models["blip"], tmp_path_factory.mktemp("blip")))


@pytest.fixture(scope="module")
def git_tool(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> CaptionTool:
    return CaptionTool(_settings(models["git"], tmp_path_factory.mktemp("git")))


def _picture() -> Image.Image:
    """A 96x64 RGB image: a red block on a blue-green gradient."""
    img = Image.new("RGB", (96, 64))
    img.putdata([(x * 2, 100, y * 3) for y in range(64) for x in range(96)])
    img.paste((220, 20, 20), (10, 10, 50, 40))
    return img


def _ctx(tool: CaptionTool, cache: object | None = None) -> RunContext:
    ctx = RunContext(tool.settings, cache=cache)  # type: ignore[arg-type]
    ctx.images.add_pil(_picture(), source="test")
    return ctx


def _cache(tmp_path: Path) -> ExpertCache:
    return ExpertCache(tmp_path / "cache.sqlite")


def test_availability_and_identity(blip_tool: CaptionTool, models: dict[str, Path]) -> None:
    avail = blip_tool.availability()
    assert avail.available and avail.weights == str(models["blip"])
    identity = blip_tool.identity()
    assert "blip" in identity and str(models["blip"]) in identity and transformers.__version__ in identity
    assert not blip_tool._ready  # availability/identity never load weights


def test_whole_image(blip_tool: CaptionTool) -> None:
    ctx = _ctx(blip_tool)
    out = blip_tool.run(CaptionInput(), ctx)
    assert isinstance(out, CaptionOutput) and isinstance(out.caption, str)
    assert (out.image, out.region, out.crop, out.model, out.conditioned) == ("img_0", "whole image", None,
                                                                             "tiny-blip", False)
    text = out.to_text()
    assert text.startswith("caption of img_0 (whole image): ") and "[model: tiny-blip]" in text


def test_box_region(blip_tool: CaptionTool) -> None:
    ctx = _ctx(blip_tool)
    out = blip_tool.run(CaptionInput(box=[0.1, 0.1, 0.6, 0.7]), ctx)
    assert out.region == Box(x1=0.1, y1=0.1, x2=0.6, y2=0.7).render() and out.crop == "crop_0"
    assert ctx.images.get("crop_0").size == (48, 39)
    assert out.region in out.to_text() and "tiny-blip" in out.to_text()


def test_object_region(blip_tool: CaptionTool) -> None:
    ctx = _ctx(blip_tool)
    det = ctx.register_object(image="img_0", label="bus", confidence=0.9, box=Box(x1=0.1, y1=0.15, x2=0.52, y2=0.63))
    out = blip_tool.run(CaptionInput(object=det.id), ctx)
    assert out.image == "img_0" and out.region.startswith(f"{det.id} bus [") and out.crop is not None
    assert ctx.images.get(out.crop).box == det.box
    assert det.id in out.to_text()


@pytest.mark.parametrize("name", ["blip", "git"])
def test_question_conditioned(name: str, request: pytest.FixtureRequest) -> None:
    tool: CaptionTool = request.getfixturevalue(f"{name}_tool")
    ctx = _ctx(tool)
    out = tool.run(CaptionInput(question=QUESTION), ctx)
    assert out.conditioned and out.question == QUESTION and isinstance(out.caption, str)
    assert not out.caption.startswith("what color is")  # the echoed prompt is stripped
    assert f'given "{QUESTION}"' in out.to_text() and f"[model: tiny-{name}]" in out.to_text()


def test_strip_prompt() -> None:
    prompt = torch.tensor([2, 10, 11, 12])
    assert strip_prompt(torch.tensor([99, 10, 11, 12, 5, 6, 3]), prompt).tolist() == [5, 6, 3]
    assert strip_prompt(torch.tensor([2, 5, 6]), prompt).tolist() == [2, 5, 6]


def test_git_whole_image(git_tool: CaptionTool) -> None:
    out = git_tool.run(CaptionInput(), _ctx(git_tool))
    assert out.model == "tiny-git" and isinstance(out.caption, str) and not out.conditioned


def test_vision_encoder_decoder_ignores_question(models: dict[str, Path], tmp_path: Path) -> None:
    tool = CaptionTool(_settings(models["ved"], tmp_path))
    assert tool.availability().available
    out = tool.run(CaptionInput(question=QUESTION), _ctx(tool))
    assert not out.conditioned and isinstance(out.caption, str)
    assert "cannot take a question" in out.to_text()


def test_second_call_hits_cache(blip_tool: CaptionTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _ctx(blip_tool, _cache(tmp_path))
    ctx = run.for_call()
    first = blip_tool.run(CaptionInput(box=[0.0, 0.0, 0.5, 0.5]), ctx)
    assert not ctx.call.cached

    def boom(*_: object, **__: object) -> str:
        raise AssertionError("generate ran despite a cached caption")

    monkeypatch.setattr(blip_tool, "generate", boom)
    ctx = run.for_call()
    second = blip_tool.run(CaptionInput(box=[0.0, 0.0, 0.5, 0.5]), ctx)  # a new crop id, same pixels
    assert ctx.call.cached and second.caption == first.caption
    with pytest.raises(AssertionError):  # a different question is a different cache entry
        blip_tool.run(CaptionInput(box=[0.0, 0.0, 0.5, 0.5], question="is it red?"), ctx)


def test_threads_share_one_model(blip_tool: CaptionTool) -> None:
    ctx = _ctx(blip_tool)
    blip_tool.ensure_ready()
    model = blip_tool._model
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: blip_tool.run(CaptionInput(), ctx).caption, range(4)))
    assert len(set(outs)) == 1 and blip_tool._model is model


def test_bad_box(blip_tool: CaptionTool) -> None:
    with pytest.raises(ValidationError, match="x1 < x2"):
        CaptionInput(box=[0.6, 0.1, 0.2, 0.9])
    with pytest.raises(ValidationError, match="between 0 and 1"):
        CaptionInput(box=[0, 0, 120, 80])
    with pytest.raises(ValidationError, match="4 numbers"):
        CaptionInput(box=[0.1, 0.2, 0.3])
    with pytest.raises(ValidationError, match="either object or box"):
        CaptionInput(object="obj_0", box=[0.1, 0.1, 0.2, 0.2])
    ctx = _ctx(blip_tool)
    bad = CaptionInput.model_construct(image="img_0", object=None, box=[0.6, 0.1, 0.2, 0.9], question=None)
    with pytest.raises(ToolError, match="x1 < x2"):
        blip_tool.run(bad, ctx)
    with pytest.raises(ToolError, match="empty"):
        blip_tool.run(CaptionInput(box=[0.9999, 0.0, 1.0, 1.0]), ctx)
    with pytest.raises(ToolError, match="unknown image id"):
        blip_tool.run(CaptionInput(image="img_5"), ctx)


def test_unknown_object(blip_tool: CaptionTool) -> None:
    with pytest.raises(ToolError, match="unknown object id 'obj_3'"):
        blip_tool.run(CaptionInput(object="obj_3"), _ctx(blip_tool))


def test_executor_reports_bad_box(blip_tool: CaptionTool) -> None:
    executor = ToolExecutor(ToolRegistry([blip_tool]))
    step = executor.run_one(ToolCall(tool="caption", args={"box": [0.5, 0.5, 0.1, 0.9]}), _ctx(blip_tool))
    assert step.error and "x1 < x2" in step.error


def test_missing_model_unavailable(tmp_path: Path) -> None:
    tool = CaptionTool(_settings(tmp_path / "no-such-model", tmp_path))
    avail = tool.availability()
    assert not avail.available and "does not exist" in (avail.reason or "")
    assert "LAVR_CAPTION_MODEL" in (avail.fix or "")
    with pytest.raises(WeightsMissing):
        tool.ensure_ready()
    hub = CaptionTool(_settings("lavr-tests/not-a-cached-model", tmp_path)).availability()
    assert not hub.available and "not in the local Hugging Face cache" in (hub.reason or "")
    assert "huggingface-cli" in (hub.fix or "")


def test_unsupported_folders(tmp_path: Path, models: dict[str, Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no config.json" in (resolve_model(str(empty)).reason or "")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (odd / "model.safetensors").write_bytes(b"")
    res = resolve_model(str(odd))
    assert res.family is None and "'llama' is not supported" in (res.reason or "")
    (empty / "config.json").write_text(json.dumps({"model_type": "blip"}))
    assert "no weights" in (resolve_model(str(empty)).reason or "")
    assert resolve_model(str(models["git"])).family == "git"
    (odd / "config.json").write_text(json.dumps({"model_type": "blip", "architectures": ["BlipForQuestionAnswering"]}))
    assert "not a BLIP captioner" in (resolve_model(str(odd)).reason or "")


def test_a_hub_id_is_found_in_the_hub_cache_and_a_missing_one_without_the_hub_client(
        tmp_path: Path, models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import subprocess
    import sys

    from huggingface_hub import constants

    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--lavr-tests--tiny-blip"
    shutil.copytree(models["blip"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    found = resolve_model("lavr-tests/tiny-blip")
    assert found.family == "blip" and found.path == repo / "snapshots" / commit, found.reason
    missing = resolve_model("lavr-tests/not-cached")
    assert missing.family is None and "not in the local Hugging Face cache" in (missing.reason or "")
    # a new process that looks for a model the cache does not hold leaves the hub client's modules unimported
    code = ("import sys; from lavr.tools.caption import resolve_model; r = resolve_model('lavr-tests/not-cached'); "
            "print(r.family, 'huggingface_hub.hf_api' in sys.modules)")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["None", "False"]
