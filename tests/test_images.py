import io

import numpy as np
import pytest
from PIL import Image

from lavr.errors import ImageError
from lavr.images import ImageStore, load_image
from lavr.schema import Box


def _png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_real_photo_loads_as_rgb(bus_jpg):
    img, name = load_image(bus_jpg)
    assert img.mode == "RGB" and img.size == (810, 1080) and name.endswith("bus.jpg")


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16", "LA"])
def test_modes_become_rgb(mode):
    img = Image.new("RGB", (20, 10), (200, 30, 30)).convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    out, _ = load_image(_png(img, fmt))
    assert out.mode == "RGB" and out.size == (20, 10)


def test_rgba_transparent_becomes_white():
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    out, _ = load_image(_png(img))
    assert out.getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    out, _ = load_image(_png(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (20, 40)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("P", (16, 16), i) for i in (1, 2)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out, _ = load_image(buf.getvalue())
    assert out.size == (16, 16) and out.mode == "RGB"


def test_bad_inputs_have_clear_errors(tmp_path, bus_jpg):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "notes.txt")
    data = bus_jpg.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="truncated"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(ImageError, match="too small"):
        load_image(_png(Image.new("RGB", (2, 2))))
    with pytest.raises(ImageError, match="more than"):
        load_image(_png(Image.new("RGB", (300, 300))), max_pixels=10_000)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)


def test_huge_images_are_downscaled_for_experts():
    out, _ = load_image(_png(Image.new("RGB", (3000, 1000))), work_side=1000)
    assert out.size == (1000, 333)


def test_allowed_roots(tmp_path, bus_jpg):
    store = ImageStore(allowed_roots=[tmp_path])
    with pytest.raises(ImageError, match="outside the allowed folders"):
        store.add(bus_jpg)
    (tmp_path / "b.jpg").write_bytes(bus_jpg.read_bytes())
    assert store.add(tmp_path / "b.jpg").id == "img_0"
    with pytest.raises(ImageError, match="outside"):
        store.add(tmp_path / ".." / "x.jpg")


def test_store_ids_crops_and_hash():
    store = ImageStore()
    arr = np.zeros((100, 200, 3), dtype=np.uint8)
    arr[:, 100:] = 255
    a = store.add(Image.fromarray(arr))
    b = store.add(Image.fromarray(arr.copy()))
    assert (a.id, b.id) == ("img_0", "img_1") and a.sha256 == b.sha256
    crop = store.crop("img_0", Box(x1=0.5, y1=0.0, x2=1.0, y2=1.0))
    assert crop.id == "crop_0" and crop.size == (100, 100) and crop.parent == "img_0"
    assert np.asarray(crop.pil).min() == 255
    with pytest.raises(ImageError, match="unknown image id 'img_9'; known images: crop_0, img_0, img_1"):
        store.get("img_9")
    with pytest.raises(ImageError, match="empty"):
        store.crop("img_0", Box(x1=0.5, y1=0.5, x2=0.5, y2=0.5))


def test_non_images_stay_clear_errors_after_ultralytics_patches_pillow(tmp_path):
    import ultralytics.utils.patches  # noqa: F401 - replaces PIL.Image.open

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "notes.txt")


def test_max_image_pixels_lifts_pillows_bomb_guard(monkeypatch):
    # Pillow refuses images above its own MAX_IMAGE_PIXELS (~89 Mpx; a warning, then an error above twice that)
    # whatever LAVR_MAX_IMAGE_PIXELS says. Scaled down here: a guard of 10,000 pixels, images of 12,000 (the
    # warning zone) and 40,000 pixels (the error zone), allowed by lavr's own bound.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    for size in ((120, 100), (200, 200)):
        data = _png(Image.new("RGB", size, (9, 9, 9)))
        img, _ = load_image(data, max_pixels=50_000)
        assert img.size == size
        with pytest.raises(ImageError, match=r"is more than 1,000 pixels \(set LAVR_MAX_IMAGE_PIXELS"):
            load_image(data, max_pixels=1_000)
    assert Image.MAX_IMAGE_PIXELS == 10_000  # restored for the rest of the process


def test_original_hash_does_not_depend_on_the_working_size():
    data = _png(Image.new("RGB", (1200, 800), (30, 60, 90)))
    small, large = ImageStore(work_side=512).add(data), ImageStore(work_side=2048).add(data)
    assert small.sha256 != large.sha256  # the experts see other pixels: other cache entries
    assert small.original_sha256 == large.original_sha256 == large.sha256  # but it is the same image
