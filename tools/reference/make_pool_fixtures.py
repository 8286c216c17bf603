"""Fixtures for ops/pool.ts: torch F.max_pool2d on random NCHW inputs, stored NHWC.

Run: /usr/bin/python3 tools/reference/make_pool_fixtures.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")

# name: (N, C, H, W, kernel, stride, padding)
CASES = {
    "stem_3x3_s2_p1": (2, 8, 37, 53, 3, 2, 1),
    "fpn_1x1_s2_p0": (2, 4, 25, 17, 1, 2, 0),
    "odd_c_3x2_s1x3_p1x1": (2, 3, 11, 14, (3, 2), (1, 3), (1, 1)),
    "k5_s3_p2": (1, 5, 19, 23, 5, 3, 2),
    "all_negative_stem": (1, 4, 9, 10, 3, 2, 1),  # -inf padding, not 0, must win nowhere
}


def main():
    torch.manual_seed(0)
    tensors = {}
    meta = {}
    for name, (n, c, h, w, k, s, p) in CASES.items():
        x = torch.randn(n, c, h, w, dtype=torch.float32)
        x[x == 0] = 0.5
        if name.startswith("all_negative"):
            x = -x.abs() - 0.1
        y = F.max_pool2d(x, k, s, p)
        tensors[f"{name}_x"] = x.permute(0, 2, 3, 1)
        tensors[f"{name}_y"] = y.permute(0, 2, 3, 1)
        meta[name] = {"kernel": k, "stride": s, "padding": p}
    write_fixture(os.path.join(OUT, "pool.json"), tensors, meta)


if __name__ == "__main__":
    main()
