"""Writes tests/fixtures/model/small_init.json: per-tensor statistics of torchvision 0.14's from-scratch
initialisation of the "small" Mask R-CNN, for tests/model/init_test.ts.

Run with Debian's interpreter (torch 1.13, torchvision 0.14), from the repository root:

    /usr/bin/python3 tools/reference/make_init_fixtures.py

The model is `build_maskrcnn(SMALL)` from model_reference.py built right after `torch.manual_seed(SEED)`, so
every parameter and buffer holds what torchvision's module initialisers put there (ResNet's
kaiming_normal_ fan_out, FrozenBatchNorm2d's constant buffers, FPN's kaiming_uniform_(a=1), RPNHead's
normal(0.01), nn.Linear defaults in TwoMLPHead / FastRCNNPredictor, MaskRCNNHeads' and MaskRCNNPredictor's
kaiming_normal_ and the predictor's default conv biases). Exact values cannot be compared (different RNG), so
the fixture keeps per tensor, in float64 over the f32 values:
  stats[i] = [numel, mean, std (population), min, max, kurtosis m4 / m2^2 (0 for constants), is_constant]
with meta.names[i] the tensor's name (torchvision 0.14 state_dict order) and meta.shapes[i] its shape.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_fixture  # noqa: E402
from model_reference import SMALL, build_maskrcnn  # noqa: E402

SEED = 20240601
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "model", "small_init.json")


def stats(tensor):
    x = tensor.detach().double().numpy().reshape(-1)
    n = x.size
    mean = x.mean()
    centred = x - mean
    m2 = (centred ** 2).mean()
    m4 = (centred ** 4).mean()
    constant = bool(x.min() == x.max())
    kurtosis = 0.0 if constant else m4 / (m2 * m2)
    return [n, mean, np.sqrt(m2), x.min(), x.max(), kurtosis, 1.0 if constant else 0.0]


def main():
    torch.manual_seed(SEED)
    model = build_maskrcnn(SMALL)
    state = model.state_dict()
    names = [k for k in state if not k.endswith("num_batches_tracked")]
    table = np.array([stats(state[k]) for k in names], dtype=np.float64)
    write_fixture(
        OUT,
        {"stats": table},
        {
            "seed": SEED,
            "names": names,
            "shapes": [list(state[k].shape) for k in names],
            "columns": ["numel", "mean", "std", "min", "max", "kurtosis", "is_constant"],
            "torch": torch.__version__,
        },
    )
    random = int((table[:, 6] == 0).sum())
    print(f"{len(names)} tensors, {random} random, {len(names) - random} constant")


if __name__ == "__main__":
    main()
