"""Fixture for the end-to-end training parity test (tests/model/train_step_test.ts).

Usage (from the project root, after make_detect_fixtures.py wrote small_trained.pth):
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/make_train_fixtures.py

The small Mask R-CNN with the weights of tests/fixtures/model/small_trained.pth, in train mode with
trainable_backbone_layers = 5 (the stem and every stage train), sampling made deterministic by
batch sizes larger than every candidate set with positive fraction 1.0 (so torchvision samples everything),
one batch of 2 shapes images of different sizes (128x128 and 96x128: no resize at min/max size 128, padded
to 128x128). Writes tests/fixtures/model/small_train_step.json: the images and targets, the five losses,
and for every parameter its gradient's float64 sum, sum of squares and every 53rd element.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402
from model_reference import SMALL, build_maskrcnn, make_shapes  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "model")
SAMPLE_STRIDE = 53


def main():
    torch.manual_seed(0)
    model = build_maskrcnn(SMALL, rpn_batch_size_per_image=10_000_000, rpn_positive_fraction=1.0,
                           box_batch_size_per_image=10_000_000, box_positive_fraction=1.0)
    state = torch.load(os.path.join(OUT, "small_trained.pth"))
    model.load_state_dict(state)
    # trainable_backbone_layers = 5: every ResNet stage and the stem train (FrozenBatchNorm2d has no
    # parameters), so the parity test covers the whole backward.
    model.train()
    rng = np.random.default_rng(777)
    images, targets = [], []
    for height in (128, 96):
        image, labels, boxes, masks = make_shapes(rng, 128, max_instances=3)
        image, masks = image[:height], masks[:, :height]
        # +-3 levels of noise: no exact score ties (torchvision's tie order is an implementation detail)
        image = np.clip(image.astype(np.int16) + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)
        keep = masks.reshape(masks.shape[0], -1).sum(1) >= 20
        masks, labels = masks[keep], labels[keep]
        boxes = np.array([[m.nonzero()[1].min(), m.nonzero()[0].min(), m.nonzero()[1].max() + 1,
                           m.nonzero()[0].max() + 1] for m in masks], np.float32).reshape(-1, 4)
        images.append(image)
        targets.append({"boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels),
                        "masks": torch.from_numpy(masks)})
    batch = [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]
    losses = model(batch, targets)
    total = sum(losses.values())
    total.backward()
    tensors = {}
    for i, (im, t) in enumerate(zip(images, targets)):
        tensors[f"image_{i}"] = im
        tensors[f"boxes_{i}"] = t["boxes"]
        tensors[f"labels_{i}"] = t["labels"].to(torch.int32)
        tensors[f"masks_{i}"] = t["masks"]
    grads = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g = p.grad.detach().double().reshape(-1)
        tensors[f"grad_sample:{name}"] = g[::SAMPLE_STRIDE].float()
        grads[name] = {"shape": list(p.shape), "sum": g.sum().item(), "sumsq": (g * g).sum().item(),
                       "abs_max": g.abs().max().item()}
    meta = {"losses": {k: v.item() for k, v in losses.items()}, "grads": grads, "sample_stride": SAMPLE_STRIDE,
            "config": {**SMALL, "rpn_batch_size_per_image": 10_000_000, "rpn_positive_fraction": 1.0,
                       "box_batch_size_per_image": 10_000_000, "box_positive_fraction": 1.0,
                       "trainable_backbone_layers": 5}}
    print("losses", meta["losses"])
    write_fixture(os.path.join(OUT, "small_train_step.json"), tensors, meta)


if __name__ == "__main__":
    main()
