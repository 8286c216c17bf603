"""Fixtures of Mask R-CNN's training targets (tests/ops/detection/rpn_targets_test.ts and friends) from torchvision 0.14.

Run with Debian's interpreter: /usr/bin/python3 tools/reference/make_targets_fixtures.py

- targets_iou.json: box_iou of 37 × 53 boxes (crossing the border), and per image of a batch (GT counts 5, 0, 3).
- targets_matcher.json: Matcher on quantised quality matrices full of ties (argmax ties across GT, low-quality
  ties across elements, a GT whose maximum is 0, an image with 70 GT, one with none, invalid columns), for
  three (high, low, allow_low_quality_matches) settings.
- targets_rpn.json: RegionProposalNetwork.assign_targets_to_anchors + box_coder.encode on the 4092 anchors of
  a 128 × 128 batch, 3 images with 7 (one duplicated), 0 and 2 GT boxes.
- targets_roi.json: RoIHeads.select_training_samples with batch_size_per_image 4096 (every candidate sampled)
  and project_masks_on_boxes (28 × 28) of the positives, 3 images of different sizes with 5, 0 and 3 GT.
"""
import os

import numpy as np
import torch
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads, project_masks_on_boxes
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import box_iou

from fixture_io import write_fixture

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")


def random_boxes(n, w, h, lo=4.0, hi=80.0, spill=10.0):
    x1 = torch.rand(n) * (w + 2 * spill) - spill
    y1 = torch.rand(n) * (h + 2 * spill) - spill
    bw = lo + torch.rand(n) * (hi - lo)
    bh = lo + torch.rand(n) * (hi - lo)
    return torch.stack([x1, y1, x1 + bw, y1 + bh], 1)


def iou_fixture():
    a = random_boxes(37, 120, 90)
    b = random_boxes(53, 120, 90)
    counts = [5, 0, 3]
    gt = random_boxes(sum(counts), 120, 90)
    boxes = random_boxes(3 * 41, 120, 90).reshape(3, 41, 4)
    boxes[0, :5] = gt[:5]  # exact matches give IoU 1
    rows, start = [], 0
    for k, c in enumerate(counts):
        rows.append(box_iou(gt[start:start + c], boxes[k]))
        start += c
    write_fixture(os.path.join(OUT, "targets_iou.json"), {
        "a": a, "b": b, "iou": box_iou(a, b), "gt": gt, "boxes": boxes, "batched": torch.cat(rows, 0),
    }, {"counts": counts})


def matcher_fixture():
    counts, n = [70, 0, 3], 301
    q = torch.floor(torch.rand(sum(counts), n) * 9) / 8  # values k/8: ties everywhere
    q[3] = torch.floor(torch.rand(n) * 3) / 16  # a GT whose best is low (≤ 0.125): low-quality ties
    q[5] = 0.0  # a GT that overlaps nothing: maximum 0, tied by every element
    q[7] = q[6]  # identical rows: argmax ties between GT 6 and 7, first wins
    q[70:73] = torch.floor(torch.rand(3, n) * 5) / 10
    valid = (torch.rand(3, n) > 0.1).to(torch.int32)
    tensors = {"quality": q, "valid": valid}
    settings = [(0.7, 0.3, True), (0.5, 0.5, False), (0.7, 0.3, False)]
    for s, (high, low, lowq) in enumerate(settings):
        matcher = det_utils.Matcher(high, low, allow_low_quality_matches=lowq)
        for masked in (False, True):
            out, start = [], 0
            for k, c in enumerate(counts):
                m = torch.full((n,), -1, dtype=torch.int64)
                cols = torch.where(valid[k] != 0)[0] if masked else torch.arange(n)
                if c > 0:
                    m[cols] = matcher(q[start:start + c][:, cols])
                if masked:
                    m[valid[k] == 0] = -3
                out.append(m)
                start += c
            tensors[f"matches_{s}{'_masked' if masked else ''}"] = torch.stack(out).to(torch.int32)
    write_fixture(os.path.join(OUT, "targets_matcher.json"), tensors, {"counts": counts, "settings": settings})


