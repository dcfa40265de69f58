"""The tool seam: one small base class with typed input and output models, and the per-question context."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..images import ImageStore, StoredImage
from ..schema import Box, Detection
from ..settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from ..cache import ExpertCache

logger = logging.getLogger(__name__)


class ToolInput(BaseModel):
    """Base for tool inputs: unknown keys are refused so typos reach the LLM as errors."""

    model_config = ConfigDict(extra="forbid")


class ToolOutput(BaseModel):
    """Base for tool outputs: structured data plus a compact text rendering for the LLM."""

    def to_text(self) -> str:  # pragma: no cover - every tool overrides it
        raise NotImplementedError


class Availability(BaseModel):
    """Whether a tool can run here, on what weights, and if not, why and how to fix it."""

    available: bool
    weights: str | None = None
    reason: str | None = None
    fix: str | None = None


In = TypeVar("In", bound=ToolInput)
Out = TypeVar("Out", bound=ToolOutput)
M = TypeVar("M", bound=BaseModel)
S = TypeVar("S")


@dataclass
class CallRecord:
    """What one tool call's memo lookups found: the executor marks the call's step ``cached`` from it."""

    prefetch: bool = False
    hits: int = 0
    computed: int = 0

    @property
    def cached(self) -> bool:
        """Whether the call's results all came from a cache: at least one lookup was answered and none had to
        compute (a tool that builds on two experts computed now is not cached because the second one reuses the
        first's output)."""
        return self.hits > 0 and self.computed == 0


class RunContext:
    """What tools share during one question or chat thread: images, object ids, settings, cache.

    Tools are pure functions of their inputs: they never read what an earlier call left behind, except object
    ids (handles the LLM names) and memoised results. Per-tool state is typed: ``ctx.state(RegionState)``
    gives the run's one instance of that class. A tool call gets its own view (``for_call``): the same run,
    with a ``CallRecord`` of what its memo lookups found.
    """

    def __init__(self, settings: Settings, *, images: ImageStore | None = None, cache: ExpertCache | None = None):
        self.settings = settings
        self.images = images or ImageStore(
            max_pixels=settings.max_image_pixels,
            work_side=settings.work_image_side,
            allowed_roots=settings.allowed_roots,
        )
        self.cache = cache
        self.objects: dict[str, Detection] = {}
        self._states: dict[type, Any] = {}
        self._memo: dict[Any, Any] = {}  # this run's results, also when the on-disk cache is off
        self._lock = threading.RLock()
        self.call = CallRecord()  # the call this view serves (the run's own view records nothing anyone reads)

    def for_call(self, *, prefetch: bool = False) -> RunContext:
        """A view of this run for one tool call (or its prefetch): images, objects, state and memo are shared;
        the view's ``call`` records what this call's lookups found."""
        view = copy.copy(self)
        view.call = CallRecord(prefetch=prefetch)
        return view

    def restore_objects(self, objects: list[dict[str, Any]]) -> None:
        """Give back the object ids a thread has handed out (the graph's state holds them): ids already known
        here are kept as they are."""
        with self._lock:
            for data in objects:
                if data.get("id") not in self.objects:
                    det = Detection.model_validate(data)
                    self.objects[det.id] = det

    def _note(self, cached: bool) -> None:
        if cached:
            self.call.hits += 1
        else:
            self.call.computed += 1

    def state(self, kind: type[S]) -> S:
        """This run's instance of a tool's state class (created on first use)."""
        with self._lock:
            if kind not in self._states:
                self._states[kind] = kind()
            return self._states[kind]

    # Objects -----------------------------------------------------------------
    def register_object(self, *, image: str, label: str, confidence: float, box: Box,
                        attributes: dict[str, str] | None = None) -> Detection:
        """Give a detection a stable id; the same object found again keeps its id."""
        with self._lock:
            for obj in self.objects.values():
                if obj.image == image and obj.label == label and obj.box.iou(box) > 0.9:
                    return obj
            det = Detection(
                id=f"obj_{len(self.objects)}", image=image, label=label, confidence=confidence, box=box,
                attributes=attributes or {},
            )
            self.objects[det.id] = det
            return det

    def get_object(self, object_id: str) -> Detection:
        try:
            return self.objects[object_id]
        except KeyError:
            known = ", ".join(sorted(self.objects)) or "none yet (run detect first)"
            from ..errors import ToolError

            raise ToolError(f"unknown object id {object_id!r}; known objects: {known}") from None

    def objects_in(self, image: str) -> list[Detection]:
        with self._lock:
            return [o for o in self.objects.values() if o.image == image]

    # Cache -------------------------------------------------------------------
    def memo(self, *, tool: str, image: StoredImage, params: dict[str, Any], identity: str,
             model: type[M], compute: Callable[[], M]) -> tuple[M, bool]:
        """Return ``compute()``'s result, cached by image content, tool, params and model identity: in memory for
        this run (so a prefetch and the call it prepares share one computation), and on disk when there is a
        cache."""
        key = json.dumps([image.sha256, tool, params, identity], sort_keys=True, default=str)
        with self._lock:
            lock = self._memo.setdefault(("lock", key), threading.Lock())
        prefetching = self.call.prefetch
        with lock:  # a call waits for its own prefetch instead of computing twice
            if key in self._memo:
                value, cached, prefetched = self._memo[key]
                if prefetched and not prefetching:  # the call a prefetch prepared reports what the prefetch found
                    self._memo[key] = (value, True, False)
                else:
                    cached = True
                self._note(cached)
                return value, cached
            value, cached = self._memo_disk(tool=tool, image=image, params=params, model=model, compute=compute,
                                            identity=identity)
            self._memo[key] = (value, cached, prefetching)
            self._note(cached)
            return value, cached

    def _memo_disk(self, *, tool: str, image: StoredImage, params: dict[str, Any], model: type[M],
                   compute: Callable[[], M], identity: str) -> tuple[M, bool]:
        if self.cache is None:
            return compute(), False
        key = self.cache.key(image_sha256=image.sha256, tool=tool, params=params, identity=identity)
        hit = self.cache.get(key)
        if hit is not None:
            try:
                return model.model_validate(hit), True
            except ValueError:
                pass  # an entry from an older format: recompute and overwrite
        value = compute()
        from ..cache import EntryTooLarge

        try:
            self.cache.put(key, value.model_dump(mode="json"), tool=tool, image_sha256=image.sha256,
                           identity=identity)
        except EntryTooLarge as exc:  # the result is good, only too large to keep: use it, do not cache it
            logger.info("not cached: %s", exc)
        return value, False


class Tool(ABC, Generic[In, Out]):
    """A typed expert. Subclasses set ``name``, ``input_model``, ``output_model`` and implement ``run``.

    The description the LLM sees is the class docstring; argument help comes from the input model's field
    descriptions. Weights load on first use (``setup``), never in ``__init__``.
    """

    name: ClassVar[str]
    input_model: ClassVar[type[ToolInput]]
    output_model: ClassVar[type[ToolOutput]]

    def __init__(self, settings: Settings):
        self.settings = settings  # given by whoever builds the tool: a tool never reads the environment
        self._setup_lock = threading.Lock()
        self._ready = False

    @property
    def description(self) -> str:
        return " ".join(inspect.cleandoc(self.__class__.__doc__ or self.name).split())

    def availability(self) -> Availability:
        return Availability(available=True)

    def identity(self) -> str:
        """Model name and version, part of every cache key."""
        return self.name

    def setup(self) -> None:
        """Load weights. Called once, on first use, under a lock."""

    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self._setup_lock:
            if not self._ready:
                self.setup()
                self._ready = True

    def prefetch(self, args: In, ctx: RunContext) -> None:
        """The expensive, order-independent part of a call (model inference, memoised through ``ctx.memo``).

        The executor runs the prefetches of one move in parallel, then the calls themselves in order. Tools
        without heavy work leave this alone."""

    @abstractmethod
    def run(self, args: In, ctx: RunContext) -> Out:
        """Do the work. Raise ``ToolError`` with a message the LLM can act on."""

    def parameters_schema(self) -> dict[str, Any]:
        return copy.deepcopy(_input_schema(self.input_model))

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters_schema()}


@functools.cache
def _input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An input model's inlined JSON schema, built once per model (planners ask for it every turn)."""
    return inline_schema(model.model_json_schema())


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``$ref``s and drop titles so the schema is small and grammar converters accept it."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                ref = node["$ref"].split("/")[-1]
                merged = {**walk(defs[ref]), **{k: walk(v) for k, v in node.items() if k != "$ref"}}
                return merged
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


class ImageArg(ToolInput):
    """Mixin-like base for tools that work on one image id."""

    image: str = Field("img_0", description="Image id, e.g. img_0 or crop_1.", pattern=r"^(img|crop)_\d+$")
