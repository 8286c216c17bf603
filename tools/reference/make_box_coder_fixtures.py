"""Fixtures for ops/box_coder.ts: torchvision 0.14 BoxCoder decode/encode (RPN weights (1,1,1,1) and RoI
weights (10,10,5,5), deltas beyond bbox_xform_clip), clip_boxes_to_image per image (boxes crossing every
border) and remove_small_boxes (sides straddling min_size, incl. exact ties).

Run: /usr/bin/python3 tools/reference/make_box_coder_fixtures.py
"""
import math
import os
import sys

import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import boxes as box_ops

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def random_boxes(n, lo=-40.0, hi=120.0, min_side=1.0, max_side=90.0):
    xy = torch.rand(n, 2) * (hi - lo) + lo
    wh = torch.rand(n, 2) * (max_side - min_side) + min_side
    return torch.cat([xy, xy + wh], dim=1)


def main():
    torch.manual_seed(5)
    t = {}
    # RPN decode: [R, 4] deltas, some dw/dh above the clip
    anchors = random_boxes(301)
    deltas = torch.randn(301, 4) * 1.5
    deltas[:20, 2:] = torch.rand(20, 2) * 6 + 4.2  # > log(1000/16) = 4.135
    t["rpn_anchors"], t["rpn_deltas"] = anchors, deltas
    t["rpn_decoded"] = BoxCoder((1.0, 1.0, 1.0, 1.0)).decode(deltas, [anchors])
    # RoI decode: [R, 4*C] deltas, C = 11
    proposals = random_boxes(157)
    roi_deltas = torch.randn(157, 44) * 4
    roi_deltas[:10, 2::4] = 60.0  # / 5 = 12 > clip
    t["roi_proposals"], t["roi_deltas"] = proposals, roi_deltas
    t["roi_decoded"] = BoxCoder((10.0, 10.0, 5.0, 5.0)).decode(roi_deltas, [proposals])
    # encode (gt relative to proposals), RoI weights and RPN weights
    gt = random_boxes(157)
    t["enc_gt"] = gt
    t["enc_roi"] = BoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(gt, proposals)
    t["enc_rpn"] = BoxCoder((1.0, 1.0, 1.0, 1.0)).encode_single(gt, proposals)
    # clip: 2 images, evenly split [2*97, 4] and unevenly split [97, 3, 4] (60 + 37 rows)
    sizes = [(37, 53), (50, 41)]
    boxes = random_boxes(2 * 97, lo=-30.0, hi=70.0)
    t["clip_boxes"] = boxes
    t["clip_even"] = torch.cat([box_ops.clip_boxes_to_image(b, s) for b, s in zip(boxes.split(97), sizes)])
    per_class = random_boxes(97 * 3, lo=-30.0, hi=70.0).view(97, 3, 4)
    t["clip_per_class"] = per_class
    t["clip_uneven"] = torch.cat([box_ops.clip_boxes_to_image(b, s) for b, s in zip(per_class.split([60, 37]), sizes)])
    # remove_small_boxes: sides around min_size, some exactly equal
    small = random_boxes(513, min_side=0.0, max_side=10.0)
    small[:8, 2] = small[:8, 0] + 5.0  # width exactly 5 (kept at min_size 5)
    small[8:12, 3] = small[8:12, 1]  # zero height
    t["small_boxes"] = small
    for name, m in (("small_keep_1e-3", 1e-3), ("small_keep_5", 5.0)):
        t[name] = box_ops.remove_small_boxes(small, m).to(torch.int32)
    write_fixture(os.path.join(OUT, "box_coder.json"), t, {"clip_sizes": sizes, "clip_uneven_counts": [60, 37],
                                                            "bbox_xform_clip": math.log(1000.0 / 16)})


if __name__ == "__main__":
    main()
