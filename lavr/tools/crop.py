"""``crop``: cut a region (an object or a box) out of an image as a new image id for other tools."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..errors import ImageError, ToolError
from ..schema import Box
from .base import ImageArg, RunContext, Tool, ToolOutput


class CropInput(ImageArg):
    object: str | None = Field(None, description="Object id to crop, e.g. obj_2.", pattern=r"^obj_\d+$")
    box: list[float] | None = Field(None, description="Or a box [x1, y1, x2, y2], normalised 0..1.")
    margin: float = Field(0.05, ge=0.0, le=0.5, description="Extra border around the region, as a fraction.")

    @field_validator("box")
    @classmethod
    def _box(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            Box.from_list(value)  # raises with the reason
        return value


class CropOutput(ToolOutput):
    crop: str
    parent: str
    box: Box
    size: tuple[int, int]

    def to_text(self) -> str:
        w, h = self.size
        return f"{self.crop}: {w}x{h} crop of {self.parent} at {self.box.render()}; use it as an image id"


class CropTool(Tool[CropInput, CropOutput]):
    """Cut out an object (by id) or a box as a new image (crop_N) that other tools can look at more closely."""

    name = "crop"
    input_model = CropInput
    output_model = CropOutput

    def run(self, args: CropInput, ctx: RunContext) -> CropOutput:
        if (args.object is None) == (args.box is None):
            raise ToolError("give exactly one of `object` or `box`")
        if args.object is not None:
            obj = ctx.get_object(args.object)
            if obj.image != args.image:
                raise ToolError(f"{obj.id} belongs to {obj.image}, not {args.image}")
            box = obj.box
        else:
            box = Box.from_list(args.box or [])
        m = args.margin
        padded = Box(x1=max(0.0, box.x1 - m * box.width), y1=max(0.0, box.y1 - m * box.height),
                     x2=min(1.0, box.x2 + m * box.width), y2=min(1.0, box.y2 + m * box.height))
        try:
            stored = ctx.images.crop(args.image, padded)
        except ImageError as exc:
            raise ToolError(str(exc)) from None
        return CropOutput(crop=stored.id, parent=args.image, box=padded, size=stored.size)
