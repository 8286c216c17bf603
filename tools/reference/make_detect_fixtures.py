"""Fixtures for the end-to-end inference parity tests (tests/model/detect_test.ts, tests/model/fpn_test.ts).

Usage (from the project root, Debian's interpreter):
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/make_detect_fixtures.py [--steps 300]

Writes
- tests/fixtures/model/small_trained.pth: the small Mask R-CNN (SMALL in model_reference.py) trained briefly
  on generated shapes so that its scores are confident (layer3/layer4 and the C4/C5 FPN laterals frozen at a
  coarse deterministic init so the file deflates to a few MB), saved as bfloat16 with torch.save(state_dict)
  and re-packed with deflate;
- tests/fixtures/model/small_detect.json: 8 held-out 128x128 shapes images, torchvision's detections on them
  at box_score_thresh 0.05 (boxes, scores, labels, bit-packed 0/1 masks at 0.5), and intermediate values of
  image 0 (FPN features NCHW, RPN proposals) for debugging;
- tests/fixtures/model/r50_fpn_features.json: FPN features of maskrcnn_resnet50_fpn with deterministic weights
  (model_reference.deterministic_state_dict) on a deterministic 320x427 image at min_size 320: every 31st
  element of each level (NCHW flat order) plus float64 sums.
"""
import argparse
import math
import zipfile
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402
from model_reference import R50, SMALL, build_maskrcnn, deterministic_state_dict, deterministic_uniform, make_shapes  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "model")


def is_frozen(name, numel):
    """The large tensors (layer3, layer4, the FPN laterals of C4/C5) stay at a coarse deterministic init so
    that the saved checkpoint deflates to a few MB (15 distinct values per tensor)."""
    return name.startswith(("backbone.body.layer3", "backbone.body.layer4", "backbone.fpn.inner_blocks.2",
                            "backbone.fpn.inner_blocks.3"))


def coarse_init(model):
    state = model.state_dict()
    for name, tensor in state.items():
        if is_frozen(name, tensor.numel()) and tensor.dim() > 1:
            fan_in = int(np.prod(tensor.shape[1:]))
            u = deterministic_uniform(name, tuple(tensor.shape), 1.0)
            state[name] = torch.round(u * 7) / 7 * math.sqrt(6.0 / fan_in) * (0.5 if "downsample" in name else 1.0)
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        if is_frozen(name, p.numel()):
            p.requires_grad_(False)


def train_small(steps, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_maskrcnn(SMALL, box_batch_size_per_image=128)
    coarse_init(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)
    t0 = time.time()
    for step in range(steps):
        images, targets = [], []
        for _ in range(4):
            image, labels, boxes, masks = make_shapes(rng, 128)
            images.append(torch.from_numpy(image).permute(2, 0, 1).float() / 255)
            targets.append({"boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels),
                            "masks": torch.from_numpy(masks)})
        warm = min(1.0, (step + 1) / 50)
        for g in opt.param_groups:
            g["lr"] = 0.02 * warm
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.3f} " + " ".join(f"{k}={v.item():.3f}" for k, v in losses.items())
                  + f" ({time.time() - t0:.0f}s)", flush=True)
    return model


def pack_bits(masks):
    return np.packbits(masks.astype(np.uint8).reshape(masks.shape[0], -1), axis=1, bitorder="little")


def repack(raw):
    """Re-packs torch's (stored) zip with deflate: our reader handles both, and the coarse tensors shrink."""
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(os.path.join(OUT, "small_trained.pth"), "w",
                                                      zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    os.remove(raw)


def noisy(image, rng):
    """+-3 levels of noise so that no two locations give exactly equal scores: the parity test compares on
    sets without exact ties (torchvision's tie order is an implementation detail of its sorts)."""
    return np.clip(image.astype(np.int16) + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)


def small_fixture(steps):
    if steps > 0:
        model = train_small(steps)
    else:  # --steps 0: reuse the trained checkpoint, regenerate the detection references only
        model = build_maskrcnn(SMALL)
        model.load_state_dict(torch.load(os.path.join(OUT, "small_trained.pth")))
    model.eval()
    # Saved as bfloat16 (half the bytes; the reader converts to f32 exactly) and the references below are
    # computed with those rounded weights loaded back, so the file is the whole truth.
    state = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    raw = os.path.join(OUT, "small_trained.raw.pth")
    if steps > 0:
        torch.save(state, raw)
        repack(raw)
    rng = np.random.default_rng(12345)
    images = np.stack([noisy(make_shapes(rng, 128)[0], rng) for _ in range(8)])
    tensors = {"images": images}
    counts = []
    with torch.no_grad():
        batch = [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]
        outputs = model(batch)
        for i, out in enumerate(outputs):
            n = out["boxes"].shape[0]
            counts.append(n)
            tensors[f"boxes_{i}"] = out["boxes"]
            tensors[f"scores_{i}"] = out["scores"]
            tensors[f"labels_{i}"] = out["labels"].to(torch.int32)

            tensors[f"mask_bits_{i}"] = pack_bits(out["masks"][:, 0].numpy() > 0.5)
        # Intermediates of image 0 for debugging stage by stage.
        image_list, _ = model.transform([batch[0]])
        features = model.backbone(image_list.tensors)
        for k, v in features.items():
            tensors[f"fpn_{k}"] = v[0]
        proposals, _ = model.rpn(image_list, features)
        tensors["proposals_0"] = proposals[0]
        tensors["transformed_0"] = image_list.tensors[0]
    print("detections per image:", counts)
    write_fixture(os.path.join(OUT, "small_detect.json"), tensors,
                  {"config": SMALL, "counts": counts, "box_score_thresh": 0.05,
                   "train_steps": steps})


def r50_fixture():
    torch.manual_seed(0)
    model = build_maskrcnn({**R50, "min_size": 320})
    model.load_state_dict(deterministic_state_dict(model))
    model.eval()
    h, w = 320, 427
    image = ((deterministic_uniform("image", (3, h, w), 1.0) + 1.0) / 2.0)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    image = (0.5 * image + 0.25 * (1 + torch.sin(xx / 17.0)) * (1 + torch.cos(yy / 23.0)) / 2).clamp(0, 1)
    image = (image * 255).round().to(torch.uint8)
    with torch.no_grad():
        image_list, _ = model.transform([image.float() / 255])
        features = model.backbone(image_list.tensors)
    tensors = {"image": image.permute(1, 2, 0).contiguous()}
    meta = {"config": {**R50, "min_size": 320}, "stride": 31, "padded_size": list(image_list.tensors.shape[-2:]),
            "levels": {}}
    for k, v in features.items():
        flat = v[0].reshape(-1).double()
        tensors[f"fpn_{k}_sample"] = flat[::31].float()
        meta["levels"][k] = {"shape": list(v[0].shape), "sum": flat.sum().item(), "abs_sum": flat.abs().sum().item()}
    write_fixture(os.path.join(OUT, "r50_fpn_features.json"), tensors, meta)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--only", choices=["small", "r50"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    if args.only != "r50":
        small_fixture(args.steps)
    if args.only != "small":
        r50_fixture()
