#!/usr/bin/python3
"""Writes the COCO mask/evaluation parity fixtures in tests/fixtures/coco/ from real pycocotools.

Usage:
    /usr/bin/python3 tools/reference/make_coco_fixtures.py /tmp/cocoapi/PythonAPI [out_dir]

The first argument is a folder holding a built `pycocotools` package (build it from
github.com/cocodataset/cocoapi with `python3 setup.py build_ext --inplace` in PythonAPI/, outside this
project; its code is never committed here). Everything is generated from fixed seeds, so rerunning gives
the same files.

Two pycocotools incompatibilities with current Python/NumPy are bridged here without touching its code:
`coco.py` imports matplotlib only for drawing (stubbed if missing), and `cocoeval.py` uses the removed
alias `np.float` (restored as the builtin `float`, which it always meant).

Files written:
  rle.json        masks (row-major '0'/'1' strings) with encode strings, areas, boxes, merges, IoU
                  matrices, box IoUs, polygon rasterisations and long uncompressed count lists.
  eval_gt.json    a COCO instances file: several hundred images, polygons / RLE / uncompressed RLE, crowds.
  eval_results.json  detections in COCO results format (bbox + compressed-RLE segmentation + score).
  eval_expected.json pycocotools' 12 stats, per-category numbers and printed summary for several runs.
"""
import contextlib
import io
import json
import os
import sys
import types

import numpy as np


def import_pycocotools(path):
    if "matplotlib" not in sys.modules:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            mpl = types.ModuleType("matplotlib")
            mpl.pyplot = types.ModuleType("matplotlib.pyplot")
            mpl.collections = types.ModuleType("matplotlib.collections")
            mpl.collections.PatchCollection = object
            mpl.patches = types.ModuleType("matplotlib.patches")
            mpl.patches.Polygon = object
            for name, mod in [("matplotlib", mpl), ("matplotlib.pyplot", mpl.pyplot),
                              ("matplotlib.collections", mpl.collections),
                              ("matplotlib.patches", mpl.patches)]:
                sys.modules[name] = mod
    if not hasattr(np, "float") or "float" not in np.__dict__:
        np.float = float
    sys.path.insert(0, path)
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    return mask_utils, COCO, COCOeval


def to_str(counts):
    return counts.decode("ascii") if isinstance(counts, bytes) else counts


def rle_json(rle):
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": to_str(rle["counts"])}


def mask_bits(mask):
    """Row-major '0'/'1' string of a 2-D mask."""
    return "".join("1" if v else "0" for v in mask.reshape(-1))


def uncompressed_counts(mask):
    """Column-major run lengths computed with numpy, independent of maskApi."""
    flat = mask.reshape(-1, order="F").astype(np.int64)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    if flat.size and flat[0] == 1:
        runs = [0] + runs
    return [int(r) for r in runs]


