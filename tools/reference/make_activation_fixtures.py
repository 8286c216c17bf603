"""Fixtures for ops/activation.ts: torch sigmoid, softmax(dim=-1) and a linear layer after an NCHW flatten
(the box head's fc6 pattern), with inputs stored NHWC for the flatten case.

Run: /usr/bin/python3 tools/reference/make_activation_fixtures.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def main():
    torch.manual_seed(2)
    t = {}
    # sigmoid: wide range incl. saturating values, odd size (scalar path) and a multiple of 4 (vec4 path)
    for name, n in (("sigmoid_odd", 37 * 53), ("sigmoid_v4", 4 * 301)):
        x = torch.randn(n) * 12
        x[:4] = torch.tensor([-100.0, 100.0, -30.0, 30.0])
        t[f"{name}_x"] = x
        t[f"{name}_y"] = torch.sigmoid(x)
    # softmax: short rows (thread per row), class-score rows (workgroup per row), long rows, huge offsets
    for name, shape, offset in (
        ("softmax_short", (53, 5), 0.0),
        ("softmax_classes", (37, 91), 0.0),
        ("softmax_long_offset", (2, 3, 1000), 900.0),
        ("softmax_single", (7, 1), 0.0),
    ):
        x = torch.randn(*shape) * 4 + offset
        t[f"{name}_x"] = x
        t[f"{name}_y"] = torch.softmax(x.double(), dim=-1).float()
    # fc6 after flatten: x [R, C, H, W] NCHW, weight [out, C*H*W], bias [out]
    r, c, h, w, o = 3, 5, 3, 4, 9
    x = torch.randn(r, c, h, w)
    weight = torch.randn(o, c * h * w)
    bias = torch.randn(o)
    t["fc_x_nhwc"] = x.permute(0, 2, 3, 1)
    t["fc_weight"] = weight
    t["fc_bias"] = bias
    t["fc_y"] = torch.nn.functional.linear(x.double().flatten(1), weight.double(), bias.double()).float()
    write_fixture(os.path.join(OUT, "activation.json"), t, {"fc": {"C": c, "H": h, "W": w, "out": o}})


if __name__ == "__main__":
    main()
