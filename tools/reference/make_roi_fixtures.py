"""Fixtures of the RoI ops, computed with torchvision 0.14's CPU kernels.

Run: /usr/bin/python3 tools/reference/make_roi_fixtures.py   (from the repository root)

Writes
  tests/fixtures/ops/roi_align.json            torchvision.ops.roi_align on NHWC features [2, 37, 53, 16]
  tests/fixtures/ops/multiscale_roi_align.json  torchvision.ops.MultiScaleRoIAlign over 4 levels + LevelMapper
  tests/fixtures/ops/paste_masks.json           torchvision's roi_heads.paste_masks_in_image (M = 28)

roi_align is independent per channel, so the C = 4 and C = 7 cases of the tests are channel slices of the
C = 16 features and outputs stored here (keeps the fixtures small). Feature maps are stored NHWC; torch runs
on the NCHW permutation.
"""
import math
import os
import sys

import torch
import torchvision
from torchvision.ops import MultiScaleRoIAlign, roi_align
from torchvision.models.detection.roi_heads import paste_masks_in_image

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def nonzero_uniform(shape, lo=-1.0, hi=1.0):
    x = torch.rand(shape, dtype=torch.float32) * (hi - lo) + lo
    x[x == 0] = 1e-3
    return x


def roi_align_fixture():
    torch.manual_seed(1)
    n, c, h, w = 2, 16, 37, 53
    scale = 0.25  # rois in image pixels of a 148 x 212 image
    feats = nonzero_uniform((n, c, h, w))
    ih, iw = h / scale, w / scale
    rois = []
    # random boxes, some crossing the image borders
    for _ in range(8):
        x1 = float(torch.empty(1).uniform_(-30, iw))
        y1 = float(torch.empty(1).uniform_(-30, ih))
        bw = float(torch.empty(1).uniform_(4, 120))
        bh = float(torch.empty(1).uniform_(4, 120))
        rois.append([len(rois) % 2, x1, y1, x1 + bw, y1 + bh])
    rois += [
        [0, 10.3, 20.7, 11.1, 21.2],  # tiny: < 1 feature pixel (max(.,1) rule when not aligned)
        [1, 50.0, 60.0, 50.0, 60.0],  # zero size
        [1, 40.0, 30.0, 30.0, 20.0],  # inverted (x2 < x1): adaptive grid 0 when aligned
        [0, -80.0, -60.0, 260.0, 190.0],  # huge: beyond every border
        [1, -3.5, -2.0, 6.0, 5.0],  # samples in (-1, 0): the y <= 0 clamp
        [0, iw - 6.0, ih - 5.0, iw + 3.0, ih + 2.5],  # samples in (W-1, W] and beyond W
        [1, 0.0, 0.0, iw, ih],  # whole image
        [0, 100.2, 3.3, 101.9, 140.6],  # thin and tall
    ]
    rois = torch.tensor(rois, dtype=torch.float32)
    tensors = {"features": feats.permute(0, 2, 3, 1), "rois": rois}
    cases = []
    for out in (7, 14):
        for aligned in (False, True):
            for sampling in (2, -1):
                if out == 14 and (aligned, sampling) not in ((False, 2), (True, -1)):
                    continue
                name = f"out{out}_{'aligned' if aligned else 'legacy'}_s{'adaptive' if sampling < 0 else sampling}"
                y = roi_align(feats, rois, (out, out), spatial_scale=scale, sampling_ratio=sampling, aligned=aligned)
                y = y.permute(0, 2, 3, 1)
                if out == 14:
                    y = y[..., :7]  # the 14x14 cases are checked on the first 7 channels
                tensors[name] = y
                cases.append({"name": name, "output": out, "aligned": aligned, "sampling": sampling,
                              "channels": int(y.shape[-1])})
    write_fixture(os.path.join(OUT, "roi_align.json"), tensors,
                  {"spatial_scale": scale, "cases": cases, "torchvision": torchvision.__version__})


def multiscale_fixture():
    torch.manual_seed(2)
    n, c = 2, 4
    image = (200, 304)
    sizes = [(50, 76), (25, 38), (13, 19), (7, 10)]
    names = ["p2", "p3", "p4", "p5"]
    feats = {k: nonzero_uniform((n, c, h, w)) for k, (h, w) in zip(names, sizes)}
    boxes = []
    for i in range(2):
        b = []
        for _ in range(9):
            x1 = float(torch.empty(1).uniform_(-20, image[1]))
            y1 = float(torch.empty(1).uniform_(-20, image[0]))
            s = math.exp(float(torch.empty(1).uniform_(math.log(4), math.log(400))))
            ar = math.exp(float(torch.empty(1).uniform_(-1, 1)))
            b.append([x1, y1, x1 + s * ar, y1 + s / ar])
        boxes.append(b)
    # exact level boundaries: sqrt(area) = 224 * 2^k (the eps keeps them on the upper level)
    boxes[0] += [[10, 10, 122, 122], [0, 0, 224, 224], [3.5, 7.25, 59.5, 63.25], [-100, -50, 348, 398]]
    boxes[1] += [[20, 30, 20, 50], [5, 5, 33, 61], [1, 2, 1.5, 2.25], [150, 90, 151, 91]]
    boxes = [torch.tensor(b, dtype=torch.float32) for b in boxes]
    pooler = MultiScaleRoIAlign(names, 7, 2)
    out = pooler(feats, boxes, [image, (190, 300)])
    levels = pooler.map_levels(boxes)
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)])
    tensors = {k: v.permute(0, 2, 3, 1) for k, v in feats.items()}
    tensors.update({"rois": rois, "levels": levels, "output": out.permute(0, 2, 3, 1)})
    write_fixture(os.path.join(OUT, "multiscale_roi_align.json"), tensors,
                  {"image_size": list(image), "scales": pooler.scales, "output": 7, "sampling": 2,
                   "image_shapes": [list(image), [190, 300]]})


def paste_fixture():
    torch.manual_seed(3)
    r, m = 7, 28
    h, w = 61, 83
    masks = torch.rand((r, m, m), dtype=torch.float32)
    boxes = torch.tensor([
        [10.3, 5.8, 40.6, 30.1],
        [-12.4, -7.9, 20.2, 15.5],  # crosses the top-left corner
        [60.7, 40.2, 95.3, 70.8],  # crosses the bottom-right corner
        [30.2, 30.9, 30.6, 31.1],  # tiny: int width 1 after expansion
        [-5.0, 20.0, 90.0, 45.0],  # wider than the image
        [78.6, 55.2, 120.0, 90.0],  # mostly outside (torch raises for a box fully outside the image)
        [2.5, 3.5, 70.25, 58.75],
    ], dtype=torch.float32)
    probs = paste_masks_in_image(masks[:, None], boxes, (h, w), padding=1)[:, 0]
    write_fixture(os.path.join(OUT, "paste_masks.json"), {"masks": masks, "boxes": boxes, "probs": probs},
                  {"image_size": [h, w], "threshold": 0.5})


if __name__ == "__main__":
    roi_align_fixture()
    multiscale_fixture()
    paste_fixture()