def random_blob_mask(rng, h, w, kind):
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "noise":
        return (rng.random((h, w)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
    if kind == "empty":
        return np.zeros((h, w), np.uint8)
    if kind == "full":
        return np.ones((h, w), np.uint8)
    m = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(-0.2 * h, 1.2 * h), rng.uniform(-0.2 * w, 1.2 * w)
        ry, rx = rng.uniform(0.5, max(1.5, 0.6 * h)), rng.uniform(0.5, max(1.5, 0.6 * w))
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m.astype(np.uint8)


def random_polygon(rng, h, w, cross_border):
    n = int(rng.integers(3, 12))
    cx = rng.uniform(0, w) if not cross_border else rng.choice([rng.uniform(-5, 3), rng.uniform(w - 3, w + 5)])
    cy = rng.uniform(0, h) if not cross_border else rng.uniform(-4, h + 4)
    rad = rng.uniform(1, max(h, w) * 0.6)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rad * rng.uniform(0.3, 1.0, n)
    pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)
    if not cross_border:
        pts[:, 0] = np.clip(pts[:, 0], 0, w)
        pts[:, 1] = np.clip(pts[:, 1], 0, h)
    return [float(round(v, int(rng.integers(1, 6)))) for v in pts.reshape(-1)]


def make_rle_fixture(mask_utils, seed=20240611):
    rng = np.random.default_rng(seed)
    sizes = [(37, 53), (53, 37), (1, 17), (17, 1), (29, 31), (64, 48), (5, 5)]
    kinds = ["noise", "blob", "blob", "blob", "noise", "empty", "full"]
    masks = []
    for i in range(42):
        h, w = sizes[i % len(sizes)]
        kind = kinds[i % len(kinds)] if i < 14 else ("noise" if i % 3 == 0 else "blob")
        m = random_blob_mask(rng, h, w, kind)
        rle = mask_utils.encode(np.asfortranarray(m))
        masks.append({
            "height": h, "width": w, "bits": mask_bits(m),
            "uncompressed": uncompressed_counts(m),
            "rle": rle_json(rle),
            "area": int(mask_utils.area(rle)),
            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "from_uncompressed": rle_json(mask_utils.frPyObjects(
                {"size": [h, w], "counts": uncompressed_counts(m)}, h, w)),
        })
    by_size = {}
    for i, m in enumerate(masks):
        by_size.setdefault((m["height"], m["width"]), []).append(i)
    merges = []
    for idx in by_size.values():
        for _ in range(3):
            pick = [int(v) for v in rng.choice(idx, size=min(len(idx), int(rng.integers(2, 5))), replace=False)]
            rles = [mask_utils.encode(np.asfortranarray(
                np.array([c == "1" for c in masks[i]["bits"]], np.uint8).reshape(masks[i]["height"], -1)))
                for i in pick]
            merges.append({"indices": pick,
                           "union": rle_json(mask_utils.merge(rles, 0)),
                           "intersect": rle_json(mask_utils.merge(rles, 1))})
    ious = []
    for idx in by_size.values():
        if len(idx) < 3:
            continue
        nd = int(rng.integers(1, len(idx)))
        dets, gts = idx[:nd], idx[nd:]
        iscrowd = [int(v) for v in rng.integers(0, 2, len(gts))]
        mat = mask_utils.iou([masks[i]["rle"] for i in dets], [masks[i]["rle"] for i in gts], iscrowd)
        ious.append({"dets": dets, "gts": gts, "iscrowd": iscrowd, "iou": np.asarray(mat).tolist()})
    box_ious = []
    for t in range(6):
        nd, ng = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        d = np.round(np.concatenate([rng.uniform(0, 50, (nd, 2)), rng.uniform(0.5, 30, (nd, 2))], 1), t % 4 + 1)
        g = np.round(np.concatenate([rng.uniform(0, 50, (ng, 2)), rng.uniform(0.5, 30, (ng, 2))], 1), t % 4 + 1)
        if t == 0:
            d[0] = g[0]  # an exact match
        iscrowd = [int(v) for v in rng.integers(0, 2, ng)]
        box_ious.append({"dets": d.tolist(), "gts": g.tolist(), "iscrowd": iscrowd,
                         "iou": np.asarray(mask_utils.iou(d.tolist(), g.tolist(), iscrowd)).tolist()})
    polygons = []
    for i in range(60):
        h, w = [(37, 53), (120, 90), (7, 11), (64, 64), (200, 150)][i % 5]
        parts = [random_polygon(rng, h, w, cross_border=(j + i) % 3 == 0) for j in range(int(rng.integers(1, 4)))]
        if i % 7 == 0:
            parts[0] = parts[0] + parts[0][:2]  # closed polygon: last vertex repeats the first
        if i % 11 == 0:
            parts[0] = parts[0][:2] + parts[0][:2] + parts[0][2:]  # a repeated vertex
        rles = mask_utils.frPyObjects(parts, h, w)
        merged = mask_utils.merge(rles)
        polygons.append({"height": h, "width": w, "polygons": parts,
                         "rles": [rle_json(r) for r in rles], "merged": rle_json(merged),
                         "area": int(mask_utils.area(merged))})
    boxes = []
    for i in range(10):
        h, w = 41, 33
        bb = np.round(np.concatenate([rng.uniform(-5, 35, (3, 2)), rng.uniform(0.3, 20, (3, 2))], 1), 2)
        boxes.append({"height": h, "width": w, "boxes": bb.tolist(),
                      "rles": [rle_json(r) for r in mask_utils.frPyObjects(bb, h, w)]})
    long_counts = []
    for i in range(8):
        h, w = [(1000, 1000), (3000, 4000), (480, 640), (2, 70000)][i % 4]
        runs, total = [], 0
        while True:
            r = int(rng.choice([rng.integers(0, 40), rng.integers(0, 5000), rng.integers(0, 3_000_000)]))
            if total + r >= h * w:
                break
            runs.append(r)
            total += r
        runs.append(h * w - total)
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": runs}, h, w)
        long_counts.append({"size": [h, w], "counts": runs, "rle": rle_json(rle),
                            "area": int(mask_utils.area(rle)),
                            "bbox": [float(v) for v in mask_utils.toBbox(rle)]})
    return {"seed": seed, "masks": masks, "merges": merges, "ious": ious, "box_ious": box_ious,
            "polygons": polygons, "boxes": boxes, "long_counts": long_counts}


CATEGORY_IDS = [1, 2, 5, 9, 13, 21, 34, 55, 89]  # 89 never has a ground truth
UNKNOWN_CATEGORY = 77  # used by a few detections; pycocotools drops them


def shifted(mask, dy, dx):
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[ys, xs] = mask[yd, xd]
    return out


def object_polygon(rng, h, w, scale):
    n = int(rng.integers(3, 10))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = scale * rng.uniform(0.4, 1.0, n)
    xs = np.clip(cx + r * np.cos(ang), 0, w)
    ys = np.clip(cy + r * np.sin(ang), 0, h)
    return [float(round(v, 2)) for v in np.stack([xs, ys], 1).reshape(-1)]


def make_eval_fixture(mask_utils, seed=777, n_images=320):
    rng = np.random.default_rng(seed)
    image_ids = [int(v) for v in rng.choice(np.arange(1, 100000), n_images, replace=False)]
    images = []
    for iid in image_ids:
        images.append({"id": iid, "height": int(rng.integers(48, 241)), "width": int(rng.integers(48, 241)),
                       "file_name": f"{iid:06d}.jpg"})
    categories = [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in CATEGORY_IDS]
    gt_cats = CATEGORY_IDS[:-1]
    anns, dets = [], []
    gt_masks = []
    for img in images:
        h, w = img["height"], img["width"]
        for _ in range(int(rng.integers(0, 9))):
            cat = int(rng.choice(gt_cats))
            scale = float(rng.choice([rng.uniform(2, 8), rng.uniform(8, 30), rng.uniform(30, 90)]))
            kind = rng.choice(["poly", "poly", "poly", "poly", "rle", "rle", "ucrle", "crowd"])
            iscrowd = 1 if kind == "crowd" else 0
            if kind == "poly":
                parts = [object_polygon(rng, h, w, scale) for _ in range(int(rng.choice([1, 1, 1, 2])))]
                rle = mask_utils.merge(mask_utils.frPyObjects(parts, h, w))
                mask = mask_utils.decode(rle)
                xs = np.concatenate([np.array(p[0::2]) for p in parts])
                ys = np.concatenate([np.array(p[1::2]) for p in parts])
                bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]
                segm = parts
            else:
                mask = random_blob_mask(rng, h, w, "blob")
                if scale < 30:  # keep small objects small
                    keep = np.zeros_like(mask)
                    y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
                    keep[y0:y0 + int(scale * 2), x0:x0 + int(scale * 2)] = 1
                    mask = mask * keep if (mask * keep).any() else keep
                rle = mask_utils.encode(np.asfortranarray(mask))
                bbox = [float(v) for v in mask_utils.toBbox(rle)]
                segm = rle_json(rle) if kind == "rle" else {"size": [h, w], "counts": uncompressed_counts(mask)}
            area = int(mask_utils.area(rle))
            if area == 0:
                continue
            ann = {"id": 0, "image_id": img["id"], "category_id": cat, "segmentation": segm, "area": area,
                   "bbox": bbox, "iscrowd": iscrowd}
            if rng.random() < 0.1:
                ann["area"] = float(area * rng.uniform(0.4, 1.6))  # the gt area field is what counts
            if rng.random() < 0.05:
                ann["ignore"] = 1  # pycocotools overwrites this with iscrowd
            anns.append(ann)
            gt_masks.append((ann, mask))
        # Perturbed copies of this image's objects, with exact-score ties now and then.
        for ann, mask in [gm for gm in gt_masks if gm[0]["image_id"] == img["id"]]:
            for _ in range(int(rng.choice([0, 1, 1, 1, 2, 3]))):
                s = max(1, int(np.sqrt(ann["area"]) * 0.15))
                m = shifted(mask, int(rng.integers(-s, s + 1)), int(rng.integers(-s, s + 1)))
                if not m.any():
                    continue
                cat = ann["category_id"] if rng.random() < 0.9 else int(rng.choice(gt_cats))
                dets.append(det_from_mask(rng, mask_utils, img["id"], cat, m))
        n_random = int(rng.choice([0, 1, 3, 6])) if rng.random() > 0.08 else int(rng.integers(110, 160))
        for _ in range(n_random):
            m = random_blob_mask(rng, h, w, "blob")
            if not m.any():
                continue
            cat = int(rng.choice(gt_cats)) if rng.random() > 0.02 else UNKNOWN_CATEGORY
            dets.append(det_from_mask(rng, mask_utils, img["id"], cat, m))
    # A ground truth on an image that is not in the file: pycocotools never sees it.
    anns.append({"id": 0, "image_id": 100001, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]],
                 "area": 32.0, "bbox": [1, 1, 8, 8], "iscrowd": 0})
    order = rng.permutation(len(anns))
    anns = [anns[i] for i in order]
    ann_ids = rng.choice(np.arange(1, 10 * len(anns)), len(anns), replace=False)
    for a, i in zip(anns, ann_ids):
        a["id"] = int(i)
    dets = [dets[i] for i in rng.permutation(len(dets))]
    img_order = rng.permutation(len(images))
    gt = {"info": {"description": "synthetic COCO parity fixture", "seed": seed},
          "images": [images[i] for i in img_order], "annotations": anns, "categories": categories}
    return gt, dets


