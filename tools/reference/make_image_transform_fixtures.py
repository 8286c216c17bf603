"""Fixtures for ops/image_transform.ts: torchvision 0.14 GeneralizedRCNNTransform (eval) on random uint8
images (batches of odd sizes, up- and down-scaling, one image capped by max_size), output stored NHWC;
plus torchvision's resized sizes for many image sizes at min_size 800 / max_size 1333.

Run: /usr/bin/python3 tools/reference/make_image_transform_fixtures.py
"""
import os
import sys

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform, _resize_image_and_masks

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# name: (min_size, max_size, [(H, W), ...])
CASES = {
    "upscale_batch2": (48, 80, [(37, 53), (50, 41)]),  # both set by min_size; padded to 64×96
    "downscale_capped": (50, 60, [(97, 120), (61, 33)]),  # first capped by max_size (60/120 < 50/97)
}


def main():
    torch.manual_seed(3)
    t = {}
    meta = {}
    for name, (min_size, max_size, sizes) in CASES.items():
        raw = [torch.randint(0, 256, (h, w, 3), dtype=torch.uint8) for h, w in sizes]
        transform = GeneralizedRCNNTransform(min_size, max_size, MEAN, STD).eval()
        images = [r.permute(2, 0, 1).float() / 255 for r in raw]
        with torch.no_grad():
            image_list, _ = transform(images)
        for i, r in enumerate(raw):
            t[f"{name}_image{i}"] = r
        t[f"{name}_batch"] = image_list.tensors.permute(0, 2, 3, 1)
        t[f"{name}_sizes"] = torch.tensor(image_list.image_sizes, dtype=torch.int32)
        meta[name] = {"min_size": min_size, "max_size": max_size, "count": len(sizes)}
    # resized sizes at the default 800 / 1333 (1-channel images keep this cheap)
    gen = torch.Generator().manual_seed(4)
    pairs = [(480, 640), (427, 640), (640, 427), (500, 375), (333, 500), (612, 612), (1, 1), (3, 2000), (799, 1201)]
    pairs += [tuple(int(v) for v in torch.randint(20, 2000, (2,), generator=gen)) for _ in range(40)]
    out = []
    for h, w in pairs:
        img, _ = _resize_image_and_masks(torch.zeros(1, h, w), 800.0, 1333.0)
        out.append([h, w, img.shape[-2], img.shape[-1]])
    t["size_rule"] = torch.tensor(out, dtype=torch.int32)
    write_fixture(os.path.join(OUT, "image_transform.json"), t, meta)


if __name__ == "__main__":
    main()
