"""CUDA smoke check for region_features: random mobilenet weights, cpu vs cuda vectors."""
import sys, tempfile, time
from pathlib import Path
import torch
from PIL import Image
from torchvision.models import detection
import types
sys.path.insert(0, ".")
sys.path.append(".venv/lib/python3.11/site-packages")
for name, path in (("lavr", "lavr"), ("lavr.tools", "lavr/tools")):  # skip package __init__s (agents, networkx)
    mod = types.ModuleType(name); mod.__path__ = [path]; sys.modules[name] = mod
from lavr.settings import Settings
from lavr.tools.base import RunContext
from lavr.tools.region_features import RegionFeaturesTool, RegionFeaturesInput, region_vectors, cosine
from lavr.schema import Box
print("torch", torch.__version__, "cuda", torch.cuda.is_available())
d = Path(tempfile.mkdtemp())
for key, arch in (("mobilenet_v3", "fasterrcnn_mobilenet_v3_large_fpn"), ("resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2")):
    torch.manual_seed(0)
    p = d / f"{key}.pth"
    torch.save(getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=91).state_dict(), p)
    img = Image.new("RGB", (640, 480), (40, 90, 160))
    for x0 in (40, 300, 480):
        img.paste(Image.new("RGB", (120, 200), (220, 30, 30)), (x0, 150))
    res = {}
    for dev in ("cpu", "cuda"):
        s = Settings(region_model=key, region_weights=p, device=dev, data_dir=d)
        tool = RegionFeaturesTool(s); tool.ensure_ready()
        ctx = RunContext(s); ctx.images.add_pil(img, source="x")
        o = ctx.register_object(image="img_0", label="a", confidence=0.9, box=Box(x1=0.06, y1=0.3, x2=0.25, y2=0.73))
        ctx.register_object(image="img_0", label="b", confidence=0.9, box=Box(x1=0.47, y1=0.3, x2=0.66, y2=0.73))
        tool.run(RegionFeaturesInput(min_score=0.0), RunContext(s, images=ctx.images))  # warm-up
        t = time.perf_counter()
        out = tool.run(RegionFeaturesInput(min_score=0.0, similar_to=o.id), ctx)
        if dev == "cuda":
            torch.cuda.synchronize()
        res[dev] = region_vectors(ctx)
        print(key, dev, "%.3f s" % (time.perf_counter() - t), len(out.regions), "regions")
        print(out.to_text()[:600])
    print(key, "cpu-vs-cuda cosine obj_0:", round(cosine(res["cpu"]["obj_0"], res["cuda"]["obj_0"]), 5),
          "obj_1:", round(cosine(res["cpu"]["obj_1"], res["cuda"]["obj_1"]), 5))