def det_from_mask(rng, mask_utils, image_id, cat, m):
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    x, y, w, h = [float(v) for v in mask_utils.toBbox(rle)]
    j = rng.uniform(-1.5, 1.5, 4)
    bbox = [round(x + j[0], 2), round(y + j[1], 2), round(max(0.5, w + j[2]), 2), round(max(0.5, h + j[3]), 2)]
    score = float(rng.uniform(0.01, 1.0))
    if rng.random() < 0.3:
        score = round(score, 2)
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score, "segmentation": rle_json(rle)}


def summarize_per_category(E):
    """The 12 summary numbers of pycocotools' _summarizeDets, restricted to one category at a time."""
    p = E.params
    prec, rec = E.eval["precision"], E.eval["recall"]
    t50 = np.where(0.5 == p.iouThrs)[0]
    t75 = np.where(0.75 == p.iouThrs)[0]
    a_idx = {lbl: i for i, lbl in enumerate(p.areaRngLbl)}
    m_idx = {m: i for i, m in enumerate(p.maxDets)}

    def mean(s):
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    out = []
    for k, cat in enumerate(p.catIds):
        ap = lambda t, a, m: mean((prec if t is None else prec[t])[:, :, k, a_idx[a], m_idx[m]])
        ar = lambda a, m: mean(rec[:, k, a_idx[a], m_idx[m]])
        out.append({"category_id": int(cat), "stats": [
            ap(None, "all", 100), ap(t50, "all", 100), ap(t75, "all", 100),
            ap(None, "small", 100), ap(None, "medium", 100), ap(None, "large", 100),
            ar("all", 1), ar("all", 10), ar("all", 100), ar("small", 100), ar("medium", 100), ar("large", 100)]})
    return out


