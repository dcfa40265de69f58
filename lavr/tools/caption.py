"""``caption``: an OCR-free image-to-text captioner (BLIP, GIT, Florence-2 or any vision-encoder-decoder)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ..errors import ImageError, ToolError, WeightsMissing
from ..images import StoredImage
from ..schema import Box
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput

logger = logging.getLogger(__name__)

MAX_NEW_TOKENS = 30
FAMILIES = {"blip": "blip", "git": "git", "florence2": "florence2", "vision-encoder-decoder": "ved"}
PROMPT_FAMILIES = frozenset({"blip", "git"})  # families that continue a free text prefix (PromptCap style)
FLORENCE_TASK = "<CAPTION>"
FIX = ("set LAVR_CAPTION_MODEL to a local folder with a BLIP/GIT/Florence-2 model, or download it with "
       "huggingface-cli when online")
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")


@dataclass
class ResolvedModel:
    """Where ``settings.caption_model`` points: a local folder with its config, or why there is none."""

    spec: str
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    family: str | None = None
    reason: str | None = None

    @property
    def display(self) -> str:
        """Short model name for the LLM: the hub id's last part or the folder's name."""
        return self.spec.rstrip("/").split("/")[-1] or self.spec


def _find_folder(spec: str) -> tuple[Path | None, str | None]:
    """Map a folder path or a cached hub id to a local folder, never touching the network."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path, None
    if path.is_absolute() or spec.startswith((".", "~")) or not _HUB_ID.match(spec):
        return None, f"caption model folder {spec} does not exist"
    missing = f"{spec} is not in the local Hugging Face cache and model hubs are unreachable"
    from huggingface_hub import constants

    # The hub cache keeps a model under models--ORG--NAME: without that folder there is nothing to find, and
    # snapshot_download's import (0.4-0.8 s of CPU in a new process, on the way to the first tool call) is skipped.
    if not (Path(constants.HF_HUB_CACHE) / f"models--{spec.replace('/', '--')}").is_dir():
        return None, missing
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=spec, local_files_only=True)), None
    except Exception as exc:  # LocalEntryNotFoundError, offline errors, bad ids
        logger.debug("caption model %s not in the HF cache: %s", spec, exc)
        return None, missing


def resolve_model(spec: str) -> ResolvedModel:
    """Find the caption model's folder, read its config.json and detect the model family.

    Args:
        spec: A local folder or a Hugging Face hub id (looked up in the local cache only).

    Returns:
        The resolution; ``reason`` is set and ``family`` is None when the model cannot be used here.
    """
    res = ResolvedModel(spec=spec)
    folder, reason = _find_folder(spec)
    if folder is None:
        res.reason = reason
        return res
    config_file = folder / "config.json"
    if not config_file.is_file():
        res.reason = f"{folder} has no config.json (not a transformers model folder)"
        return res
    try:
        res.config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        res.reason = f"{config_file} is unreadable: {exc}"
        return res
    res.path = folder
    if not any(any(folder.glob(g)) for g in _WEIGHT_GLOBS):
        res.reason = f"{folder} has a config.json but no weights (*.safetensors or pytorch_model*.bin)"
        return res
    model_type = str(res.config.get("model_type", ""))
    family = FAMILIES.get(model_type)
    if family is None:
        res.reason = (f"caption model type {model_type or '(none)'!r} is not supported "
                      f"(supported: {', '.join(FAMILIES)})")
    elif family == "blip" and res.config.get("architectures") and \
            "BlipForConditionalGeneration" not in res.config["architectures"]:
        res.reason = (f"{spec} is a {res.config['architectures'][0]} checkpoint, not a BLIP captioner "
                      "(use e.g. Salesforce/blip-image-captioning-base)")
    elif family == "florence2":
        import transformers

        vision_type = (res.config.get("vision_config") or {}).get("model_type")
        if not hasattr(transformers, "Florence2ForConditionalGeneration"):
            res.reason = "this transformers version has no native Florence-2 (remote code is not allowed)"
        elif vision_type not in (None, "florence_vision"):
            res.reason = (f"{spec} is a remote-code Florence-2 checkpoint (vision {vision_type!r}); "
                          "remote code is not allowed: use a native one such as florence-community/Florence-2-base")
    res.family = None if res.reason else family
    return res


