"""Fixtures for ops/optimizer.ts and model/lr_schedule.ts: torch.optim.SGD / AdamW steps (with and without
clip_grad_norm_), a folded-batch-norm (column-scaled) case, and LinearLR + MultiStepLR learning rates.

Run with Debian's interpreter: /usr/bin/python3 tools/reference/make_optimizer_fixtures.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ops")
STEPS = 3
# (name, shape, zero-padded trailing columns)
SHAPES = [("packed", (37, 20), 2), ("odd", (53,), 0), ("kernel", (3, 5, 7), 0), ("wide", (9, 16), 0)]


def random_params(gen):
    params, grads = [], []
    for _, shape, pad in SHAPES:
        p = torch.rand(shape, generator=gen) * 2 - 1
        gs = [(torch.rand(shape, generator=gen) * 2 - 1) * 3 for _ in range(STEPS)]
        if pad:
            p[..., -pad:] = 0
            for g in gs:
                g[..., -pad:] = 0
        params.append(p)
        grads.append(gs)
    return params, grads


def lr_at(base, step):
    return base * (1 + 0.25 * step)  # the learning rate changes every step


def run(kind, clip, seed):
    gen = torch.Generator().manual_seed(seed)
    params, grads = random_params(gen)
    tensors = {}
    for (name, _, _), p in zip(SHAPES, params):
        tensors[f"{name}.param0"] = p.clone()
    leaves = [torch.nn.Parameter(p.clone()) for p in params]
    base = 0.02 if kind == "sgd" else 1e-3
    if kind == "sgd":
        opt = torch.optim.SGD(leaves, lr=base, momentum=0.9, weight_decay=1e-4)
    else:
        opt = torch.optim.AdamW(leaves, lr=base, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    norms = []
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lr_at(base, step)
        for (name, _, _), leaf, gs in zip(SHAPES, leaves, grads):
            leaf.grad = gs[step].clone()
            tensors[f"{name}.grad{step}"] = gs[step]
        if clip:
            norms.append(float(torch.nn.utils.clip_grad_norm_(leaves, clip)))
        opt.step()
    for (name, _, _), leaf in zip(SHAPES, leaves):
        tensors[f"{name}.param"] = leaf.detach()
        state = opt.state[leaf]
        keys = ["momentum_buffer"] if kind == "sgd" else ["exp_avg", "exp_avg_sq"]
        for k in keys:
            tensors[f"{name}.{k}"] = state[k]
    meta = {"kind": kind, "steps": STEPS, "base_lr": base, "lr_growth": 0.25, "clip": clip,
            "norms": norms, "names": [s[0] for s in SHAPES], "pads": [s[2] for s in SHAPES]}
    if kind == "sgd":
        meta.update(momentum=0.9, weight_decay=1e-4)
    else:
        meta.update(betas=[0.9, 0.999], eps=1e-8, weight_decay=1e-2)
    return tensors, meta


def run_scaled(kind, seed):
    """A packed conv weight [K, cols] stored as W' = W·s (folded BN): torch optimises W itself."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.rand((27, 12), generator=gen) * 2 - 1
    s = torch.rand((12,), generator=gen) * 1.5 + 0.25
    gs = [(torch.rand((27, 12), generator=gen) * 2 - 1) for _ in range(STEPS)]
    leaf = torch.nn.Parameter(w.clone())
    if kind == "sgd":
        opt = torch.optim.SGD([leaf], lr=0.05, momentum=0.9, weight_decay=1e-3)
    else:
        opt = torch.optim.AdamW([leaf], lr=0.01, weight_decay=0.05)
    norms = []
    for step in range(STEPS):
        leaf.grad = gs[step].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_([leaf], 9.0)))
        opt.step()
    tensors = {"w0": w, "scale": s, "param": leaf.detach()}
    for i, g in enumerate(gs):
        tensors[f"grad{i}"] = g
    for k, v in opt.state[leaf].items():
        if k != "step":
            tensors[k] = v
    meta = {"kind": kind, "steps": STEPS, "clip": 9.0, "norms": norms, "lr": opt.param_groups[0]["lr"],
            "weight_decay": opt.param_groups[0]["weight_decay"]}
    if kind == "sgd":
        meta["momentum"] = 0.9
    return tensors, meta


def lr_schedule_cases():
    cases = [
        dict(base=0.02, warmup_iters=50, warmup_factor=0.001, milestones=[80, 120], gamma=0.1, iters=150),
        dict(base=0.01, warmup_iters=10, warmup_factor=1 / 3, milestones=[5, 30, 31], gamma=0.5, iters=40),
        dict(base=0.1, warmup_iters=1, warmup_factor=0.5, milestones=[], gamma=0.1, iters=5),
    ]
    for c in cases:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=c["base"])
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=c["warmup_factor"], total_iters=c["warmup_iters"])
        steps = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=c["milestones"], gamma=c["gamma"])
        sched = torch.optim.lr_scheduler.ChainedScheduler([warm, steps])
        lrs = []
        for _ in range(c["iters"]):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        c["lrs"] = lrs
    return cases


def trainable_names():
    """named_parameters() that require grad for the small preset, trainable_backbone_layers 3 and 5
    (the freezing of torchvision's _resnet_fpn_extractor)."""
    from model_reference import SMALL, build_maskrcnn
    out = {}
    for trainable in (3, 5):
        model = build_maskrcnn(SMALL)
        layers = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable]
        for name, p in model.backbone.body.named_parameters():
            if all(not name.startswith(layer) for layer in layers):
                p.requires_grad_(False)
        out[str(trainable)] = [[n, list(p.shape)] for n, p in model.named_parameters() if p.requires_grad]
    return out


def main():
    for kind in ("sgd", "adamw"):
        for clip, tag, seed in ((None, "", 1), (1.0, "_clip", 2)):
            tensors, meta = run(kind, clip, seed)
            write_fixture(os.path.join(OUT, f"optimizer_{kind}{tag}.json"), tensors, meta)
        tensors, meta = run_scaled(kind, 3)
        write_fixture(os.path.join(OUT, f"optimizer_{kind}_scaled.json"), tensors, meta)
    write_fixture(os.path.join(OUT, "optimizer_lr_schedule.json"), {}, {"cases": lr_schedule_cases()})
    write_fixture(os.path.join(OUT, "optimizer_trainable.json"), {}, {"small": trainable_names()})


if __name__ == "__main__":
    main()
