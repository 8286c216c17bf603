"""Fixtures of the top-k and NMS ops: torch.topk indices and torchvision.ops.nms / batched_nms keep lists.

Run with Debian's interpreter (torch 1.13, torchvision 0.14):
    /usr/bin/python3 tools/reference/make_nms_fixtures.py
Writes tests/fixtures/ops/topk.json, nms.json and nms_batched.json.

Data are built so that the reference is unambiguous: scores have no exact ties, and no pair of boxes has an
IoU within MARGIN of a tested threshold (float32 rounding, on our side or in batched_nms' coordinate-offset
trick, can then not flip a suppression). The 2 x 182,400 top-k rows are too big to store: their scores come
from a closed-form permutation (`perm_scores`, mirrored in tests/ops/topk_test.ts) and only torch's result and
a sample of scores (to check the mirror) are stored.
"""
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")
THRESHOLDS = (0.5, 0.7)
MARGIN = 2e-3
IMAGE_W, IMAGE_H = 1216.0, 800.0


def perm_scores(row, length):
    """f32 scores of one row: a cycle-walking bijection of [0, length) scaled to about +-22 (exact in f32)."""
    m = 1 << max(1, (length - 1).bit_length())
    a1, c1, a2, c2 = 40503 + 2 * row, 12345 + 7919 * row, 69069, 2891 + 131 * row

    def step(x):
        x = (x * a1 + c1) % m
        x ^= x >> 9
        x = (x * a2 + c2) % m
        return x ^ (x >> 7)

    x = step(np.arange(length, dtype=np.int64))
    out = x >= length
    while out.any():
        x[out] = step(x[out])
        out = x >= length
    return ((x - length // 2) / 4096.0).astype(np.float32)


def unique_randn(gen, shape):
    while True:
        x = torch.randn(*shape, generator=gen)
        if all(len(torch.unique(r)) == r.numel() for r in x.reshape(-1, shape[-1])):
            return x


def topk_fixture():
    gen = torch.Generator().manual_seed(7)
    tensors, meta = {}, {}
    # Per-level segments of rows (RPN style), with and without a validity mask.
    levels = [5000, 1300, 331, 90, 20]
    k = 1000
    scores = unique_randn(gen, (2, sum(levels)))
    valid = (torch.rand(2, sum(levels), generator=gen) < 0.7)
    valid[:, -20:-8] = False  # the last level keeps fewer than 20 valid entries
    for name, mask in (("plain", None), ("masked", valid)):
        idx = torch.full((2, len(levels), k), -1, dtype=torch.int32)
        val = torch.full((2, len(levels), k), float("-inf"))
        cnt = torch.zeros((2, len(levels)), dtype=torch.int32)
        for b in range(2):
            off = 0
            for s, n in enumerate(levels):
                seg = scores[b, off:off + n].clone()
                if mask is not None:
                    seg[~mask[b, off:off + n]] = float("-inf")
                    nvalid = int(mask[b, off:off + n].sum())
                else:
                    nvalid = n
                kk = min(k, nvalid)
                v, i = seg.topk(min(k, n))
                idx[b, s, :kk] = (i[:kk] + off).int()
                val[b, s, :kk] = v[:kk]
                cnt[b, s] = kk
                off += n
        tensors[f"seg_{name}_indices"] = idx
        tensors[f"seg_{name}_values"] = val
        tensors[f"seg_{name}_counts"] = cnt
    tensors["seg_scores"] = scores
    tensors["seg_valid"] = valid.to(torch.uint8)
    meta["seg_levels"] = levels
    meta["seg_k"] = k
    # L < k: k clamps to L.
    short = unique_randn(gen, (2, 700))
    v, i = short.topk(700)
    tensors.update(short_scores=short, short_indices=i.int(), short_values=v)
    meta["short_k"] = 1000
    # Two rows of 182,400 (RPN level P2 at 800 x 1216), k = 1000, scores from perm_scores.
    big_len = 200 * 304 * 3
    big = torch.from_numpy(np.stack([perm_scores(b, big_len) for b in range(2)]))
    assert all(len(torch.unique(r)) == big_len for r in big)
    v, i = big.topk(1000)
    sample = torch.randint(0, big_len, (2, 256), generator=gen)
    tensors.update(big_indices=i.int(), big_values=v, big_sample_at=sample.int(),
                   big_sample=torch.gather(big, 1, sample))
    meta.update(big_len=big_len, big_k=1000)
    write_fixture(os.path.join(OUT, "topk.json"), tensors, meta)


def iou_matrix(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def random_boxes(rng, n):
    """Boxes in overlapping clusters around random centres, some crossing the image border."""
    clusters = max(1, n // 25)
    centres = rng.uniform([-40, -40], [IMAGE_W + 40, IMAGE_H + 40], size=(clusters, 2))
    sizes = rng.uniform(24, 220, size=(clusters, 2))
    c = rng.integers(0, clusters, size=n)
    ctr = centres[c] + rng.normal(0, 0.12, size=(n, 2)) * sizes[c]
    wh = sizes[c] * rng.uniform(0.75, 1.3, size=(n, 2))
    return np.concatenate([ctr - wh / 2, ctr + wh / 2], axis=1).astype(np.float32)


def separate(rng, boxes):
    """Re-draws boxes until no IoU lies within MARGIN of a tested threshold."""
    for _ in range(200):
        bad = set()
        for start in range(0, len(boxes), 1000):
            iou = iou_matrix(boxes[start:start + 1000], boxes)
            near = np.zeros_like(iou, dtype=bool)
            for t in THRESHOLDS:
                near |= np.abs(iou - t) < MARGIN
            rows, cols = np.nonzero(near)
            bad.update(int(max(r + start, c)) for r, c in zip(rows, cols) if r + start != c)
        if not bad:
            return boxes
        idx = np.array(sorted(bad))
        jitter = rng.normal(0, 3.0, size=(len(idx), 4)).astype(np.float32)
        boxes[idx] += jitter
        boxes[idx, 2:] = np.maximum(boxes[idx, 2:], boxes[idx, :2] + 4)
    raise RuntimeError("could not separate IoUs from the thresholds")


def unique_scores(rng, n):
    return (rng.permutation(n).astype(np.float64) / n * 0.9 + rng.uniform(0, 0.05, n) / n + 0.05).astype(
        np.float32)


def nms_fixture():
    rng = np.random.default_rng(11)
    tensors, meta = {}, {"sizes": [1, 37, 1000, 4000], "thresholds": list(THRESHOLDS)}
    for n in meta["sizes"]:
        boxes = separate(rng, random_boxes(rng, n))
        scores = unique_scores(rng, n)
        tensors[f"boxes_{n}"] = boxes
        tensors[f"scores_{n}"] = scores
        for t in THRESHOLDS:
            keep = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), t)
            tensors[f"keep_{n}_{int(t * 10)}"] = keep.int()
            meta[f"kept_{n}_{int(t * 10)}"] = int(keep.numel())
    # A validity mask and maxOut on the 1000-box set.
    valid = rng.uniform(size=1000) < 0.75
    sub = np.nonzero(valid)[0]
    keep = torchvision.ops.nms(torch.from_numpy(tensors["boxes_1000"][sub]),
                               torch.from_numpy(tensors["scores_1000"][sub]), 0.5)
    tensors["valid_1000"] = valid.astype(np.uint8)
    tensors["keep_1000_valid_5_max50"] = torch.from_numpy(sub)[keep][:50].int()
    write_fixture(os.path.join(OUT, "nms.json"), tensors, meta)


def batched_reference(boxes, scores, idxs, thr):
    keep = torchvision.ops.batched_nms(boxes, scores, idxs, thr)
    vanilla = torchvision.ops.boxes._batched_nms_vanilla(boxes, scores, idxs, thr)
    assert torch.equal(keep, vanilla), "coordinate trick and per-class NMS disagree"
    return keep


def batched_fixture():
    rng = np.random.default_rng(12)
    tensors, meta = {}, {"cases": []}
    for n, classes, thr in ((1000, 3, 0.5), (1000, 10, 0.7), (400, 7, 0.5)):
        boxes = separate(rng, random_boxes(rng, n))
        scores = unique_scores(rng, n)
        idxs = rng.integers(0, classes, size=n).astype(np.int32)
        keep = batched_reference(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs).long(),
                                 thr)
        name = f"{n}_{classes}"
        tensors.update({f"boxes_{name}": boxes, f"scores_{name}": scores, f"idxs_{name}": idxs,
                        f"keep_{name}": keep.int()})
        meta["cases"].append({"name": name, "classes": classes, "threshold": thr, "kept": int(keep.numel())})
    # Box-head layout per image: proposals x classes, labels = position % classes, validity from a score
    # threshold and a minimum size, two images of different lengths, detections capped at max_out.
    classes, proposals, max_out, thr = 6, [150, 110], 60, 0.5
    all_boxes, all_scores, all_valid, keeps, counts = [], [], [], [], []
    offset = 0
    for p in proposals:
        n = p * classes
        boxes = separate(rng, random_boxes(rng, n))
        scores = unique_scores(rng, n)
        idxs = np.arange(n) % classes
        wh = boxes[:, 2:] - boxes[:, :2]
        valid = (scores > 0.3) & (wh.min(axis=1) >= 30)
        sub = np.nonzero(valid)[0]
        keep = batched_reference(torch.from_numpy(boxes[sub]), torch.from_numpy(scores[sub]),
                                 torch.from_numpy(idxs[sub]).long(), thr)
        kept = sub[keep.numpy()][:max_out] + offset
        keeps.append(np.pad(kept, (0, max_out - len(kept)), constant_values=-1))
        counts.append(len(kept))
        all_boxes.append(boxes)
        all_scores.append(scores)
        all_valid.append(valid)
        offset += n
    tensors.update(head_boxes=np.concatenate(all_boxes), head_scores=np.concatenate(all_scores),
                   head_valid=np.concatenate(all_valid).astype(np.uint8),
                   head_keep=np.stack(keeps).astype(np.int32), head_counts=np.array(counts, dtype=np.int32))
    meta.update(head_classes=classes, head_proposals=proposals, head_max_out=max_out, head_threshold=thr)
    write_fixture(os.path.join(OUT, "nms_batched.json"), tensors, meta)


if __name__ == "__main__":
    torch.manual_seed(0)
    topk_fixture()
    nms_fixture()
    batched_fixture()