class CaptionInput(ImageArg):
    object: str | None = Field(None, pattern=r"^obj_\d+$",
                               description="Caption only this detected object (obj_N from detect).")
    box: list[float] | None = Field(
        None, description="Caption only this region: [x1, y1, x2, y2] normalised 0..1, origin top-left."
    )
    question: str | None = Field(
        None, max_length=300, description="Optional question; models that accept a prompt focus the caption on it."
    )

    @field_validator("box")
    @classmethod
    def _check_box(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            box_from(value)
        return value

    @field_validator("question")
    @classmethod
    def _strip_question(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @model_validator(mode="after")
    def _one_region(self) -> CaptionInput:
        if self.object is not None and self.box is not None:
            raise ValueError("give either object or box, not both")
        return self


def box_from(values: list[float]) -> Box:
    """Turn ``[x1, y1, x2, y2]`` into a ``Box``, raising ``ValueError`` with a message the LLM can act on."""
    if len(values) != 4:
        raise ValueError(f"box needs 4 numbers [x1, y1, x2, y2], got {len(values)}")
    if any(not 0.0 <= float(v) <= 1.0 for v in values):
        raise ValueError(f"box {list(values)} must be normalised: every number between 0 and 1")
    x1, y1, x2, y2 = (float(v) for v in values)
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f"box {list(values)} must satisfy x1 < x2 and y1 < y2 (format [x1, y1, x2, y2])")
    return Box(x1=x1, y1=y1, x2=x2, y2=y2)


class CaptionValue(BaseModel):
    """What the cache stores for one captioned image."""

    caption: str


class CaptionOutput(ToolOutput):
    """One caption, what it describes (image id and region) and which model wrote it."""

    image: str
    region: str = Field(description="'whole image', the box, or the object id that was captioned.")
    crop: str | None = Field(None, description="Id of the stored crop that was captioned, if a region.")
    caption: str
    model: str
    conditioned: bool = False
    question: str | None = None
    note: str | None = None

    def to_text(self) -> str:
        given = f' given "{self.question}"' if self.conditioned and self.question else ""
        crop = f", {self.crop}" if self.crop else ""
        text = f'caption of {self.image} ({self.region}{crop}){given}: "{self.caption}" [model: {self.model}]'
        return f"{text} ({self.note})" if self.note else text


class CaptionTool(Tool[CaptionInput, CaptionOutput]):
    """Describe an image, an object (obj_N) or a box region in one sentence (no OCR: it does not read text).

    Pass a question to focus the caption on it when the model supports prompts.
    """

    name = "caption"
    input_model = CaptionInput
    output_model = CaptionOutput

    def __init__(self, settings: Settings, *, max_new_tokens: int = MAX_NEW_TOKENS):
        super().__init__(settings)
        self.max_new_tokens = max_new_tokens
        self._resolved: ResolvedModel | None = None
        self._model: Any = None
        self._processor: Any = None
        self._tokenizer: Any = None
        self._device = "cpu"
        self._generate_lock = threading.Lock()

    # Resolution --------------------------------------------------------------
    def resolved(self) -> ResolvedModel:
        """The resolved model, computed once per tool instance."""
        if self._resolved is None:
            self._resolved = resolve_model(self.settings.caption_model)
        return self._resolved

    def availability(self) -> Availability:
        if importlib.util.find_spec("transformers") is None:
            return Availability(available=False, reason="transformers is not installed", fix="pip install transformers")
        res = self.resolved()
        if res.family is None:
            return Availability(available=False, weights=res.spec, reason=res.reason, fix=FIX)
        return Availability(available=True, weights=str(res.path))

    def identity(self) -> str:
        res = self.resolved()
        cfg = res.config
        try:
            tf_version = importlib.metadata.version("transformers")
        except importlib.metadata.PackageNotFoundError:
            tf_version = "none"
        return (f"caption:{res.spec}:{res.path}:{cfg.get('_name_or_path', '')}:{cfg.get('model_type', '')}"
                f":tf{tf_version}:max{self.max_new_tokens}")

    # Loading -----------------------------------------------------------------
    def setup(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        res = self.resolved()
        if res.family is None or res.path is None:
            raise WeightsMissing(f"caption model unavailable: {res.reason}; {FIX}")
        import torch
        import transformers as tf

        self._device = self.settings.resolved_device()
        dtype = torch.float16 if self._device == "cuda" else torch.float32
        path, kw = str(res.path), {"local_files_only": True}
        model_cls, proc_cls = {"blip": ("BlipForConditionalGeneration", "BlipProcessor"),
                               "git": ("AutoModelForCausalLM", "AutoProcessor"),
                               "florence2": ("Florence2ForConditionalGeneration", "AutoProcessor"),
                               "ved": ("VisionEncoderDecoderModel", "AutoImageProcessor")}[res.family]
        try:
            model = getattr(tf, model_cls).from_pretrained(path, dtype=dtype, **kw)
            self._processor = getattr(tf, proc_cls).from_pretrained(path, **kw)
            self._tokenizer = (tf.AutoTokenizer.from_pretrained(path, **kw) if res.family == "ved"
                               else self._processor.tokenizer)
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsMissing(f"cannot load caption model {res.spec} from {path}: {exc}") from exc
        self._model = model.to(self._device).eval()
        logger.info("caption model %s (%s) loaded on %s", res.spec, res.family, self._device)

    # Generation --------------------------------------------------------------
    def generate(self, pil: Any, question: str | None = None) -> str:
        """Caption one RGB PIL image, conditioned on ``question`` when the model family takes a text prefix."""
        self.ensure_ready()
        import torch

        family = self.resolved().family
        gen = {"max_new_tokens": self.max_new_tokens, "do_sample": False, "num_beams": 1}
        prompt_ids: Any = None
        with self._generate_lock, torch.inference_mode():
            if family == "blip":
                inputs = self._processor(images=pil, text=question, return_tensors="pt") if question else \
                    self._processor(images=pil, return_tensors="pt")
                inputs = self._to_device(inputs)
                if question:  # BLIP drops the trailing [SEP] and puts its BOS first: compare what follows
                    prompt_ids = inputs["input_ids"][0, :-1].clone()
                out = self._model.generate(**inputs, **gen)
            elif family == "git":
                pixels = self._to_device(self._processor(images=pil, return_tensors="pt"))["pixel_values"]
                if question:
                    ids = [self._tokenizer.cls_token_id] + self._tokenizer(question, add_special_tokens=False).input_ids
                    prompt_ids = torch.tensor([ids], device=self._device)
                    out = self._model.generate(pixel_values=pixels, input_ids=prompt_ids, **gen)
                    prompt_ids = prompt_ids[0]
                else:
                    out = self._model.generate(pixel_values=pixels, **gen)
            elif family == "florence2":
                inputs = self._to_device(self._processor(text=FLORENCE_TASK, images=pil, return_tensors="pt"))
                out = self._model.generate(**inputs, **gen)
            else:
                pixels = self._to_device(self._processor(pil, return_tensors="pt"))["pixel_values"]
                out = self._model.generate(pixel_values=pixels, **gen)
        tokens = out[0]
        if prompt_ids is not None:
            tokens = strip_prompt(tokens, prompt_ids)
        text = self._tokenizer.decode(tokens.tolist(), skip_special_tokens=True)
        return " ".join(text.split())

    def _to_device(self, inputs: Any) -> dict[str, Any]:
        import torch

        moved = {}
        for key, value in dict(inputs).items():
            if isinstance(value, torch.Tensor):
                value = value.to(self._device)
                if value.is_floating_point():
                    value = value.to(self._model.dtype)
            moved[key] = value
        return moved

    # The tool ----------------------------------------------------------------
    def _target(self, args: CaptionInput, ctx: RunContext) -> tuple[str, StoredImage, str, str | None]:
        """Which image to caption: ``(image id, stored image actually captioned, region text, crop id)``."""
        try:
            if args.object is not None:
                det = ctx.get_object(args.object)
                crop = ctx.images.crop(det.image, det.box)
                return det.image, crop, f"{det.id} {det.label} {det.box.render()}", crop.id
            if args.box is not None:
                try:
                    box = box_from(args.box)
                except ValueError as exc:
                    raise ToolError(str(exc)) from None
                crop = ctx.images.crop(args.image, box)
                return args.image, crop, box.render(), crop.id
            return args.image, ctx.images.get(args.image), "whole image", None
        except ImageError as exc:
            raise ToolError(str(exc)) from None

    def run(self, args: CaptionInput, ctx: RunContext) -> CaptionOutput:
        image_id, stored, region, crop_id = self._target(args, ctx)
        family = self.resolved().family
        prompt = args.question if family in PROMPT_FAMILIES else None
        value, _ = ctx.memo(
            tool=self.name, image=stored, params={"question": prompt}, identity=self.identity(), model=CaptionValue,
            compute=lambda: CaptionValue(caption=self.generate(stored.pil, prompt)),
        )
        note = None
        if args.question and prompt is None:
            note = "this model cannot take a question; the caption ignores it"
        if not value.caption:
            note = "; ".join(filter(None, [note, "the model produced no text"]))
        return CaptionOutput(image=image_id, region=region, crop=crop_id, caption=value.caption,
                             model=self.resolved().display, conditioned=prompt is not None, question=args.question,
                             note=note)


def strip_prompt(tokens: Any, prompt_ids: Any) -> Any:
    """Drop the echoed prompt from generated ``tokens`` (the first token may differ: BLIP swaps in its BOS)."""
    n = int(prompt_ids.shape[0])
    if tokens.shape[0] >= n and bool((tokens[1:n] == prompt_ids[1:n].to(tokens.device)).all()):
        return tokens[n:]
    return tokens