def run_eval(COCO, COCOeval, gt, results, iou_type):
    import copy
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        E = COCOeval(coco_gt, coco_dt, iou_type)
        E.evaluate()
        E.accumulate()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        E.summarize()
    return E, {"stats": [float(v) for v in E.stats], "per_category": summarize_per_category(E),
               "summary": text.getvalue()}


def crafted_summary(E):
    """Summary text for crafted precision/recall values, including exact binary ties at 3 decimals."""
    values = [0.0625, 0.1875, 0.3125, 0.4375]
    E.eval["precision"] = np.full_like(E.eval["precision"], -1.0)
    E.eval["recall"] = np.full_like(E.eval["recall"], -1.0)
    for a, v in enumerate(values):
        E.eval["precision"][:, :, :, a, :] = v
        E.eval["recall"][:, :, a, :] = 1 - v
    E.eval["precision"][:, :, :, 1, 2] = -1.0  # small objects absent: -1.000
    E.eval["recall"][:, :, 0, 0] = 0.0005
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        E.summarize()
    return {"stats": [float(v) for v in E.stats], "summary": text.getvalue()}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mask_utils, COCO, COCOeval = import_pycocotools(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "tests", "fixtures", "coco")
    os.makedirs(out_dir, exist_ok=True)

    def write(name, obj):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))
        print(f"wrote {name}: {os.path.getsize(os.path.join(out_dir, name))} bytes")

    write("rle.json", make_rle_fixture(mask_utils))
    gt, results = make_eval_fixture(mask_utils)
    write("eval_gt.json", gt)
    write("eval_results.json", results)
    no_bbox = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    boxes_only = [{k: v for k, v in r.items() if k != "segmentation"} for r in results]
    E, bbox = run_eval(COCO, COCOeval, gt, results, "bbox")
    expected = {
        "iou_thrs": [float(v) for v in E.params.iouThrs],
        "rec_thrs": [float(v) for v in E.params.recThrs],
        "bbox": bbox,
        "segm": run_eval(COCO, COCOeval, gt, results, "segm")[1],
        "segm_no_bbox": run_eval(COCO, COCOeval, gt, no_bbox, "segm")[1],
        "segm_boxes_only": run_eval(COCO, COCOeval, gt, boxes_only, "segm")[1],
        "bbox_no_bbox": run_eval(COCO, COCOeval, gt, no_bbox, "bbox")[1],
        "crafted": crafted_summary(E),
    }
    write("eval_expected.json", expected)


if __name__ == "__main__":
    main()
