"""Fixtures for tests/ops/conv2d_test.ts, linear_test.ts and conv_transpose2d_test.ts, computed by torch.

Run from the repository root with Debian's interpreter (torch 1.13, torchvision 0.14):
    /usr/bin/python3 tools/reference/make_conv_fixtures.py
Inputs are random non-zero float32; references are computed in float64 from those float32 values and
stored as float32. Activations are stored NHWC (the library's layout); weights in torch's layout.
"""
import os
import sys

import torch
import torch.nn.functional as F
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def rand(*shape):
    """Uniform in [-1, 1) with no exact zeros."""
    t = torch.rand(*shape, dtype=torch.float32) * 2 - 1
    return torch.where(t == 0, torch.full_like(t, 1e-3), t)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def conv_case(name, n, h, w, cin, cout, k, stride, pad, bias=True, residual=False, relu=False):
    x = rand(n, cin, h, w)
    wt = rand(cout, cin, k, k) / (cin * k * k) ** 0.5
    b = rand(cout) if bias else None
    y = F.conv2d(x.double(), wt.double(), b.double() if bias else None, stride=stride, padding=pad)
    tensors = {f"{name}.x": nhwc(x), f"{name}.weight": wt}
    if bias:
        tensors[f"{name}.bias"] = b
    if residual:
        r = rand(*y.shape)
        tensors[f"{name}.residual"] = nhwc(r)
        y = y + r.double()
    if relu:
        y = torch.relu(y)
    tensors[f"{name}.out"] = nhwc(y).float()
    meta = {"name": name, "stride": stride, "padding": pad, "bias": bias, "residual": residual, "relu": relu}
    return tensors, meta


def frozen_bn_case(name, n, h, w, cin, cout, k, stride, pad):
    """conv (no bias) → FrozenBatchNorm2d (torchvision default eps) → ReLU, as in the ResNet stem."""
    x = rand(n, cin, h, w)
    wt = rand(cout, cin, k, k) / (cin * k * k) ** 0.5
    bn = FrozenBatchNorm2d(cout).double()
    bn.weight.copy_(rand(cout) + 1.5)
    bn.bias.copy_(rand(cout))
    bn.running_mean.copy_(rand(cout) * 0.5)
    bn.running_var.copy_(torch.rand(cout) + 0.25)
    y = torch.relu(bn(F.conv2d(x.double(), wt.double(), None, stride=stride, padding=pad)))
    tensors = {
        f"{name}.x": nhwc(x), f"{name}.weight": wt, f"{name}.bn_weight": bn.weight.float(),
        f"{name}.bn_bias": bn.bias.float(), f"{name}.running_mean": bn.running_mean.float(),
        f"{name}.running_var": bn.running_var.float(), f"{name}.out": nhwc(y).float(),
    }
    meta = {"name": name, "stride": stride, "padding": pad, "eps": bn.eps, "relu": True}
    return tensors, meta


def write(path, cases):
    tensors, metas = {}, []
    for t, m in cases:
        tensors.update(t)
        metas.append(m)
    write_fixture(os.path.join(OUT, path), tensors, {"cases": metas, "torch": torch.__version__})


def main():
    torch.manual_seed(20240611)
    write("conv2d.json", [
        conv_case("k3s1p1", 2, 37, 53, 5, 7, 3, 1, 1),
        conv_case("k3s2p1_relu", 2, 37, 53, 4, 8, 3, 2, 1, relu=True),
        conv_case("k1s1_residual_relu", 2, 37, 53, 4, 4, 1, 1, 0, residual=True, relu=True),
        conv_case("k1s2_nobias", 2, 37, 53, 6, 10, 1, 2, 0, bias=False),
        conv_case("k3s1p0_wide", 1, 13, 11, 16, 72, 3, 1, 0),
        conv_case("k7s2p3_residual", 2, 19, 23, 3, 12, 7, 2, 3, residual=True, relu=True),
        conv_case("k3s1p1_odd_residual", 2, 9, 7, 5, 9, 3, 1, 1, residual=True, relu=True),
    ])
    write("conv2d_frozen_bn.json", [frozen_bn_case("stem", 2, 37, 53, 3, 8, 7, 2, 3)])

    cases = []
    for name, r, fin, fout, relu in [("linear", 37, 40, 52, False), ("linear_odd_relu", 5, 13, 7, True)]:
        x = rand(r, fin)
        wt = rand(fout, fin) / fin ** 0.5
        b = rand(fout)
        y = F.linear(x.double(), wt.double(), b.double())
        if relu:
            y = torch.relu(y)
        cases.append(({f"{name}.x": x, f"{name}.weight": wt, f"{name}.bias": b, f"{name}.out": y.float()},
                      {"name": name, "relu": relu}))
    write("linear.json", cases)

    cases = []
    for name, n, h, w, cin, cout, relu in [("convt", 2, 7, 9, 8, 12, True), ("convt_odd", 1, 5, 3, 6, 5, False)]:
        x = rand(n, cin, h, w)
        wt = rand(cin, cout, 2, 2) / cin ** 0.5
        b = rand(cout)
        y = F.conv_transpose2d(x.double(), wt.double(), b.double(), stride=2)
        if relu:
            y = torch.relu(y)
        cases.append(({f"{name}.x": nhwc(x), f"{name}.weight": wt, f"{name}.bias": b, f"{name}.out": nhwc(y).float()},
                      {"name": name, "relu": relu}))
    write("conv_transpose2d.json", cases)


if __name__ == "__main__":
    main()
