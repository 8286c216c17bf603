import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, tensorFromArray } from "../../../ops/mod.ts";
import { torchvisionAnchors } from "../../../ops/detection/anchors.ts";
import { disposeGtBatch, uploadGtBatch } from "../../../ops/detection/gt_batch.ts";
import { assignAnchorTargets, rpnTargets } from "../../../ops/detection/rpn_targets.ts";
import { MASKRCNN_RESNET50_FPN } from "../../../model/config.ts";
import { rpnTargetOptions } from "../../../model/stage_config.ts";
import { loadFixture } from "../../_fixtures.ts";
import { assertClose } from "../../_util.ts";

await getGpu();
// torchvision's RPN values (model/stage_config.ts).
const TV = MASKRCNN_RESNET50_FPN;
const RPN = rpnTargetOptions(TV);
const fx = loadFixture("ops/targets_rpn.json");
const t = fx.tensors;
const counts = fx.meta.counts as number[];
const anchorCount = t.anchors.shape[0];

function gtImages() {
  const all = t.gt.data as Float32Array;
  let row = 0;
  return counts.map((c, k) => {
    const boxes = all.slice(4 * row, 4 * (row + c));
    row += c;
    return { boxes, labels: Int32Array.from({ length: c }, (_, i) => 1 + ((i + k) % 5)) };
  });
}

Deno.test("the RPN fixture's anchors are the project's torchvision anchors of a 128×128 batch", () => {
  const ours = torchvisionAnchors(
    [128, 128],
    [[32, 32], [16, 16], [8, 8], [4, 4], [2, 2]],
    TV.anchorSizes,
    TV.aspectRatios,
  );
  assertClose(ours, t.anchors.data as Float32Array, 0, "anchors");
});

Deno.test("assignAnchorTargets equals torchvision assign_targets_to_anchors + encode (7, 0, 2 GT)", async () => {
  const gt = uploadGtBatch(gtImages());
  const anchors = tensorFromArray(t.anchors.data as Float32Array, t.anchors.shape);
  const out = assignAnchorTargets(anchors, gt, RPN);
  assert.deepEqual(out.labels.shape, [3, anchorCount]);
  const [matches, labels, boxes, targets] = await readTensors([
    out.matches,
    out.labels,
    out.matchedBoxes,
    out.regressionTargets,
  ]);
  assert.deepEqual([...matches], [...t.matches.data], "matches");
  assert.deepEqual([...labels], [...t.labels.data], "labels");
  const positives = [...labels].filter((l) => l === 1).length;
  assert.ok(positives > 10 && [...labels].includes(-1) && [...labels].includes(0), "all three labels occur");
  const plane = anchorCount * 4;
  assertClose(targets.subarray(0, plane), t.targets_0.data as Float32Array, 1e-4, "targets image 0");
  assertClose(targets.subarray(2 * plane), t.targets_2.data as Float32Array, 1e-4, "targets image 2");
  assert.ok(targets.subarray(plane, 2 * plane).every((v) => v === 0), "no GT → zero targets");
  // Matched boxes: the GT at the clamped match (the fixture's matches), zeros without GT.
  const gtAll = t.gt.data as Float32Array;
  const offsets = [0, counts[0], counts[0] + counts[1]];
  for (let b = 0; b < 3; b++) {
    for (let a = 0; a < anchorCount; a += 7) {
      const e = b * anchorCount + a;
      const g = offsets[b] + Math.max(0, matches[e]);
      const want = counts[b] ? gtAll.subarray(4 * g, 4 * g + 4) : new Float32Array(4);
      assert.deepEqual([...boxes.subarray(4 * e, 4 * e + 4)], [...want], `matched box ${b}/${a}`);
    }
  }
  disposeGtBatch(gt);
});

Deno.test("rpnTargets with a batch above the candidate count samples every labelled anchor", async () => {
  const gt = uploadGtBatch(gtImages());
  const anchors = tensorFromArray(t.anchors.data as Float32Array, t.anchors.shape);
  const out = rpnTargets(anchors, gt, { ...RPN, seed: 3, step: 9, batchSizePerImage: 2 * anchorCount });
  const [pos, neg, numPos, numNeg, totals] = await readTensors([
    out.sample.positive,
    out.sample.negative,
    out.sample.numPositive,
    out.sample.numNegative,
    out.sample.totals,
  ]);
  const labels = t.labels.data as Int32Array;
  assert.deepEqual([...pos], [...labels].map((l) => (l === 1 ? 1 : 0)));
  assert.deepEqual([...neg], [...labels].map((l) => (l === 0 ? 1 : 0)));
  const count = (b: number, v: number) =>
    labels.subarray(b * anchorCount, (b + 1) * anchorCount).filter((l) => l === v).length;
  assert.deepEqual([...numPos], [0, 1, 2].map((b) => count(b, 1)));
  assert.deepEqual([...numNeg], [0, 1, 2].map((b) => count(b, 0)));
  assert.deepEqual([...totals], [labels.filter((l) => l >= 0).length, labels.filter((l) => l === 1).length]);
  disposeGtBatch(gt);
});

Deno.test("assignAnchorTargets / rpnTargets reject bad anchors naming the op", () => {
  const gt = uploadGtBatch(gtImages());
  assert.throws(
    () => assignAnchorTargets(tensorFromArray(new Float32Array(12), [4, 3]), gt, RPN),
    ShapeError,
  );
  assert.throws(
    () => assignAnchorTargets(tensorFromArray(new Float32Array(16), [2, 2, 4]), gt, RPN),
    /matchBoxes: boxes \[2,2,4\] f32 must be \[3, N, 4\]/,
  );
  const anchors = tensorFromArray(t.anchors.data as Float32Array, t.anchors.shape);
  assert.throws(() => rpnTargets(anchors, gt, { ...RPN, seed: -1, step: 0 }), /sampleBalanced: seed -1/);
  disposeGtBatch(gt);
});
