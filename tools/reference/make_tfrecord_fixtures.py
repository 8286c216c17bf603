#!/usr/bin/env python3
"""Writes the TFRecord fixtures of tests/data/tfod_dataset_test.ts with an independent writer.

TensorFlow is not needed: protobuf bytes, CRC-32C (with TensorFlow's mask) and PNG files are all
written by hand here (PNG via zlib), so the TypeScript reader is checked against code that shares nothing
with it.

Outputs (in tests/fixtures/data/):
  tfod_small.tfrecord       3 tf.train.Example records:
                              0: PNG masks, packed lists
                              1: dense float masks (num_boxes x H x W), unpacked float and int64 lists
                              2: no objects
  tfod_small_expected.json  the decoded values each record must read back as
  codec_*.jpg / codec_*.png  small images for tests/data/image_codec_test.ts: JPEGs written and decoded
                            by Pillow (only when Pillow is importable), PNGs in greyscale, grey+alpha and
                            RGBA written by hand, with the pixel values in codec_expected.json
  torch_resize.json         (only when torch is importable) PyTorch's F.interpolate bilinear
                            (align_corners=False) and nearest outputs, and torchvision's min/max resize
                            sizes, for tests/data/transforms_resize_test.ts

Run:  /usr/bin/python3 tools/reference/make_tfrecord_fixtures.py
"""
import json
import os
import struct
import zlib

import numpy as np

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "data")


# ---------- CRC-32C (bitwise, Castagnoli, reflected poly 0x82F63B78) ----------
def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def tfrecord(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


# ---------- protobuf by hand ----------
def varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def bytes_feature(values):
    return ld(1, b"".join(ld(1, v) for v in values))


def float_feature(values, packed=True):
    if packed:
        body = ld(1, b"".join(struct.pack("<f", v) for v in values)) if values else b""
    else:
        body = b"".join(tag(1, 5) + struct.pack("<f", v) for v in values)
    return ld(2, body)


def int64_feature(values, packed=True):
    if packed:
        body = ld(1, b"".join(varint(v) for v in values)) if values else b""
    else:
        body = b"".join(tag(1, 0) + varint(v) for v in values)
    return ld(3, body)


def example(features: dict) -> bytes:
    entries = b"".join(ld(1, ld(1, k.encode()) + ld(2, v)) for k, v in features.items())
    return ld(1, entries)


# ---------- PNG by hand ----------
def png(pixels: np.ndarray) -> bytes:
    """pixels: uint8 H x W (greyscale) or H x W x C with C = 2 (grey+alpha), 3 (RGB) or 4 (RGBA)."""
    h, w = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else {2: 4, 3: 2, 4: 6}[pixels.shape[2]]
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def f32(values):
    return [float(np.float32(v)) for v in values]


def record_with_objects(rng, name, w, h, boxes_px, labels, texts, dense):
    image = rng.randint(0, 256, size=(h, w, 3), dtype=np.uint8)
    masks = np.zeros((len(labels), h, w), dtype=np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes_px):
        masks[k, y1:y2, x1:x2] = 1
        masks[k, y1, x1] = 0  # not a plain rectangle
    xmin = f32([b[0] / w for b in boxes_px])
    ymin = f32([b[1] / h for b in boxes_px])
    xmax = f32([b[2] / w for b in boxes_px])
    ymax = f32([b[3] / h for b in boxes_px])
    feats = {
        "image/encoded": bytes_feature([png(image)]),
        "image/format": bytes_feature([b"png"]),
        "image/filename": bytes_feature([name.encode()]),
        "image/source_id": bytes_feature([name.encode()]),
        "image/height": int64_feature([h], packed=not dense),
        "image/width": int64_feature([w], packed=not dense),
        "image/object/bbox/xmin": float_feature(xmin, packed=not dense),
        "image/object/bbox/ymin": float_feature(ymin, packed=not dense),
        "image/object/bbox/xmax": float_feature(xmax, packed=not dense),
        "image/object/bbox/ymax": float_feature(ymax, packed=not dense),
        "image/object/class/label": int64_feature(labels, packed=not dense),
        "image/object/class/text": bytes_feature([t.encode() for t in texts]),
        "test/negative": int64_feature([-3, 1 << 40], packed=not dense),
    }
    if dense:
        feats["image/object/mask"] = float_feature([float(v) for v in masks.reshape(-1)], packed=False)
    else:
        feats["image/object/mask"] = bytes_feature([png(m) for m in masks])
    expected = {
        "filename": name,
        "width": w,
        "height": h,
        "image": image.reshape(-1).tolist(),
        # Boxes as the reader must compute them: float32 normalised coordinate times the pixel size.
        "boxes": [[xmin[k] * w, ymin[k] * h, xmax[k] * w, ymax[k] * h] for k in range(len(labels))],
        "labels": labels,
        "masks": masks.reshape(-1).tolist(),
        "mask_kind": "dense" if dense else "png",
        "negative": [-3, 1 << 40],
        "texts": texts,
    }
    return example(feats), expected


def main():
    rng = np.random.RandomState(20240607)
    records, expected = [], []
    r, e = record_with_objects(rng, "png_masks", 9, 6, [(1, 1, 5, 4), (4, 2, 9, 6)], [1, 3], ["cat", "dog"], False)
    records.append(r)
    expected.append(e)
    r, e = record_with_objects(rng, "dense_masks", 7, 5, [(0, 0, 3, 5), (2, 1, 7, 3), (5, 3, 7, 5)], [2, 1, 2],
                               ["b", "a", "b"], True)
    records.append(r)
    expected.append(e)
    empty_image = rng.randint(0, 256, size=(4, 3, 3), dtype=np.uint8)
    records.append(example({
        "image/encoded": bytes_feature([png(empty_image)]),
        "image/filename": bytes_feature([b"empty"]),
        "image/height": int64_feature([4]),
        "image/width": int64_feature([3]),
        "image/object/bbox/xmin": float_feature([]),
        "image/object/class/label": int64_feature([]),
    }))
    expected.append({"filename": "empty", "width": 3, "height": 4, "image": empty_image.reshape(-1).tolist(),
                     "boxes": [], "labels": [], "masks": [], "mask_kind": "none", "texts": []})
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "tfod_small.tfrecord"), "wb") as f:
        for rec in records:
            f.write(tfrecord(rec))
    with open(os.path.join(OUT_DIR, "tfod_small_expected.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_tfrecord_fixtures.py", "records": expected}, f)
        f.write("\n")


