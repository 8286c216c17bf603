"""Fixtures for ops/detection/anchors.ts: torchvision 0.14 AnchorGenerator (sizes ((32,),(64,),(128,),(256,),(512,)),
ratios (0.5, 1, 2)) on padded batches with odd feature sizes (strides from integer division).

Run: /usr/bin/python3 tools/reference/make_anchors_fixtures.py
"""
import os
import sys

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


def main():
    t = {}
    meta = {"torchvision": {}}
    gen = AnchorGenerator(SIZES, RATIOS)
    t["cell_anchors"] = torch.cat(gen.cell_anchors)
    for name, (image, feats) in TV_CASES.items():
        images = ImageList(torch.zeros(2, 3, *image), [image, image])
        maps = [torch.zeros(2, 1, h, w) for h, w in feats]
        anchors = gen(images, maps)
        assert torch.equal(anchors[0], anchors[1])
        t[name] = anchors[0]
        meta["torchvision"][name] = {"image": list(image), "features": [list(f) for f in feats]}
    write_fixture(os.path.join(OUT, "anchors.json"), t, meta)


if __name__ == "__main__":
    main()
