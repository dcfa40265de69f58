"""Pose (MoveNet MultiPose) and face attributes (emotion, faceres) on real photos, and their post-processing."""

from __future__ import annotations

import pytest
from perception_helpers import needs_models
from PIL import Image

from lavr.errors import WeightsMissing
from lavr.perception.face_attributes import (
    EXPRESSIONS,
    FaceAttributes,
    face_crop,
    human_age,
    human_age_bracket,
)
from lavr.perception.pose import KEYPOINTS, MoveNet
from lavr.samples import sample_path
from lavr.schema import Box
from lavr.settings import Settings

pytestmark = pytest.mark.models
OFFLINE = Settings(human_models_auto_install=False)


def photo(name: str) -> Image.Image:
    return Image.open(sample_path(name)).convert("RGB")


@needs_models
def test_movenet_finds_both_men_in_zidane_with_keypoints_on_their_bodies():
    poses = MoveNet(OFFLINE).poses(photo("zidane"), min_score=0.3)
    assert len(poses) == 2
    for pose in poses:
        assert [k.name for k in pose.keypoints] == list(KEYPOINTS)
        confident = [k for k in pose.keypoints if k.score > 0.3]
        assert len(confident) >= 7
        assert all(pose.box.x1 - 0.02 <= k.x <= pose.box.x2 + 0.02 and pose.box.y1 - 0.02 <= k.y <= pose.box.y2 + 0.02
                   for k in confident)
        # upright, facing the camera: the nose above the shoulders, the person's left shoulder on the image's right
        nose, left, right = pose.keypoint("nose"), pose.keypoint("left_shoulder"), pose.keypoint("right_shoulder")
        assert nose.y < min(left.y, right.y) and left.x > right.x
    # the man on the right (Zidane, standing) spans the photo's height
    right_man = max(poses, key=lambda p: p.box.x1)
    assert right_man.box.x1 > 0.5 and right_man.box.y1 < 0.1 and right_man.box.y2 > 0.95


@needs_models
@pytest.mark.parametrize("name", ["zidane", "bus"])
def test_movenet_keypoints_are_mapped_back_through_the_padding(name):
    """MoveNet sees a square: lavr pads the photo half before, half after its shorter side. The same photo put at
    the top-left of a black square (padded all after) gives the model the same content at the same scale, shifted:
    every confident keypoint must land on the same pixel of the photo."""
    image = photo(name)
    side = max(image.size)
    square = Image.new("RGB", (side, side))
    square.paste(image, (0, 0))
    model = MoveNet(OFFLINE)
    plain, moved = model.poses(image, min_score=0.3), model.poses(square, min_score=0.3)
    assert len(plain) == len(moved) >= 2
    compared = 0
    for a in plain:
        b = min(moved, key=lambda p: abs(p.box.x1 * side - a.box.x1 * image.width))
        for ka, kb in zip(a.keypoints, b.keypoints):
            if ka.score > 0.5 and kb.score > 0.5:
                assert abs(ka.x * image.width - kb.x * side) < 0.02 * side, ka.name
                assert abs(ka.y * image.height - kb.y * side) < 0.02 * side, ka.name
                compared += 1
    assert compared >= 10


@needs_models
def test_face_attributes_on_known_faces():
    from lavr.tools.faces import FacesTool

    faces = FacesTool(Settings()).detect
    crops = {}
    for name in ("astronaut", "grace_hopper"):
        image = photo(name)
        face = max(faces(image).faces, key=lambda f: f.confidence)
        crops[name] = face_crop(image, face.box)
    astronaut, hopper = FaceAttributes(OFFLINE).predict([crops["astronaut"], crops["grace_hopper"]])
    # Eileen Collins smiles broadly; Grace Hopper was 77 in this 1984 portrait.
    assert astronaut.expression == "happy" and astronaut.expression_score > 0.9
    assert astronaut.gender == "female" and 20 <= astronaut.age < 50
    assert hopper.age > 60 and hopper.age_bracket == "elderly"
    assert set(astronaut.expressions) == set(EXPRESSIONS)
    assert sum(astronaut.expressions.values()) == pytest.approx(1.0, abs=1e-3)


def test_face_attributes_without_weights_name_the_install_command(tmp_path):
    model = FaceAttributes(Settings(data_dir=tmp_path, human_models_dir=None, human_models_auto_install=False))
    with pytest.raises(WeightsMissing, match="lavr models install"):
        model.predict([Image.new("RGB", (32, 32))])
    assert model.predict([]) == []


def test_human_age_reading_of_the_bins():
    bins = [0.0] * 100
    bins[30], bins[31], bins[29] = 0.5, 0.2, 0.1
    assert human_age(bins) == pytest.approx(32.0)  # 30 + 10 * 0.2 towards the likelier neighbour
    bins[29] = 0.3
    assert human_age(bins) == pytest.approx(27.0)
    edge = [0.0] * 100
    edge[99] = 1.0
    assert human_age(edge) == pytest.approx(99.0)
    assert [human_age_bracket(a) for a in (5, 15, 25, 45, 70)] == ["child", "teenager", "young adult", "middle-aged",
                                                              "elderly"]


def test_face_crop_is_square_centred_and_black_outside():
    image = Image.new("RGB", (100, 50), (255, 255, 255))
    crop = face_crop(image, Box(x1=0.0, y1=0.0, x2=0.2, y2=0.4), scale=1.5)  # 20 x 20 px box at the corner
    assert crop.size == (30, 30)
    assert crop.getpixel((0, 0)) == (0, 0, 0) and crop.getpixel((29, 29)) == (255, 255, 255)
