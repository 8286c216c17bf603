"""Shared pieces of the model fixture generators (run with Debian's /usr/bin/python3: torch 1.13, torchvision 0.14).

- build_maskrcnn(config): torchvision's MaskRCNN built from the same architecture choices as our config
  (ResNet bottleneck blocks and width, FPN channels, TwoMLPHead size, mask head layers, predictor channels).
- deterministic_uniform(name, shape, bound): weights that tests/_det_weights.ts rebuilds bit-for-bit from the
  tensor name alone, so a full-size R50-FPN can be compared without committing 170 MB of weights.
- make_shapes(rng, size): a generated shapes image (squares, circles, triangles) with exact masks.
"""
import math

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import TwoMLPHead, FastRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.misc import FrozenBatchNorm2d

SMALL = dict(num_classes=4, blocks=[1, 1, 1, 1], width_per_group=16, fpn_channels=64, box_head_dim=128,
             mask_head_layers=[64, 64], mask_predictor_channels=64, min_size=128, max_size=128)
R50 = dict(num_classes=91, blocks=[3, 4, 6, 3], width_per_group=64, fpn_channels=256, box_head_dim=1024,
           mask_head_layers=[256, 256, 256, 256], mask_predictor_channels=256, min_size=800, max_size=1333)


def build_maskrcnn(cfg, **kwargs):
    """torchvision's MaskRCNN with our architecture knobs (FrozenBatchNorm2d everywhere, like the presets)."""
    body = ResNet(Bottleneck, cfg["blocks"], width_per_group=cfg["width_per_group"], norm_layer=FrozenBatchNorm2d)
    in_channels_list = [256, 512, 1024, 2048]
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               in_channels_list, cfg["fpn_channels"])
    c = cfg["fpn_channels"]
    box_head = TwoMLPHead(c * 7 * 7, cfg["box_head_dim"])
    box_predictor = FastRCNNPredictor(cfg["box_head_dim"], cfg["num_classes"])
    mask_head = MaskRCNNHeads(c, cfg["mask_head_layers"], 1)
    mask_predictor = MaskRCNNPredictor(cfg["mask_head_layers"][-1], cfg["mask_predictor_channels"], cfg["num_classes"])
    return MaskRCNN(backbone, num_classes=None, min_size=cfg["min_size"], max_size=cfg["max_size"],
                    box_head=box_head, box_predictor=box_predictor, mask_head=mask_head,
                    mask_predictor=mask_predictor, **kwargs)


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def _lowbias32(x):
    x = x.copy()
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def deterministic_uniform(name, shape, bound):
    """float32 values in [-bound, bound): w[i] = f32((2 u_i - 1) * bound), u_i = lowbias32(i*0x9E3779B1 + fnv1a(name)) / 2^32."""
    n = int(np.prod(shape)) if len(shape) else 1
    with np.errstate(over="ignore"):
        keys = np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1) + np.uint32(fnv1a32(name))
        u = _lowbias32(keys).astype(np.float64) / 4294967296.0
    return torch.from_numpy(((2.0 * u - 1.0) * bound).astype(np.float32).reshape(shape))


def deterministic_state_dict(model):
    """Fills every parameter and buffer of `model` by name (see tests/_det_weights.ts for the same rule)."""
    state = {}
    for name, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if name.endswith("running_var"):
            value = 1.0 + 0.5 * (deterministic_uniform(name, shape, 1.0) + 1.0) / 2.0  # in [1, 1.5)
        elif name.endswith("running_mean") or (name.endswith(".bias")):
            value = deterministic_uniform(name, shape, 0.1)
        elif tensor.dim() == 1:  # batch-norm weights
            value = 1.0 + deterministic_uniform(name, shape, 0.1)
        else:
            fan_in = int(np.prod(shape[1:]))
            gain = 0.25 if ".conv3." in name or "downsample" in name else 1.0
            value = deterministic_uniform(name, shape, gain * math.sqrt(6.0 / fan_in))
        state[name] = value.to(tensor.dtype)
    return state


def make_shapes(rng, size, max_instances=3):
    """A shapes image (HxWx3 uint8) with labels (1 square, 2 circle, 3 triangle), boxes and exact masks."""
    bg = rng.integers(0, 256, 3)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = bg
    yy, xx = np.mgrid[0:size, 0:size]
    masks, labels = [], []
    for _ in range(rng.integers(1, max_instances + 1)):
        label = int(rng.integers(1, 4))
        s = int(rng.integers(size // 10, size // 4))
        cx, cy = (int(v) for v in rng.integers(s, size - s, 2))
        if label == 1:
            m = (abs(xx - cx) <= s) & (abs(yy - cy) <= s)
        elif label == 2:
            m = (xx - cx) ** 2 + (yy - cy) ** 2 <= s * s
        else:
            m = (yy >= cy - s) & (yy <= cy + s) & (abs(xx - cx) * 2 <= (yy - (cy - s)))
        color = rng.integers(0, 256, 3)
        while np.abs(color.astype(int) - bg.astype(int)).sum() < 120:
            color = rng.integers(0, 256, 3)
        for earlier in masks:
            earlier &= ~m
        image[m] = color
        masks.append(m)
        labels.append(label)
    keep = [i for i, m in enumerate(masks) if m.sum() >= 20]
    masks = [masks[i] for i in keep]
    labels = [labels[i] for i in keep]
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return image, np.array(labels, np.int64), np.array(boxes, np.float32).reshape(-1, 4), np.array(masks, np.uint8)
