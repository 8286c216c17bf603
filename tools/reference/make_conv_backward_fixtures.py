"""Fixtures for tests/ops/conv2d_backward_test.ts, linear_backward_test.ts and
conv_transpose2d_backward_test.ts: gradients by torch autograd in float64.

Run from the repository root with Debian's interpreter (torch 1.13, torchvision 0.14):
    /usr/bin/python3 tools/reference/make_conv_backward_fixtures.py
Inputs, weights and upstream gradients are random non-zero float32; the forward and backward run in
float64 on those values and are stored as float32. Activations NHWC (the library's layout), weights and
their gradients in torch's layout (the tests pack / unpack). Each case stores x, weight, bias, gout (the
upstream gradient of the final output, after the fused residual add and ReLU), out (the forward output,
which the ReLU backward masks with), and the gradients gx, gw, gb (and gres for the residual).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def rand(*shape):
    """Uniform in [-1, 1) with no exact zeros."""
    t = torch.rand(*shape, dtype=torch.float32) * 2 - 1
    return torch.where(t == 0, torch.full_like(t, 1e-3), t)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def leaf(t):
    return t.double().requires_grad_(True)


def finish(name, tensors, meta, y, residual, relu, inputs):
    """Applies the epilogue, back-propagates a random gout, stores out/gout and the input gradients."""
    res = None
    if residual:
        res = leaf(rand(*y.shape))
        y = y + res
    if relu:
        y = torch.relu(y)
    gout = rand(*y.shape)
    y.backward(gout.double())
    four_d = y.dim() == 4
    conv = nhwc if four_d else (lambda t: t)
    tensors[f"{name}.out"] = conv(y.detach()).float()
    tensors[f"{name}.gout"] = conv(gout)
    for key, t in inputs.items():
        if t is not None:
            g = t.grad.float()
            tensors[f"{name}.{key}"] = nhwc(g) if key == "gx" and four_d else g
    if res is not None:
        tensors[f"{name}.gres"] = conv(res.grad).float()
    meta.update({"name": name, "residual": residual, "relu": relu})
    return tensors, meta


def conv_case(name, n, h, w, cin, cout, k, stride, pad, bias=True, residual=False, relu=False):
    x, wt = rand(n, cin, h, w), rand(cout, cin, k, k) / (cin * k * k) ** 0.5
    b = rand(cout) if bias else None
    xl, wl, bl = leaf(x), leaf(wt), leaf(b) if bias else None
    y = F.conv2d(xl, wl, bl, stride=stride, padding=pad)
    tensors = {f"{name}.x": nhwc(x), f"{name}.weight": wt}
    if bias:
        tensors[f"{name}.bias"] = b
    meta = {"stride": stride, "padding": pad, "bias": bias}
    return finish(name, tensors, meta, y, residual, relu, {"gx": xl, "gw": wl, "gb": bl})


def linear_case(name, rows, inf, outf, bias=True, relu=False, nchw=None):
    x, wt = rand(rows, inf), rand(outf, inf) / inf ** 0.5
    b = rand(outf) if bias else None
    xl, wl, bl = leaf(x), leaf(wt), leaf(b) if bias else None
    y = F.linear(xl, wl, bl)
    tensors = {f"{name}.x": x, f"{name}.weight": wt}
    if bias:
        tensors[f"{name}.bias"] = b
    meta = {"bias": bias, "nchw": nchw}
    if nchw:  # x holds a flattened NCHW map; the library takes the NHWC flatten
        c, hh, ww = nchw
        tensors[f"{name}.x"] = x.reshape(rows, c, hh, ww).permute(0, 2, 3, 1).reshape(rows, inf).contiguous()
    t, m = finish(name, tensors, meta, y, False, relu, {"gx": xl, "gw": wl, "gb": bl})
    if nchw:
        c, hh, ww = nchw
        t[f"{name}.gx"] = t[f"{name}.gx"].reshape(rows, c, hh, ww).permute(0, 2, 3, 1).reshape(rows, inf)
    return t, m


def conv_t_case(name, n, h, w, cin, cout, bias=True, relu=False):
    x, wt = rand(n, cin, h, w), rand(cin, cout, 2, 2) / (cin * 4) ** 0.5
    b = rand(cout) if bias else None
    xl, wl, bl = leaf(x), leaf(wt), leaf(b) if bias else None
    y = F.conv_transpose2d(xl, wl, bl, stride=2)
    tensors = {f"{name}.x": nhwc(x), f"{name}.weight": wt}
    if bias:
        tensors[f"{name}.bias"] = b
    return finish(name, tensors, {"bias": bias}, y, False, relu, {"gx": xl, "gw": wl, "gb": bl})


def write(path, cases):
    tensors, metas = {}, []
    for t, m in cases:
        tensors.update({k: v.contiguous() for k, v in t.items()})
        metas.append(m)
    write_fixture(os.path.join(OUT, path), tensors, {"cases": metas, "torch": torch.__version__})


def main():
    torch.manual_seed(20240612)
    write("conv2d_backward.json", [
        # ResNet 3×3 s2 (odd map: the last row/column gets gradient from one tap side only)
        conv_case("k3s2p1_relu", 2, 37, 53, 3, 5, 3, 2, 1, relu=True),
        conv_case("k3s1p1_relu", 2, 19, 27, 5, 7, 3, 1, 1, relu=True),
        conv_case("k3s1p1_vec_relu", 2, 13, 17, 8, 12, 3, 1, 1, relu=True),
        # bottleneck conv3: 1×1 + residual + ReLU
        conv_case("k1s1p0_res_relu", 2, 13, 17, 8, 12, 1, 1, 0, residual=True, relu=True),
        # downsample 1×1 s2, no bias (odd input pixels get zero gradient)
        conv_case("k1s2p0_nobias", 2, 19, 27, 7, 8, 1, 2, 0, bias=False),
        # ResNet stem 7×7 s2 p3
        conv_case("k7s2p3_relu", 2, 19, 27, 3, 8, 7, 2, 3, relu=True),
        # RPN logits 1×1 → 3 anchors (vec4 in, scalar out)
        conv_case("k1s1p0_rpn", 2, 13, 17, 12, 3, 1, 1, 0),
        conv_case("k3s2p1_vec_relu", 2, 13, 17, 8, 8, 3, 2, 1, relu=True),
        # FPN output conv (no ReLU), and an even map with stride 2
        conv_case("k3s1p1_fpn", 2, 13, 17, 12, 8, 3, 1, 1),
        conv_case("k3s2p1_even_res", 2, 16, 20, 5, 4, 3, 2, 1, residual=True),
    ])
    write("linear_backward.json", [
        linear_case("fc6_nchw_relu", 37, 45, 7, relu=True, nchw=(5, 3, 3)),
        linear_case("fc7_vec_relu", 37, 24, 16, relu=True),
        linear_case("cls_scalar", 37, 16, 5),
        linear_case("bbox_nobias", 29, 16, 20, bias=False),
    ])
    write("conv_transpose2d_backward.json", [
        conv_t_case("mask_relu", 2, 7, 9, 8, 5, relu=True),
        conv_t_case("vec_out", 2, 5, 6, 6, 8, relu=True),
        conv_t_case("vec_nobias", 2, 5, 7, 8, 4, bias=False),
    ])


if __name__ == "__main__":
    main()
