/**
 * Parity of the COCO evaluator with real pycocotools COCOeval, and the COCO results import/export.
 * Expected numbers come from tests/fixtures/coco/eval_expected.json, written by
 * tools/reference/make_coco_fixtures.py from eval_gt.json / eval_results.json: all 12 stats and every
 * per-category number within 1e-4 (in practice they agree to ~1e-15), summary text byte for byte.
 * @module
 */
import assert from "node:assert/strict";
import {
  COCO_EVAL_PARAMS,
  type CocoGroundTruth,
  type CocoResult,
  evaluateCoco,
  formatCocoSummary,
} from "../../data/coco_eval.ts";
import { COCO_STAT_NAMES } from "../../data/coco_eval_summary.ts";
import { readCocoResults, toCocoResults } from "../../data/coco_results.ts";
import { rleDecode } from "../../data/rle.ts";

const DIR = new URL("../fixtures/coco/", import.meta.url);
const read = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, DIR)));

interface Expected {
  stats: number[];
  per_category: { category_id: number; stats: number[] }[];
  summary: string;
}
const gt: CocoGroundTruth = await read("eval_gt.json");
const results: CocoResult[] = await read("eval_results.json");
const expected: Record<string, Expected> & { iou_thrs: number[]; rec_thrs: number[] } = await read(
  "eval_expected.json",
);

const withoutBbox = results.map(({ bbox: _, ...r }) => r);
const withoutSegm = results.map(({ segmentation: _, ...r }) => r);
const VARIANTS: [string, "bbox" | "segm", CocoResult[]][] = [
  ["bbox", "bbox", results],
  ["segm", "segm", results],
  ["segm_no_bbox", "segm", withoutBbox],
  ["segm_boxes_only", "segm", withoutSegm],
  ["bbox_no_bbox", "bbox", withoutBbox],
];
const TOL = 1e-4;

Deno.test("fixture exercises crowds, RLE forms, >100 detections per image and non-trivial AP", () => {
  assert.ok(gt.images.length >= 300);
  assert.ok(gt.annotations.some((a) => a.iscrowd === 1));
  assert.ok(
    gt.annotations.some((a) => !Array.isArray(a.segmentation) && Array.isArray(a.segmentation?.counts)),
  );
  assert.ok(
    gt.annotations.some((a) => !Array.isArray(a.segmentation) && typeof a.segmentation?.counts === "string"),
  );
  const perImage = new Map<number, number>();
  for (const r of results) perImage.set(r.image_id, (perImage.get(r.image_id) ?? 0) + 1);
  assert.ok([...perImage.values()].some((n) => n > 100), "some image has more than 100 detections");
  for (const [name] of VARIANTS) {
    assert.ok(expected[name].stats.every((v) => v > 0 && v < 1), `${name} stats strictly inside (0, 1)`);
  }
});

Deno.test("thresholds are pycocotools' doubles exactly", () => {
  assert.deepEqual(COCO_EVAL_PARAMS.iouThrs, expected.iou_thrs);
  assert.deepEqual(COCO_EVAL_PARAMS.recThrs, expected.rec_thrs);
});

for (const [name, iouType, res] of VARIANTS) {
  Deno.test(`evaluateCoco ${name}: 12 stats, per-category numbers and summary match pycocotools`, () => {
    const exp = expected[name];
    const out = evaluateCoco(gt, res, { iouType });
    const statErr = Math.max(...out.stats.map((v, i) => Math.abs(v - exp.stats[i])));
    assert.ok(statErr <= TOL, `${name}: max |Δstats| = ${statErr}\n${out.stats}\n${exp.stats}`);
    assert.deepEqual(out.perCategory.map((c) => c.categoryId), exp.per_category.map((c) => c.category_id));
    let catErr = 0;
    out.perCategory.forEach((c, k) => {
      COCO_STAT_NAMES.forEach((key, i) => {
        const e = exp.per_category[k].stats[i];
        assert.equal(
          c[key] === -1,
          e === -1,
          `${name} category ${c.categoryId} ${key}: -1 where pycocotools has ${e}`,
        );
        catErr = Math.max(catErr, Math.abs(c[key] - e));
      });
    });
    assert.ok(catErr <= TOL, `${name}: max per-category |Δ| = ${catErr}`);
    assert.equal(formatCocoSummary(out.stats, iouType) + "\n", exp.summary);
  });
}

Deno.test("formatCocoSummary rounds exact ties and prints -1 like Python", () => {
  const crafted = expected.crafted;
  assert.ok(crafted.summary.includes("-1.000") && crafted.summary.includes("0.062"));
  assert.equal(formatCocoSummary(crafted.stats, "segm") + "\n", crafted.summary);
});

