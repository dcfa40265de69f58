"""Real photos that ship inside installed packages, named for the CLI: ``lavr ask sample:bus "..."``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import ImageError

SAMPLES: dict[str, tuple[str, str, str]] = {
    "bus": ("ultralytics", "assets/bus.jpg", "a city bus in Madrid with people in front of it"),
    "zidane": ("ultralytics", "assets/zidane.jpg", "two men in suits"),
    "china": ("sklearn", "datasets/images/china.jpg", "a Chinese temple"),
    "flower": ("sklearn", "datasets/images/flower.jpg", "a flower close-up"),
    "astronaut": ("skimage", "data/astronaut.png", "astronaut Eileen Collins"),
    "coffee": ("skimage", "data/coffee.png", "a cup of coffee"),
    "chelsea": ("skimage", "data/chelsea.png", "a cat"),
    "camera": ("skimage", "data/camera.png", "a cameraman with a tripod, grayscale"),
    "rocket": ("skimage", "data/rocket.jpg", "a rocket on its launch pad"),
    "motorcycle": ("skimage", "data/motorcycle_left.png", "a motorcycle in a room"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "Grace Hopper in uniform"),
    "motorcycle_right": ("skimage", "data/motorcycle_right.png", "the same motorcycle from a little to the right"),
    "clock": ("skimage", "data/clock_motion.png", "a clock blurred by motion beyond recognition, grayscale"),
    "coins": ("skimage", "data/coins.png", "ancient coins on a dark cloth, grayscale"),
    "page": ("skimage", "data/page.png", "a scanned page of text, grayscale"),
    "text": ("skimage", "data/text.png", "handwritten formulas on paper, grayscale"),
    "brick": ("skimage", "data/brick.png", "a brick wall, close up, grayscale"),
    "grass": ("skimage", "data/grass.png", "grass, close up, grayscale"),
    "gravel": ("skimage", "data/gravel.png", "gravel, close up, grayscale"),
    "moon": ("skimage", "data/moon.png", "the surface of the moon, grayscale"),
    "hubble": ("skimage", "data/hubble_deep_field.jpg", "the Hubble deep field: galaxies"),
    "cell": ("skimage", "data/cell.png", "a cell under a microscope, grayscale"),
    "ihc": ("skimage", "data/ihc.png", "stained tissue under a microscope"),
    "retina": ("skimage", "data/retina.jpg", "a photograph of a human retina"),
    "microaneurysms": ("skimage", "data/microaneurysms.png", "a small crop of a retina photograph, grayscale"),
    # gradio's own examples (installed with the chat and dev extras)
    "cheetah": ("gradio", "media_assets/images/cheetah.jpg", "a cheetah running"),
    "cheetah_face": ("gradio", "media_assets/images/cheetah1.jpg", "a cheetah's head"),
    "cheetah_cub": ("gradio", "test_data/cheetah2.jpg", "a cheetah cub's head, cut out"),
    "lion": ("gradio", "media_assets/images/lion.jpg", "a lion and a lioness lying on rocks"),
    "groot": ("gradio", "media_assets/images/groot.jpeg", "Groot, a film's tree creature"),
    "eiffel_tower": ("gradio", "media_assets/images/tower.jpg", "the Eiffel Tower lit at dusk"),
}


def sample_path(name: str) -> Path:
    """The file of a named sample photo; ``ImageError`` when unknown or its package is missing."""
    if name not in SAMPLES:
        raise ImageError(f"unknown sample {name!r}; samples: {', '.join(sorted(SAMPLES))}")
    package, relative, _ = SAMPLES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImageError(f"sample {name!r} ships with the {package} package, which is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ImageError(f"sample {name!r}: {path} is missing")
    return path


def resolve_image_arg(value: str) -> str | Path:
    """CLI image argument: ``sample:NAME`` or a file path."""
    return sample_path(value.split(":", 1)[1]) if value.startswith("sample:") else value