def write_codec_fixture():
    """Images in the formats decodeImage must handle, and the RGB values it must return."""
    rng = np.random.RandomState(11)
    expected = {}
    grey = rng.randint(0, 256, size=(5, 6), dtype=np.uint8)
    grey_alpha = rng.randint(0, 256, size=(5, 6, 2), dtype=np.uint8)
    rgba = rng.randint(0, 256, size=(5, 6, 4), dtype=np.uint8)
    for name, pixels, rgb in [("grey", grey, np.stack([grey] * 3, -1)),
                              ("grey_alpha", grey_alpha, np.stack([grey_alpha[..., 0]] * 3, -1)),
                              ("rgba", rgba, rgba[..., :3])]:
        with open(os.path.join(OUT_DIR, "codec_%s.png" % name), "wb") as f:
            f.write(png(pixels))
        expected["codec_%s.png" % name] = {"width": 6, "height": 5, "rgb": rgb.reshape(-1).tolist(), "tolerance": 0}
    try:
        from PIL import Image
    except ImportError:
        print("Pillow not available: JPEG codec fixtures not rewritten")
    else:
        yy, xx = np.mgrid[0:16, 0:24]
        smooth = np.stack([xx * 10, yy * 15, 255 - xx * 5 - yy * 5], -1).astype(np.uint8)
        for name, image in [("rgb", Image.fromarray(smooth, "RGB")), ("grey", Image.fromarray(smooth[..., 0], "L"))]:
            path = os.path.join(OUT_DIR, "codec_%s.jpg" % name)
            image.save(path, quality=95)
            decoded = np.asarray(Image.open(path).convert("RGB"))
            # Different IDCT implementations may differ by a few levels.
            expected["codec_%s.jpg" % name] = {"width": 24, "height": 16, "rgb": decoded.reshape(-1).tolist(),
                                               "tolerance": 4}
    with open(os.path.join(OUT_DIR, "codec_expected.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_tfrecord_fixtures.py", "images": expected}, f)
        f.write("\n")


def write_resize_fixture():
    """PyTorch reference outputs for the resize transforms (skipped when torch is missing)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("torch not available: torch_resize.json not rewritten")
        return
    rng = np.random.RandomState(7)
    bilinear = []
    for (h, w), (oh, ow) in [((5, 7), (3, 4)), ((5, 7), (11, 16)), ((4, 6), (4, 9)), ((6, 3), (13, 2))]:
        x = rng.uniform(0, 255, size=(h, w, 3)).astype(np.float32)
        t = torch.from_numpy(x).permute(2, 0, 1)[None]
        y = F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
        bilinear.append({"in_h": h, "in_w": w, "out_h": oh, "out_w": ow, "input": x.reshape(-1).tolist(),
                         "output": y.numpy().reshape(-1).tolist()})
    nearest = []
    for (h, w), (oh, ow) in [((5, 7), (3, 4)), ((5, 7), (11, 16)), ((7, 5), (13, 9)), ((3, 3), (6, 6))]:
        m = (rng.uniform(size=(h, w)) > 0.5).astype(np.uint8)
        y = F.interpolate(torch.from_numpy(m)[None, None].float(), size=(oh, ow))[0, 0].byte()
        nearest.append({"in_h": h, "in_w": w, "out_h": oh, "out_w": ow, "input": m.reshape(-1).tolist(),
                        "output": y.numpy().reshape(-1).tolist()})
    sizes = []
    for h, w, min_size, max_size in [(480, 640, 800, 1333), (427, 640, 800, 1333), (500, 333, 800, 1333),
                                      (1000, 300, 800, 1333), (128, 128, 256, 256), (375, 500, 600, 1000)]:
        # torchvision.models.detection.transform._resize_image_and_masks
        im_shape = torch.tensor([h, w])
        scale = torch.min(min_size / torch.min(im_shape).to(torch.float32),
                          max_size / torch.max(im_shape).to(torch.float32)).item()
        image = torch.zeros(1, 3, h, w)
        out = F.interpolate(image, scale_factor=scale, mode="bilinear", recompute_scale_factor=True,
                            align_corners=False)
        sizes.append({"h": h, "w": w, "min_size": min_size, "max_size": max_size, "scale": scale,
                      "out_h": out.shape[2], "out_w": out.shape[3]})
    with open(os.path.join(OUT_DIR, "torch_resize.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_tfrecord_fixtures.py (torch %s)" % torch.__version__,
                   "bilinear": bilinear, "nearest": nearest, "min_max_sizes": sizes}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
    write_codec_fixture()
    write_resize_fixture()
