"""Fixtures for ops/upsample.ts: torch F.interpolate(size=..., mode="nearest") on random NCHW inputs,
stored NHWC. Sizes include the FPN's odd halvings (13 → 25, 17 → 34), exact ×2, identity, downscaling and
ratios whose f32 scale rounds across an integer.

Run: /usr/bin/python3 tools/reference/make_upsample_fixtures.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")

# name: (N, C, H, W, outH, outW)
CASES = {
    "fpn_odd_13x17_to_25x34": (2, 8, 13, 17, 25, 34),
    "exact_x2": (2, 4, 7, 9, 14, 18),
    "identity_odd_c": (1, 3, 5, 6, 5, 6),
    "down_and_up": (2, 5, 21, 10, 9, 31),
    "thirds": (1, 4, 3, 7, 49, 9),
    "f32_rounding_2_to_82": (1, 4, 2, 3, 82, 5),
    "large_ratio": (1, 1, 100, 7, 301, 23),
}


def main():
    torch.manual_seed(1)
    tensors = {}
    meta = {}
    for name, (n, c, h, w, oh, ow) in CASES.items():
        x = torch.randn(n, c, h, w, dtype=torch.float32)
        y = F.interpolate(x, size=(oh, ow), mode="nearest")
        tensors[f"{name}_x"] = x.permute(0, 2, 3, 1)
        tensors[f"{name}_y"] = y.permute(0, 2, 3, 1)
        meta[name] = {"out": [oh, ow]}
    # torch's source index along one axis for many (in, out) pairs, for the CPU twin
    pairs = [(i, o) for i in (1, 3, 7, 13, 25, 50, 100, 199) for o in (1, 2, 5, 13, 25, 26, 49, 50, 99, 100, 200, 333)]
    pairs += [(2, 82), (2, 94), (2, 166)]  # f32 scale rounds below the exact ratio: floor differs from exact
    idx = []
    for i, o in pairs:
        src = torch.arange(i, dtype=torch.float32).view(1, 1, 1, i)
        idx.append(F.interpolate(src, size=(1, o), mode="nearest").view(-1).to(torch.int32))
    tensors["index_pairs"] = torch.tensor(pairs, dtype=torch.int32)
    tensors["index_values"] = torch.cat(idx)
    write_fixture(os.path.join(OUT, "upsample.json"), tensors, meta)


if __name__ == "__main__":
    main()
