"""The picture tool: whole-image facts from pixels (style, background, colours) and the detections' kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import package_file
from PIL import Image, ImageDraw
from tools_for_tests import FixedDetector

from lavr.cache import ExpertCache
from lavr.errors import ToolError
from lavr.settings import Settings
from lavr.tools.base import RunContext
from lavr.tools.detect import RawDetection
from lavr.tools.picture import PictureInput, PictureTool, pixel_facts, things_by_kind


def drawing(background: str = "white", size: tuple[int, int] = (320, 240)) -> Image.Image:
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    draw.ellipse((20, 20, 90, 90), fill="red")
    draw.rectangle((150, 60, 230, 140), fill="blue")
    draw.polygon([(250, 200), (300, 200), (275, 150)], fill="green")
    return img


@pytest.mark.parametrize("background,name", [("white", "white"), ("black", "black"), ("#808080", "gray"),
                                             ("#2030c0", "blue")])
def test_a_flat_drawing_is_a_drawing_with_its_background_colour(background, name):
    facts = pixel_facts(drawing(background))
    assert facts["style"] == "drawing" and facts["flat_share"] > 0.9
    assert facts["background"] == name and facts["background_share"] > 0.95
    assert next(iter(facts["colours"])) == name  # the background is also the main colour


@pytest.mark.parametrize("package,path", [("ultralytics", "assets/bus.jpg"), ("ultralytics", "assets/zidane.jpg"),
                                          ("skimage", "data/astronaut.png"), ("skimage", "data/camera.png"),
                                          ("skimage", "data/chelsea.png"), ("sklearn", "datasets/images/china.jpg")])
def test_real_photographs_are_photographs(package, path):
    facts = pixel_facts(Image.open(package_file(package, path)))
    assert facts["style"] == "photograph" and facts["flat_share"] < 0.7
    # camera.png is a black and white photograph (stored grey); the others are in colour
    assert facts["tone"] == ("black and white" if path.endswith("camera.png") else "colour")


def test_a_grey_picture_saved_as_colour_is_black_and_white_and_a_little_colour_is_not():
    grey = Image.open(package_file("skimage", "data/camera.png")).convert("RGB")
    assert pixel_facts(grey)["tone"] == "black and white"
    tinted = grey.copy()
    ImageDraw.Draw(tinted).rectangle((0, 0, 200, 200), fill=(200, 40, 40))  # a red corner: about 15 % of it
    assert pixel_facts(tinted)["tone"] == "colour"


def test_noise_makes_a_drawing_a_photograph_and_a_busy_border_has_no_background():
    import numpy as np

    rng = np.random.default_rng(0)
    noisy = np.asarray(drawing(), dtype=np.int16) + rng.integers(-12, 13, size=(240, 320, 3))
    facts = pixel_facts(Image.fromarray(noisy.clip(0, 255).astype("uint8")))
    assert facts["style"] == "photograph"
    stripes = Image.new("RGB", (200, 200))
    draw = ImageDraw.Draw(stripes)
    for i, colour in enumerate(["red", "green", "blue", "yellow"] * 5):
        draw.rectangle((i * 10, 0, i * 10 + 9, 199), fill=colour)
    assert pixel_facts(stripes)["background"] == "mixed"


def test_detected_labels_are_grouped_by_kind_in_both_numbers():
    things = things_by_kind(["circle", "square", "Squares", "triangle", "person", "bus", "mystery"])
    text = [t.to_text() for t in things]
    assert text[0] == "shapes (2 squares, 1 circle, 1 triangle)"
    assert "people (1 person)" in text and "vehicles (1 bus)" in text and "other objects (1 mystery)" in text


def test_the_tool_reports_pixels_and_kinds_and_refuses_unknown_images(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    path = tmp_path / "scene.png"
    drawing("black").save(path)
    detector = FixedDetector(settings, [
        RawDetection(label="circle", confidence=1.0, box=[0.06, 0.08, 0.28, 0.38]),
        RawDetection(label="square", confidence=1.0, box=[0.47, 0.25, 0.72, 0.58]),
    ])
    tool = PictureTool(settings, detector=detector)
    ctx = RunContext(settings, cache=ExpertCache(tmp_path / "c.sqlite"))
    image_id = ctx.images.add(path).id
    out = tool.run(PictureInput(image=image_id), ctx)
    assert out.size == (320, 240) and out.style == "drawing" and out.background == "black"
    text = out.to_text()
    assert text.startswith(f"{image_id}: 320x240 pixels; style: drawing")
    assert "background: black" in text and "shows: shapes (1 circle, 1 square)" in text
    assert PictureTool(settings).run(PictureInput(image=image_id), ctx).things == []  # no detector wired
    with pytest.raises(ToolError):
        tool.run(PictureInput(image="img_7"), ctx)
