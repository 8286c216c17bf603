"""Fixture for the thin-box paste test (tests/ops/paste_masks_test.ts): torchvision 0.14's
roi_heads.paste_masks_in_image (padding 1, M = 28) of boxes only a few pixels thick (1.6 px tall across the
whole width, 2.3 px wide), sub-pixel boxes, boxes on integer coordinates and boxes across every border.

Usage (from the project root, Debian's interpreter):
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/make_paste_fixtures.py

Writes tests/fixtures/ops/paste_masks_thin.json: masks [R, 28, 28] f32, boxes [R, 4] f32, the pasted
probabilities [R, H, W] f32 and each box's integer box and pasted-pixel count at 0.5.
"""
import os
import sys

import torch
from torchvision.models.detection.roi_heads import expand_boxes, paste_masks_in_image

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def main():
    torch.manual_seed(11)
    h, w = 26, 64
    boxes = torch.tensor([
        [0.4, 10.3, 63.7, 11.9],  # 1.6 px tall across the whole width
        [-0.6, 5.2, 63.9, 6.8],  # 1.6 px tall, starts left of the image
        [2.2, 17.45, 60.1, 19.05],  # 1.6 px tall at another fractional offset
        [10.2, 2.1, 12.5, 20.4],  # 2.3 px wide
        [30.7, -1.3, 33.0, 23.9],  # 2.3 px wide, crosses the top
        [47.1, 8.0, 49.4, 30.0],  # 2.3 px wide, crosses the bottom
        [61.9, 3.3, 64.2, 9.6],  # 2.3 px wide, crosses the right border
        [20.45, 15.3, 20.95, 15.8],  # sub-pixel
        [8.0, 8.0, 16.0, 9.6],  # integer corners
        [-0.3, -0.2, 5.1, 1.4],  # thin, crosses the top-left corner
        [0.0, 24.4, 64.0, 26.0],  # 1.6 px tall along the bottom border
        [5.5, 0.5, 7.1, 25.5],  # 1.6 px wide, full height
        [14.3, 3.7, 50.8, 22.6],  # an ordinary box
    ], dtype=torch.float32)
    r = boxes.shape[0]
    # smooth masks (a blob plus noise) so that thresholding at 0.5 keeps structure; one saturated mask
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    masks = torch.empty((r, 28, 28), dtype=torch.float32)
    for i in range(r):
        cy, cx = (torch.rand(2) - 0.5) * 0.6
        blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.35 + 0.4 * torch.rand(1)))
        masks[i] = (0.15 + 0.8 * blob + 0.12 * (torch.rand((28, 28)) - 0.5)).clamp(0, 1)
    masks[0] = 0.9
    probs = paste_masks_in_image(masks[:, None], boxes, (h, w), padding=1)[:, 0]
    int_boxes = expand_boxes(boxes, 30 / 28).to(torch.int64).to(torch.int32)
    write_fixture(os.path.join(OUT, "paste_masks_thin.json"),
                  {"masks": masks, "boxes": boxes, "probs": probs, "int_boxes": int_boxes,
                   "pixels": (probs >= 0.5).sum((1, 2)).to(torch.int32)},
                  {"image_size": [h, w], "threshold": 0.5, "padding": 1})


if __name__ == "__main__":
    main()
