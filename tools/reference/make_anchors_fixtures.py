"""Fixtures for ops/detection/anchors.ts: torchvision 0.14 AnchorGenerator (sizes ((32,),(64,),(128,),(256,),(512,)),
ratios (0.5, 1, 2)) on padded batches with odd feature sizes (strides from integer division), and an
independent float64 implementation of matterport's generate_pyramid_anchors written from its description.

Run: /usr/bin/python3 tools/reference/make_anchors_fixtures.py
"""
import os
import sys

import numpy as np
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")
SIZES = ((32,), (64,), (128,), (256,), (512,))
RATIOS = ((0.5, 1.0, 2.0),) * 5

# name: (padded image [Hp, Wp], feature sizes per level)
TV_CASES = {
    "padded_96x160": ((96, 160), [(24, 40), (12, 20), (6, 10), (3, 5), (2, 3)]),
    "odd_100x130": ((100, 130), [(25, 33), (13, 17), (7, 9), (4, 5), (2, 3)]),
}

# name: (scales, ratios, feature shapes, feature strides, anchor stride)
MP_CASES = {
    "mp_stride1": ((32, 64, 128, 256, 512), (0.5, 1, 2), [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)], (4, 8, 16, 32, 64), 1),
    "mp_stride2_odd": ((8, 16, 32), (0.5, 1, 2, 4), [(13, 9), (7, 5), (3, 3)], (4, 8, 16), 2),
}


def matterport_level(scale, ratios, shape, feature_stride, anchor_stride):
    """float64, per the matterport description: ratio = width / height, centres at index * stride."""
    scales, ratios = np.meshgrid(np.array(scale, dtype=np.float64), np.array(ratios, dtype=np.float64))
    scales, ratios = scales.flatten(), ratios.flatten()
    heights = scales / np.sqrt(ratios)
    widths = scales * np.sqrt(ratios)
    shifts_y = np.arange(0, shape[0], anchor_stride) * feature_stride
    shifts_x = np.arange(0, shape[1], anchor_stride) * feature_stride
    shifts_x, shifts_y = np.meshgrid(shifts_x, shifts_y)
    box_widths, box_centers_x = np.meshgrid(widths, shifts_x)
    box_heights, box_centers_y = np.meshgrid(heights, shifts_y)
    centers = np.stack([box_centers_y, box_centers_x], axis=2).reshape([-1, 2])
    sizes = np.stack([box_heights, box_widths], axis=2).reshape([-1, 2])
    return np.concatenate([centers - 0.5 * sizes, centers + 0.5 * sizes], axis=1)


def main():
    t = {}
    meta = {"torchvision": {}, "matterport": {}}
    gen = AnchorGenerator(SIZES, RATIOS)
    t["cell_anchors"] = torch.cat(gen.cell_anchors)
    for name, (image, feats) in TV_CASES.items():
        images = ImageList(torch.zeros(2, 3, *image), [image, image])
        maps = [torch.zeros(2, 1, h, w) for h, w in feats]
        anchors = gen(images, maps)
        assert torch.equal(anchors[0], anchors[1])
        t[name] = anchors[0]
        meta["torchvision"][name] = {"image": list(image), "features": [list(f) for f in feats]}
    for name, (scales, ratios, shapes, strides, anchor_stride) in MP_CASES.items():
        levels = [matterport_level(s, ratios, shapes[i], strides[i], anchor_stride) for i, s in enumerate(scales)]
        t[name] = np.concatenate(levels, axis=0)  # float64
        meta["matterport"][name] = {
            "scales": list(scales), "ratios": list(ratios), "shapes": [list(s) for s in shapes],
            "strides": list(strides), "anchor_stride": anchor_stride,
        }
    write_fixture(os.path.join(OUT, "anchors.json"), t, meta)


if __name__ == "__main__":
    main()
