"""Fixtures for model/transform.ts: torchvision 0.14 GeneralizedRCNNTransform in train mode on images with
targets (boxes with fractional coordinates and random 0/1 masks: `resize_boxes` and the masks' nearest
`interpolate`; the pixels are random and not stored, only their sizes matter), and `transform.postprocess` mapping boxes in resized-image pixels back to the originals.
Two batches of odd sizes: one upscaled, one downscaled with an image capped by max_size.

Run: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/make_transform_fixtures.py
"""
import os
import sys

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "model")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# name: (min_size, max_size, [(H, W, number of GT), ...])
CASES = {
    "upscale": (48, 80, [(37, 53, 3), (50, 41, 2)]),
    "downscale_capped": (50, 60, [(83, 102, 3), (61, 33, 1)]),
}
DETECTIONS_PER_IMAGE = 3


def random_boxes(n, h, w, gen):
    x = torch.rand(n, 2, generator=gen) * w
    y = torch.rand(n, 2, generator=gen) * h
    return torch.stack([x.min(1).values, y.min(1).values, x.max(1).values, y.max(1).values], 1)


def main():
    gen = torch.Generator().manual_seed(11)
    t = {}
    meta = {}
    for name, (min_size, max_size, sizes) in CASES.items():
        transform = GeneralizedRCNNTransform(min_size, max_size, MEAN, STD)  # train mode: targets resized
        images, targets = [], []
        for i, (h, w, n) in enumerate(sizes):
            raw = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, generator=gen)
            boxes = random_boxes(n, h, w, gen)
            labels = torch.randint(1, 5, (n,), dtype=torch.int64, generator=gen)
            masks = (torch.rand(n, h, w, generator=gen) < 0.5).to(torch.uint8)
            images.append(raw.permute(2, 0, 1).float() / 255)
            targets.append({"boxes": boxes.clone(), "labels": labels.clone(), "masks": masks.clone()})
            t[f"{name}_boxes{i}"] = boxes
            t[f"{name}_labels{i}"] = labels.to(torch.int32)
            t[f"{name}_masks{i}"] = masks
        with torch.no_grad():
            image_list, out_targets = transform(images, targets)
        for i, target in enumerate(out_targets):
            t[f"{name}_resized_boxes{i}"] = target["boxes"]
            t[f"{name}_resized_masks{i}"] = target["masks"]
        t[f"{name}_sizes"] = torch.tensor(image_list.image_sizes, dtype=torch.int32)
        t[f"{name}_original_sizes"] = torch.tensor([(h, w) for h, w, _ in sizes], dtype=torch.int32)
        # postprocess: detections in resized-image pixels back to the original sizes
        detections = [{"boxes": random_boxes(DETECTIONS_PER_IMAGE, h, w, gen)} for h, w in image_list.image_sizes]
        for i, d in enumerate(detections):
            t[f"{name}_detected{i}"] = d["boxes"].clone()
        transform.eval()  # postprocess returns the boxes unchanged in train mode
        back = transform.postprocess(detections, image_list.image_sizes, [(h, w) for h, w, _ in sizes])
        for i, d in enumerate(back):
            t[f"{name}_postprocessed{i}"] = d["boxes"]
        meta[name] = {"min_size": min_size, "max_size": max_size, "count": len(sizes)}
    write_fixture(os.path.join(OUT, "transform.json"), t, meta)


if __name__ == "__main__":
    main()