def rpn_fixture():
    size = (128, 128)
    feature_sizes = [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    gen = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    images = ImageList(torch.zeros(3, 3, *size), [size] * 3)
    feats = [torch.zeros(3, 1, h, w) for h, w in feature_sizes]
    anchors = gen(images, feats)
    gt0 = random_boxes(7, 128, 128, lo=12, hi=100, spill=0)
    gt0[4] = gt0[1]  # duplicated GT: tied argmax, first wins
    gt0[6] = torch.tensor([60.0, 40.0, 66.0, 45.0])  # tiny: only low-quality matches
    gt2 = torch.tensor([[70.0, 60.0, 120.0, 125.0], [5.0, 6.0, 12.0, 12.0]])  # the second: isolated and tiny
    gts = [gt0, torch.zeros(0, 4), gt2]
    rpn = RegionProposalNetwork(gen, RPNHead(1, 3), 0.7, 0.3, 256, 0.5, {"training": 2000, "testing": 1000},
                                {"training": 2000, "testing": 1000}, 0.7)
    labels, matched = rpn.assign_targets_to_anchors(anchors, [{"boxes": g} for g in gts])
    targets = rpn.box_coder.encode(matched, anchors)
    matches = [rpn.proposal_matcher(box_iou(g, anchors[k])) if len(g) else torch.full((anchors[k].shape[0],), -1)
               for k, g in enumerate(gts)]
    write_fixture(os.path.join(OUT, "targets_rpn.json"), {
        "anchors": anchors[0],
        "gt": torch.cat(gts),
        "labels": torch.stack(labels).to(torch.int32),
        "targets_0": targets[0],  # image 1 has no GT: torchvision encodes a zero box there (-inf), ours is 0
        "targets_2": targets[2],
        "matches": torch.stack(matches).to(torch.int32),
    }, {"counts": [len(g) for g in gts], "image_size": list(size)})


def blob_masks(boxes, h, w):
    yy, xx = torch.meshgrid(torch.arange(h).float() + 0.5, torch.arange(w).float() + 0.5, indexing="ij")
    out = []
    for x1, y1, x2, y2 in boxes.tolist():
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, max((x2 - x1) / 2, 1), max((y2 - y1) / 2, 1)
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        noise = torch.rand(h, w) < 0.08
        out.append((inside ^ noise).to(torch.uint8))
    return torch.stack(out) if out else torch.zeros(0, h, w, dtype=torch.uint8)


def roi_fixture():
    sizes = [(150, 200), (160, 224), (131, 190)]
    counts = [5, 0, 3]
    p = 300
    gts, props, valids, masks = [], [], [], []
    for (h, w), c in zip(sizes, counts):
        gt = random_boxes(c, w, h, lo=15, hi=90, spill=0)
        gt[:, 0::2] = gt[:, 0::2].clamp(0, w)
        gt[:, 1::2] = gt[:, 1::2].clamp(0, h)
        near = gt[torch.randint(0, max(c, 1), (40,))] if c else random_boxes(40, w, h)
        jitter = (torch.rand(40, 4) - 0.5) * 24
        boxes = torch.cat([near + jitter, random_boxes(p - 40, w, h, lo=6, hi=100)])[torch.randperm(p)]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        valid = torch.ones(p, dtype=torch.int32)
        gts.append(gt)
        props.append(boxes)
        valids.append(valid)
        masks.append(blob_masks(gt, h, w))
    valids[0][[17, 101, 102]] = 0
    valids[0][280:] = 0
    valids[2][150:] = 0
    heads = RoIHeads(None, None, None, 0.5, 0.5, 4096, 0.5, None, 0.05, 0.5, 100)
    proposals = [pr[v != 0] for pr, v in zip(props, valids)]
    targets = [{"boxes": g, "labels": torch.randint(1, 91, (len(g),))} for g in gts]
    sampled, matched, labels, reg = heads.select_training_samples(proposals, targets)
    tensors = {"proposals": torch.stack(props), "valid": torch.stack(valids)}
    mask_targets = []
    for k in range(3):
        keep = torch.cat([torch.where(valids[k] != 0)[0], p + torch.arange(counts[k])])
        # every candidate is sampled: the sampled ones are the non-ignored candidates in order
        all_props = torch.cat([proposals[k], gts[k]])
        mq = box_iou(gts[k], all_props) if counts[k] else None
        ignored = heads.proposal_matcher(mq) == -2 if counts[k] else torch.zeros(len(all_props), dtype=torch.bool)
        sampled_index = keep[~ignored]
        assert torch.equal(all_props[~ignored], sampled[k])
        pos = torch.where(labels[k] > 0)[0]
        if len(pos):
            mask_targets.append(project_masks_on_boxes(masks[k], sampled[k][pos], matched[k][pos], 28))
        tensors.update({
            f"gt_{k}": gts[k], f"gt_labels_{k}": targets[k]["labels"].to(torch.int32), f"masks_{k}": masks[k],
            f"sampled_index_{k}": sampled_index.to(torch.int32), f"rois_{k}": sampled[k],
            f"labels_{k}": labels[k].to(torch.int32), f"matched_{k}": matched[k].to(torch.int32),
            f"targets_{k}": reg[k], f"positive_index_{k}": sampled_index[pos].to(torch.int32),
        })
    tensors["mask_targets"] = torch.cat(mask_targets)
    write_fixture(os.path.join(OUT, "targets_roi.json"), tensors, {"counts": counts, "sizes": sizes, "p": p})


if __name__ == "__main__":
    torch.manual_seed(20240)
    iou_fixture()
    matcher_fixture()
    rpn_fixture()
    roi_fixture()
