#!/usr/bin/python3
"""Times pycocotools' COCO evaluation for tools/bench_coco_eval.ts.

Usage:
    /usr/bin/python3 tools/reference/bench_coco_eval_pycocotools.py PYCOCOTOOLS_PATH GT_JSON RESULTS_JSON IOU_TYPE...

For each iouType ("bbox" / "segm") it prints one JSON line {"iou_type", "ms", "stats"}. The timed part is
what evaluateCoco does on already-parsed JSON: indexing the ground truth (createIndex), loadRes on the
results list, COCOeval evaluate/accumulate/summarize. JSON parsing and the deep copy of the results
(loadRes modifies them) are not timed. pycocotools' own progress output goes to stderr.
"""
import contextlib
import copy
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_coco_fixtures import import_pycocotools  # noqa: E402


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    _, COCO, COCOeval = import_pycocotools(sys.argv[1])
    with open(sys.argv[2]) as f:
        gt = json.load(f)
    with open(sys.argv[3]) as f:
        results = json.load(f)
    for iou_type in sys.argv[4:]:
        dataset, res = copy.deepcopy(gt), copy.deepcopy(results)
        with contextlib.redirect_stdout(sys.stderr):
            t0 = time.perf_counter()
            coco_gt = COCO()
            coco_gt.dataset = dataset
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(res)
            E = COCOeval(coco_gt, coco_dt, iou_type)
            E.evaluate()
            E.accumulate()
            E.summarize()
            ms = (time.perf_counter() - t0) * 1000
        print(json.dumps({"iou_type": iou_type, "ms": ms, "stats": [float(v) for v in E.stats]}), flush=True)


if __name__ == "__main__":
    main()
