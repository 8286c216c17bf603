"""Fixtures of the backward kernels and the training losses, from torch 1.13 / torchvision 0.14 autograd.

Run: /usr/bin/python3 tools/reference/make_backward_fixtures.py   (from the repository root)

Writes (feature maps and gradients stored NHWC; torch runs on the NCHW permutation)
  tests/fixtures/ops/pool_backward.json        F.max_pool2d backward, incl. integer-valued inputs with ties
  tests/fixtures/ops/upsample_backward.json    F.interpolate(size=..., mode="nearest") backward
  tests/fixtures/ops/roi_align_backward.json   torchvision.ops.roi_align backward (float64 reference)
  tests/fixtures/ops/multiscale_roi_align_backward.json  MultiScaleRoIAlign backward over 4 levels
  tests/fixtures/ops/elementwise_backward.json relu backward (from the forward output)
  tests/fixtures/ops/losses.json               fastrcnn_loss, RPN-style BCE / smooth L1, mask BCE
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection.roi_heads import fastrcnn_loss
from torchvision.ops import MultiScaleRoIAlign, roi_align

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def nonzero_uniform(shape, lo=-1.0, hi=1.0, dtype=torch.float32):
    x = torch.rand(shape, dtype=dtype) * (hi - lo) + lo
    x[x == 0] = 1e-3
    return x


def pool_fixture():
    torch.manual_seed(10)
    # name: (N, C, H, W, kernel, stride, padding, integer-valued input)
    cases = {
        "stem_3x3_s2_p1": (2, 4, 37, 53, 3, 2, 1, False),
        "ties_int_3x3_s2_p1_c5": (2, 5, 13, 11, 3, 2, 1, True),
        "ties_int_3x3_s1_p1_c4": (1, 4, 9, 10, 3, 1, 1, True),
        "ties_int_k3x2_s1x3_p1x1_c3": (2, 3, 11, 14, (3, 2), (1, 3), (1, 1), True),
        "fpn_1x1_s2_p0": (2, 4, 25, 17, 1, 2, 0, False),
        "k5_s3_p2_c7": (1, 7, 19, 23, 5, 3, 2, False),
    }
    tensors, meta = {}, {}
    for name, (n, c, h, w, k, s, p, ints) in cases.items():
        if ints:
            x = torch.randint(0, 3, (n, c, h, w)).to(torch.float32)  # many ties in every window
        else:
            x = torch.randn(n, c, h, w)
        x.requires_grad_(True)
        y = F.max_pool2d(x, k, s, p)
        g = nonzero_uniform(y.shape)
        y.backward(g)
        tensors[f"{name}_x"] = nhwc(x)
        tensors[f"{name}_grad_out"] = nhwc(g)
        tensors[f"{name}_grad_x"] = nhwc(x.grad)
        meta[name] = {"kernel": k, "stride": s, "padding": p}
    write_fixture(os.path.join(OUT, "pool_backward.json"), tensors, meta)


def upsample_fixture():
    torch.manual_seed(11)
    # name: (N, C, H, W, outH, outW)
    cases = {
        "fpn_13x17_to_25x34": (2, 8, 13, 17, 25, 34),
        "odd_7x5_to_20x11_c3": (1, 3, 7, 5, 20, 11),
        "x2_6x9_to_12x18": (2, 4, 6, 9, 12, 18),
        "down_25x34_to_13x17_c5": (2, 5, 25, 34, 13, 17),
        "identity_10x10": (1, 4, 10, 10, 10, 10),
    }
    tensors, meta = {}, {}
    for name, (n, c, h, w, oh, ow) in cases.items():
        x = torch.randn(n, c, h, w, dtype=torch.float64, requires_grad=True)
        y = F.interpolate(x, size=(oh, ow), mode="nearest")
        g = nonzero_uniform(y.shape, dtype=torch.float32)
        y.backward(g.double())
        tensors[f"{name}_grad_out"] = nhwc(g)
        tensors[f"{name}_grad_x"] = nhwc(x.grad).float()
        meta[name] = {"in": [h, w], "out": [oh, ow]}
    write_fixture(os.path.join(OUT, "upsample_backward.json"), tensors, meta)


def roi_align_fixture():
    torch.manual_seed(12)
    n, c, h, w = 2, 4, 23, 31
    scale = 0.25
    ih, iw = h / scale, w / scale
    rois = []
    for _ in range(8):
        x1 = float(torch.empty(1).uniform_(-20, iw))
        y1 = float(torch.empty(1).uniform_(-20, ih))
        bw = float(torch.empty(1).uniform_(4, 80))
        bh = float(torch.empty(1).uniform_(4, 80))
        rois.append([len(rois) % 2, x1, y1, x1 + bw, y1 + bh])
    rois += [
        [0, 10.3, 20.7, 11.1, 21.2],  # tiny: < 1 feature pixel
        [1, 40.0, 30.0, 30.0, 20.0],  # inverted
        [0, -60.0, -40.0, 160.0, 120.0],  # beyond every border
        [1, -3.5, -2.0, 6.0, 5.0],  # samples in (-1, 0)
        [0, iw - 6.0, ih - 5.0, iw + 3.0, ih + 2.5],  # samples past the last row/column
        [1, 0.0, 0.0, iw, ih],  # whole image
        [0, 20.0, 20.0, 44.0, 44.0],  # overlaps others: concurrent adds to the same taps
        [0, 20.0, 20.0, 44.0, 44.0],  # exact duplicate
    ]
    rois = torch.tensor(rois, dtype=torch.float32)
    tensors = {"rois": rois}
    cases = []
    for out, aligned, sampling in ((7, False, 2), (7, False, -1), (7, True, 2), (7, True, -1), (5, False, 2)):
        name = f"out{out}_{'aligned' if aligned else 'legacy'}_s{'adaptive' if sampling < 0 else sampling}"
        x = torch.zeros((n, c, h, w), dtype=torch.float64, requires_grad=True)
        y = roi_align(x, rois.double(), (out, out), spatial_scale=scale, sampling_ratio=sampling, aligned=aligned)
        g = nonzero_uniform(y.shape)
        y.backward(g.double())
        tensors[f"{name}_grad_out"] = nhwc(g)
        tensors[f"{name}_grad_x"] = nhwc(x.grad).float()
        cases.append({"name": name, "output": out, "aligned": aligned, "sampling": sampling})
    write_fixture(os.path.join(OUT, "roi_align_backward.json"), tensors,
                  {"spatial_scale": scale, "input_shape": [n, h, w, c], "cases": cases,
                   "torchvision": torchvision.__version__})


def multiscale_fixture():
    torch.manual_seed(13)
    n, c = 2, 4
    image = (200, 304)
    sizes = [(50, 76), (25, 38), (13, 19), (7, 10)]
    names = ["p2", "p3", "p4", "p5"]
    feats = {k: nonzero_uniform((n, c, h, w)).requires_grad_(True) for k, (h, w) in zip(names, sizes)}
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
    boxes[0] += [[10, 10, 122, 122], [0, 0, 224, 224], [-100, -50, 348, 398]]
    boxes[1] += [[5, 5, 33, 61], [150, 90, 151, 91], [40, 40, 500, 420]]
    boxes = [torch.tensor(b, dtype=torch.float32) for b in boxes]
    pooler = MultiScaleRoIAlign(names, 7, 2)
    out = pooler(feats, boxes, [image, (190, 300)])
    g = nonzero_uniform(out.shape)
    out.backward(g)
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)])
    tensors = {"rois": rois, "grad_out": nhwc(g), "levels": pooler.map_levels(boxes)}
    tensors.update({f"grad_{k}": nhwc(v.grad) for k, v in feats.items()})
    write_fixture(os.path.join(OUT, "multiscale_roi_align_backward.json"), tensors,
                  {"feature_shapes": {k: [n, h, w, c] for k, (h, w) in zip(names, sizes)},
                   "image_shapes": [list(image), [190, 300]], "output": 7, "sampling": 2})


def elementwise_fixture():
    torch.manual_seed(15)
    t = {}
    for name, shape in (("vec4", (3, 5, 7, 4)), ("scalar", (37,))):
        x = torch.randn(shape, dtype=torch.float64)
        x.view(-1)[:5] = 0.0  # relu'(0) = 0 in torch (threshold_backward on out > 0)
        x.requires_grad_(True)
        y = torch.relu(x)
        g = nonzero_uniform(shape, dtype=torch.float32)
        y.backward(g.double())
        t.update({f"{name}_out": y.float(), f"{name}_grad_out": g, f"{name}_grad_x": x.grad.float()})
    write_fixture(os.path.join(OUT, "elementwise_backward.json"), t)


def losses_fixture():
    torch.manual_seed(14)
    t = {}
    # Box head: fastrcnn_loss over R sampled proposals of 2 images, C classes (labels 0 = background).
    r, classes = 45, 11
    logits = (torch.randn(r, classes) * 3).double().requires_grad_(True)
    box_regression = (torch.randn(r, 4 * classes) * 0.3).double().requires_grad_(True)
    labels = torch.randint(0, classes, (r,))
    labels[::3] = 0
    reg_targets = (torch.randn(r, 4) * 0.3).float().double()
    cls_loss, box_loss = fastrcnn_loss(logits, box_regression, [labels[:20], labels[20:]],
                                       [reg_targets[:20], reg_targets[20:]])
    g_logits, g_box = torch.autograd.grad(cls_loss + 0 * box_loss, [logits, box_regression], retain_graph=True)
    g_box = torch.autograd.grad(box_loss, [box_regression])[0]
    t.update({"fr_logits": logits.float(), "fr_box_regression": box_regression.float(), "fr_labels": labels.int(),
              "fr_targets": reg_targets.float(), "fr_cls_loss": cls_loss.reshape(1), "fr_cls_grad": g_logits,
              "fr_box_loss": box_loss.reshape(1), "fr_box_grad": g_box})
    # Cross-entropy on a subset of valid rows (padding rows excluded from the mean).
    valid = torch.rand(r) < 0.7
    ce = F.cross_entropy(logits[valid], labels[valid])
    t.update({"ce_valid": valid.int(), "ce_loss": ce.reshape(1),
              "ce_grad": torch.autograd.grad(ce, [logits])[0]})
    # RPN objectness: BCE with logits, mean over the sampled anchors; extreme logits included.
    n = 1001
    x = (torch.randn(n) * 4).double()
    x[:6] = torch.tensor([30.0, -30.0, 100.0, -100.0, 17.5, -17.5], dtype=torch.float64)
    x = x.float().double().requires_grad_(True)
    targets = (torch.rand(n) < 0.4).double()
    sampled = torch.rand(n) < 0.25
    sampled[:6] = True
    bce = F.binary_cross_entropy_with_logits(x[sampled], targets[sampled])
    t.update({"bce_logits": x.float(), "bce_targets": targets.float(), "bce_valid": sampled.int(),
              "bce_loss": bce.reshape(1), "bce_grad": torch.autograd.grad(bce, [x])[0],
              "bce_count": torch.tensor([int(sampled.sum())], dtype=torch.int32)})
    # RPN box loss: smooth L1 (beta 1/9, sum) over sampled positives / number of sampled anchors.
    m = 203
    pred = (torch.randn(m, 4) * 0.3).float().double().requires_grad_(True)
    target = (pred.detach() + torch.randn(m, 4) * 0.2).float().double()
    pos = torch.rand(m) < 0.3
    norm = 256
    sl1 = F.smooth_l1_loss(pred[pos], target[pos], beta=1 / 9, reduction="sum") / norm
    t.update({"sl1_pred": pred.float(), "sl1_target": target.float(), "sl1_valid": pos.int(),
              "sl1_loss": sl1.reshape(1), "sl1_grad": torch.autograd.grad(sl1, [pred])[0]})
    # Mask loss: BCE with logits on the label channel, mean over positives x 28 x 28 (maskrcnn_loss).
    rr, mc, ms = 5, 6, 28
    mask_logits = (torch.randn(rr, mc, ms, ms) * 2).float().double().requires_grad_(True)
    mask_labels = torch.tensor([3, 1, 5, 0, 3], dtype=torch.int64)
    mask_targets = torch.rand(rr, ms, ms).float().double()
    mask_targets[:, :10] = (mask_targets[:, :10] > 0.5).double()  # exact 0/1 rows as roi_align'd gt gives
    positive = torch.tensor([1, 1, 1, 0, 1], dtype=torch.bool)
    pos_idx = torch.where(positive)[0]
    mloss = F.binary_cross_entropy_with_logits(mask_logits[pos_idx, mask_labels[pos_idx]],
                                               mask_targets[pos_idx])
    t.update({"mask_logits": nhwc(mask_logits).float(), "mask_labels": mask_labels.int(),
              "mask_targets": mask_targets.float(), "mask_positive": positive.int(),
              "mask_loss": mloss.reshape(1), "mask_grad": nhwc(torch.autograd.grad(mloss, [mask_logits])[0])})
    t = {k: (v.float() if v.dtype == torch.float64 else v) for k, v in t.items()}
    write_fixture(os.path.join(OUT, "losses.json"), t, {"rpn_box_normaliser": norm, "beta": 1 / 9})


if __name__ == "__main__":
    pool_fixture()
    upsample_fixture()
    roi_align_fixture()
    multiscale_fixture()
    elementwise_fixture()
    losses_fixture()
