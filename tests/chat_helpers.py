"""Shared pieces of the chat tests: fast tools that register objects, a scripted agent, a chat service."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field

from lavr.agents import Agent
from lavr.backends import ScriptedBackend
from lavr.schema import Box
from lavr.tools.base import ImageArg, RunContext, Tool, ToolInput, ToolOutput

# Two people per image, left and right, as a detector would report them.
PEOPLE = [Box(x1=0.05, y1=0.2, x2=0.35, y2=0.9), Box(x1=0.6, y1=0.1, x2=0.95, y2=0.95)]


class Boxes(BaseModel):
    boxes: list[Box]


class FoundOutput(ToolOutput):
    objects: list[dict[str, Any]]

    def to_text(self) -> str:
        return "found: " + "; ".join(f"{o['id']} {o['label']} {Box(**o['box']).render()}" for o in self.objects)


class FindPeople(Tool[ImageArg, FoundOutput]):
    """Find the people in an image (test double: always two, left and right)."""

    name = "find"
    input_model = ImageArg
    output_model = FoundOutput
    calls = 0
    delay_s = 0.0  # how long the "expert" works on an image it has not seen (status lines, streaming tests)

    def run(self, args: ImageArg, ctx: RunContext) -> FoundOutput:
        def compute() -> Boxes:
            FindPeople.calls += 1
            time.sleep(FindPeople.delay_s)
            return Boxes(boxes=PEOPLE)

        # like the real detector: the expert output is cached by image content, ids are given per thread
        found, _ = ctx.memo(tool=self.name, image=ctx.images.get(args.image), params={}, identity="find-v1",
                            model=Boxes, compute=compute)
        dets = [ctx.register_object(image=args.image, label="person", confidence=0.9, box=b) for b in found.boxes]
        return FoundOutput(objects=[{"id": d.id, "label": d.label, "box": d.box.model_dump()} for d in dets])


class ObjectArg(ToolInput):
    object: str = Field(description="Object id, e.g. obj_1.", pattern=r"^obj_\d+$")


class WhereOutput(ToolOutput):
    object: str
    image: str
    side: str
    box: dict[str, float]

    def to_text(self) -> str:
        return f"{self.object} is on the {self.side} of {self.image}"


class Where(Tool[ObjectArg, WhereOutput]):
    """Say where an object (by id) is: left or right of its image."""

    name = "where"
    input_model = ObjectArg
    output_model = WhereOutput

    def run(self, args: ObjectArg, ctx: RunContext) -> WhereOutput:
        obj = ctx.get_object(args.object)
        side = "left" if obj.box.center[0] < 0.5 else "right"
        return WhereOutput(object=obj.id, image=obj.image, side=side, box=obj.box.model_dump())


class SceneText(ToolOutput):
    text: str

    def to_text(self) -> str:
        return self.text


class Describe(Tool[ImageArg, SceneText]):
    """Describe the whole scene at length (test double: ~2,500 characters that end with END-OF-SCENE)."""

    name = "describe"
    input_model = ImageArg
    output_model = SceneText

    def run(self, args: ImageArg, ctx: RunContext) -> SceneText:
        things = "; ".join(f"thing_{n} is a grey cube at [0.{n:03d}, 0.100, 0.{n + 100:03d}, 0.900]" for n in range(40))
        return SceneText(text=f"{args.image}: {things}; END-OF-SCENE")


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"thought": f"use {tool}", "tool_calls": [{"tool": tool, "args": args}]}


def answer(text: str, rationale: str = "from the tools") -> dict[str, Any]:
    return {"thought": "done", "answer": text, "rationale": rationale}


def photo(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (96, 64)) -> Image.Image:
    img = Image.new("RGB", size, colour)
    img.putpixel((1, 1), (0, 0, 0))
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(img: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def make_agent(settings, replies, *, tools: list[Tool] | None = None, **kw) -> tuple[Agent, ScriptedBackend]:
    backend = replies if isinstance(replies, ScriptedBackend) else ScriptedBackend(replies, **kw)
    agent = Agent(backend, settings=settings.model_copy(update={"num_examples": 0}),
                  tools=[FindPeople(settings), Where(settings), *(tools or [])], cache=False)
    return agent, backend


def make_chat(settings, replies, *, router=None, **kw):
    """A chat service on a scripted agent; ``router=False`` sends every message to the agent (tests of the graph's
    own mechanics with made-up messages), default: the package's router."""
    from lavr.chat.service import ChatThreads

    agent, backend = make_agent(settings, replies, **kw)
    return ChatThreads(agent, settings=settings, router=router), backend


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A uvicorn server for an app, in a background thread of the test process, on a free loopback port."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = None

    def __enter__(self) -> LiveServer:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