Deno.test("precision and recall arrays have pycocotools' shape", () => {
  const out = evaluateCoco(gt, results, { iouType: "bbox" });
  const [T, R, K, A, M] = out.counts;
  assert.deepEqual([T, R, K, A, M], [10, 101, gt.categories.length, 4, 3]);
  assert.equal(out.precision.length, T * R * K * A * M);
  assert.equal(out.recall.length, T * K * A * M);
  // The category without ground truth is -1 throughout.
  const empty = out.perCategory.findIndex((c) => c.ap === -1);
  assert.ok(empty >= 0);
  assert.equal(out.recall[(0 * K + empty) * A * M], -1);
});

Deno.test("errors name the result index or annotation at fault", () => {
  const bad = [...results.slice(0, 3), { ...results[3], image_id: 123456789 }];
  assert.throws(() => evaluateCoco(gt, bad, { iouType: "bbox" }), /results\[3\]\.image_id 123456789/);
  const noScore = [...results.slice(0, 2), { ...results[2], score: Number.NaN }];
  assert.throws(() => evaluateCoco(gt, noScore, { iouType: "bbox" }), /results\[2\]\.score/);
  const dup = { ...gt, annotations: [...gt.annotations, { ...gt.annotations[0] }] };
  assert.throws(
    () => evaluateCoco(dup, results, { iouType: "bbox" }),
    new RegExp(`id ${gt.annotations[0].id}`),
  );
  // @ts-expect-error: keypoints are not supported
  assert.throws(() => evaluateCoco(gt, results, { iouType: "keypoints" }), /iouType/);
});

Deno.test("readCocoResults accepts the fixture results unchanged and names bad entries", () => {
  const text = JSON.stringify(results);
  assert.deepEqual(readCocoResults(text), JSON.parse(text));
  const broken = JSON.parse(text);
  broken[7].bbox = [1, 2, 3];
  assert.throws(() => readCocoResults(JSON.stringify(broken)), /results\[7\]\.bbox/);
  broken[7] = { image_id: 1, category_id: 1, score: 0.5 };
  assert.throws(() => readCocoResults(JSON.stringify(broken)), /results\[7\] has neither/);
  broken[7] = { ...results[7], segmentation: { size: [2, 2], counts: "~" } };
  assert.throws(() => readCocoResults(JSON.stringify(broken)), /results\[7\]\.segmentation\.counts/);
  assert.throws(() => readCocoResults("{}"), /array/);
});

Deno.test("toCocoResults writes pycocotools' RLE strings and xywh boxes", () => {
  const sizes = new Map(gt.images.map((im) => [im.id, [im.height, im.width]]));
  const byImage = new Map<number, CocoResult[]>();
  for (const r of results.slice(0, 400)) byImage.set(r.image_id, [...(byImage.get(r.image_id) ?? []), r]);
  const categoryOfLabel = gt.categories.map((c) => c.id);
  for (const [imageId, rs] of byImage) {
    const [height, width] = sizes.get(imageId)!;
    const count = rs.length;
    const det = {
      width,
      height,
      count,
      boxes: new Float32Array(count * 4),
      scores: new Float32Array(rs.map((r) => r.score)),
      labels: new Int32Array(rs.map((r) => Math.max(0, categoryOfLabel.indexOf(r.category_id)))),
      masks: new Uint8Array(count * width * height),
    };
    rs.forEach((r, i) => {
      const [x, y, w, h] = r.bbox!;
      det.boxes.set([x, y, x + w, y + h], 4 * i);
      det.masks.set(
        rleDecode(r.segmentation as { size: [number, number]; counts: string }),
        i * width * height,
      );
    });
    const out = toCocoResults(imageId, det, categoryOfLabel);
    out.forEach((o, i) => {
      assert.deepEqual(o.segmentation, rs[i].segmentation, `image ${imageId} detection ${i}`);
      assert.equal(o.image_id, imageId);
      assert.equal(o.score, det.scores[i]);
      o.bbox.forEach((v, j) => assert.ok(Math.abs(v - rs[i].bbox![j]) < 1e-4, `bbox ${i}[${j}]`));
    });
    assert.deepEqual(readCocoResults(JSON.stringify(out)), JSON.parse(JSON.stringify(out)));
  }
  assert.throws(
    () => toCocoResults(1, { ...byImageDet(), labels: new Int32Array([99]) }, categoryOfLabel),
    /detection 0: label 99 has no category id/,
  );
});

function byImageDet() {
  return {
    width: 2,
    height: 2,
    count: 1,
    boxes: new Float32Array([0, 0, 1, 1]),
    scores: new Float32Array([0.5]),
    labels: new Int32Array([0]),
  };
}
