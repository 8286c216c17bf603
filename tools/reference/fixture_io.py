"""Writes test fixtures read by tests/_fixtures.ts: named tensors as base64 little-endian bytes.

Run generators with Debian's interpreter (/usr/bin/python3), which has torch 1.13 / torchvision 0.14.
"""
import base64
import json
import os

import numpy as np

_DTYPES = {np.float32: "f32", np.float64: "f64", np.int32: "i32", np.int64: "i64", np.uint8: "u8", np.bool_: "u8"}


def _encode(array):
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    dtype = _DTYPES.get(array.dtype.type)
    if dtype is None:
        raise TypeError(f"unsupported dtype {array.dtype}")
    return {"shape": list(array.shape), "dtype": dtype, "b64": base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode()}


def write_fixture(path, tensors, meta=None):
    """Writes {name: array} (numpy or torch) and a JSON-able meta dict to `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    payload = {"meta": meta or {}, "tensors": {k: _encode(v) for k, v in tensors.items()}}
    with open(path, "w") as f:
        json.dump(payload, f)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KiB)")
