"""The torchvision side of `deno task bench --only peer` (run with Debian's /usr/bin/python3: torch 1.13,
torchvision 0.14; OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(number of cores)).

Usage: /usr/bin/python3 tools/reference/bench_peer.py WORK.json

WORK.json is written by tools/bench/peer.ts and holds the very inputs the Deno side times, so both do the
same work: the images (uint8 RGB, base64), the training batches (images, boxes, labels, masks), the
configs (our field names) and the repeat counts. Weights on both sides come from
model_reference.deterministic_state_dict (tests/_det_weights.ts rebuilds the same tensors bit for bit).
Prints one JSON line with milliseconds per detect / train step, the work done (detections, sampled
anchors and RoIs) and the conv's GFLOP/s.
"""
import base64
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import R50, SMALL, build_maskrcnn, deterministic_state_dict  # noqa: E402


def decode_image(entry):
    raw = np.frombuffer(base64.b64decode(entry["data"]), np.uint8)
    image = raw.reshape(entry["height"], entry["width"], 3)
    return torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255


def decode_target(entry):
    n = len(entry["labels"])
    masks = np.frombuffer(base64.b64decode(entry["masks"]), np.uint8).reshape(n, entry["height"], entry["width"])
    return {
        "boxes": torch.tensor(entry["boxes"], dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(entry["labels"], dtype=torch.int64),
        "masks": torch.from_numpy(masks.copy()),
    }


def build(preset, cfg):
    """torchvision's Mask R-CNN of our preset with our sampling/detection knobs and deterministic weights."""
    base = SMALL if preset == "small" else R50
    arch = {**base, "min_size": cfg["minSize"], "max_size": cfg["maxSize"]}
    model = build_maskrcnn(
        arch,
        rpn_batch_size_per_image=cfg["rpnBatchSizePerImage"],
        rpn_pre_nms_top_n_train=cfg["rpnPreNmsTopNTrain"],
        rpn_post_nms_top_n_train=cfg["rpnPostNmsTopNTrain"],
        rpn_pre_nms_top_n_test=cfg["rpnPreNmsTopNTest"],
        rpn_post_nms_top_n_test=cfg["rpnPostNmsTopNTest"],
        box_batch_size_per_image=cfg["boxBatchSizePerImage"],
        box_detections_per_img=cfg["boxDetectionsPerImg"],
        box_score_thresh=cfg["boxScoreThresh"],
    )
    model.load_state_dict(deterministic_state_dict(model))
    # Our trainableBackboneLayers: the last N of layer4, layer3, layer2, layer1, conv1 train.
    trainable = ["layer4", "layer3", "layer2", "layer1", "conv1"][: cfg["trainableBackboneLayers"]]
    for name, p in model.backbone.body.named_parameters():
        if all(not name.startswith(layer) for layer in trainable):
            p.requires_grad_(False)
    return model


def time_detect(model, image, repeats):
    model.eval()
    with torch.no_grad():
        out = model([image])  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            out = model([image])
        ms = (time.perf_counter() - t0) * 1000 / repeats
    return ms, int(out[0]["boxes"].shape[0])


def time_train(model, batches, opt_cfg):
    """Warm-up on batches[0], then times one SGD step (forward, backward, update) per remaining batch."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=opt_cfg["lr"], momentum=opt_cfg["momentum"],
                          weight_decay=opt_cfg["weightDecay"])
    steps = []
    for i, (images, targets) in enumerate(batches):
        t0 = time.perf_counter()
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i > 0:
            steps.append((time.perf_counter() - t0) * 1000)
    # The work done: sampled anchors and RoIs of the last batch (fixed counts unless an image lacks them).
    rpn_sampler = model.rpn.fg_bg_sampler
    with torch.no_grad():
        images, targets = batches[-1]
        il, tl = model.transform(images, targets)
        features = model.backbone(il.tensors)
        anchors = model.rpn.anchor_generator(il, list(features.values()))
        labels, _ = model.rpn.assign_targets_to_anchors(anchors, tl)
        pos, neg = rpn_sampler(labels)
        anchors_sampled = sum(int((p | n).sum()) for p, n in zip(pos, neg)) / len(images)
        proposals, _ = model.rpn(il, features, tl)
        props, _, _, _ = model.roi_heads.select_training_samples(proposals, tl)
        rois_sampled = sum(int(p.shape[0]) for p in props) / len(images)
    return float(np.median(steps)), steps, anchors_sampled, rois_sampled


def time_conv(spec, repeats):
    conv = torch.nn.Conv2d(spec["cin"], spec["cout"], spec["k"], stride=spec["stride"], padding=spec["pad"])
    x = torch.rand(1, spec["cin"], spec["h"], spec["w"]) - 0.5
    with torch.no_grad():
        torch.relu(conv(x))
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.relu(conv(x))
        ms = (time.perf_counter() - t0) * 1000 / repeats
    ho = (spec["h"] + 2 * spec["pad"] - spec["k"]) // spec["stride"] + 1
    wo = (spec["w"] + 2 * spec["pad"] - spec["k"]) // spec["stride"] + 1
    flops = 2 * ho * wo * spec["cout"] * spec["k"] ** 2 * spec["cin"]
    return ms, flops / ms / 1e6


def matmul_gflops():
    """torch's rate on fc6's shape (1000 × 3136 → 128): Debian's torch takes its BLAS from libblas.so.3, which is
    the unoptimised reference BLAS (~2 GFLOP/s) unless libopenblas0 provides it (~70 GFLOP/s on one Zen 3 core)."""
    a, w, b = torch.randn(1000, 3136), torch.randn(128, 3136), torch.randn(128)
    torch.addmm(b, a, w.t())
    t0 = time.perf_counter()
    for _ in range(3):
        torch.addmm(b, a, w.t())
    return 2 * 1000 * 3136 * 128 * 3 / (time.perf_counter() - t0) / 1e9


def main():
    with open(sys.argv[1]) as f:
        work = json.load(f)
    threads = int(work.get("threads") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {"torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
           "torch_threads": threads}
    out["torch_matmul_gflops"] = matmul_gflops()
    if "small" in work:
        s = work["small"]
        model = build("small", s["config"])
        out["detect_small_ms"], out["detect_small_detections"] = time_detect(
            model, decode_image(s["detectImage"]), s["detectRepeats"])
        batches = [([decode_image(x["image"]) for x in b], [decode_target(x) for x in b]) for b in s["trainBatches"]]
        median, steps, anchors, rois = time_train(model, batches, s["optimizer"])
        out["train_small_step_ms"] = median
        out["train_small_steps_ms"] = steps
        out["train_small_anchors_sampled"] = anchors
        out["train_small_rois_sampled"] = rois
    if "r50" in work:
        r = work["r50"]
        model = build("maskrcnn_resnet50_fpn", r["config"])
        out["detect_r50_ms"], out["detect_r50_detections"] = time_detect(
            model, decode_image(r["detectImage"]), r["detectRepeats"])
    if "conv" in work:
        out["conv_ms"], out["conv_gflops"] = time_conv(work["conv"], work["conv"]["repeats"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
