import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, tensorFromArray } from "../../../ops/mod.ts";
import { disposeGtBatch, type GtImage, uploadGtBatch } from "../../../ops/detection/gt_batch.ts";
import { maskTargets } from "../../../ops/detection/mask_targets.ts";
import { roiTargets } from "../../../ops/detection/roi_targets.ts";
import { MASKRCNN_RESNET50_FPN } from "../../../model/config.ts";
import { roiTargetOptions } from "../../../model/stage_config.ts";
import { loadFixture } from "../../_fixtures.ts";
import { assertClose } from "../../_util.ts";

await getGpu();
// torchvision's RoIHeads values (model/stage_config.ts); tests override the sampler where they say so.
const ROI = roiTargetOptions(MASKRCNN_RESNET50_FPN);
const fx = loadFixture("ops/targets_roi.json");
const t = fx.tensors;
const counts = fx.meta.counts as number[];
const sizes = fx.meta.sizes as [number, number][];
const p = fx.meta.p as number;
const images: GtImage[] = counts.map((_, k) => ({
  boxes: t[`gt_${k}`].data as Float32Array,
  labels: t[`gt_labels_${k}`].data as Int32Array,
  masks: t[`masks_${k}`].data as Uint8Array,
  maskSize: sizes[k],
}));
const proposals = () => tensorFromArray(t.proposals.data as Float32Array, [3 * p, 4]);
const proposalValid = () => tensorFromArray(Uint32Array.from(t.valid.data), [3 * p]);

Deno.test("roiTargets with every candidate sampled equals torchvision select_training_samples", async () => {
  const gt = uploadGtBatch(images);
  const out = roiTargets(proposals(), gt, {
    ...ROI,
    seed: 5,
    step: 1,
    proposalValid: proposalValid(),
    batchSizePerImage: 4096,
    positiveFraction: 0.5,
  });
  const len = p + Math.max(...counts);
  assert.deepEqual(out.sampled.labels.shape, [3, len]);
  assert.deepEqual(out.sampled.rois.shape, [3 * len, 5]);
  const s = out.sampled;
  const [idx, rois, labels, matched, targets, valid, numPos, numNeg, totals] = await readTensors([
    s.indices,
    s.rois,
    s.labels,
    s.matchedGt,
    s.regressionTargets,
    s.valid,
    out.numPositive,
    out.numNegative,
    out.totals,
  ]);
  let sampledTotal = 0;
  let positiveTotal = 0;
  for (let b = 0; b < 3; b++) {
    const want = t[`sampled_index_${b}`].data as Int32Array;
    const n = want.length;
    const row = (a: ArrayLike<number>, width = 1) =>
      Array.from(a).slice(b * len * width, (b * len + n) * width);
    assert.deepEqual(row(idx), [...want], `sampled indices of image ${b}`);
    assert.ok(Array.from(idx).slice(b * len + n, (b + 1) * len).every((v) => v === -1), "−1 padding");
    assert.deepEqual(row(labels), [...t[`labels_${b}`].data], `labels of image ${b}`);
    assert.deepEqual(row(matched), [...t[`matched_${b}`].data], `matched GT of image ${b}`);
    assert.deepEqual(row(valid), Array(n).fill(1));
    const boxes = t[`rois_${b}`].data as Float32Array;
    const ours = row(rois, 5);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(
        ours.slice(5 * i, 5 * i + 5),
        [b, ...boxes.subarray(4 * i, 4 * i + 4)],
        `roi ${b}/${i}`,
      );
    }
    if (counts[b] > 0) {
      assertClose(row(targets, 4), t[`targets_${b}`].data as Float32Array, 1e-4, `targets of image ${b}`);
    } else {
      assert.ok(row(targets, 4).every((v) => v === 0), "no GT → zero targets");
    }
    const pos = [...t[`labels_${b}`].data].filter((l) => l > 0).length;
    assert.equal(numPos[b], pos);
    assert.equal(numNeg[b], n - pos);
    sampledTotal += n;
    positiveTotal += pos;
  }
  assert.deepEqual([...totals], [sampledTotal, positiveTotal]);
  assert.ok(positiveTotal >= 20, `the fixture has ${positiveTotal} positives`);
  disposeGtBatch(gt);
});

Deno.test("roiTargets' positive slots and 28×28 mask targets equal torchvision project_masks_on_boxes", async () => {
  const gt = uploadGtBatch(images);
  const out = roiTargets(proposals(), gt, {
    ...ROI,
    seed: 11,
    step: 0,
    proposalValid: proposalValid(),
    batchSizePerImage: 4096,
    positiveFraction: 0.5,
  });
  const k = out.positive.labels.shape[1];
  assert.deepEqual(out.maskTargets!.shape, [3 * k, 28, 28]);
  const [idx, masks] = await readTensors([out.positive.indices, out.maskTargets!]);
  const expected = t.mask_targets.data as Float32Array;
  const ours: number[] = [];
  for (let b = 0; b < 3; b++) {
    const want = t[`positive_index_${b}`].data as Int32Array;
    assert.deepEqual(Array.from(idx).slice(b * k, b * k + want.length), [...want], `positives of image ${b}`);
    ours.push(...masks.subarray(b * k * 784, (b * k + want.length) * 784));
    assert.ok(masks.subarray((b * k + want.length) * 784, (b + 1) * k * 784).every((v) => v === 0));
  }
  assertClose(ours, expected, 1e-4, "mask targets");
  assert.ok(expected.some((v) => v > 0 && v < 1), "soft targets (not thresholded)");
  disposeGtBatch(gt);
});

Deno.test("maskTargets alone on the fixture's positive RoIs of image 0", async () => {
  const gt = uploadGtBatch(images);
  const want = t.positive_index_0.data as Int32Array;
  const labels = t.labels_0.data as Int32Array;
  const boxes = t.rois_0.data as Float32Array;
  const matchedAll = t.matched_0.data as Int32Array;
  const rois: number[] = [];
  const matched: number[] = [];
  labels.forEach((l, i) => {
    if (l > 0) {
      rois.push(0, ...boxes.subarray(4 * i, 4 * i + 4));
      matched.push(matchedAll[i]);
    }
  });
  const out = maskTargets(
    gt,
    tensorFromArray(new Float32Array(rois), [want.length, 5]),
    tensorFromArray(new Int32Array(matched), [want.length]),
  );
  assertClose(await out.read(), (t.mask_targets.data as Float32Array).subarray(0, want.length * 784), 1e-4);
  disposeGtBatch(gt);
});

Deno.test("roiTargets with torchvision's 512 at 25 %: counts follow torchvision's min rules", async () => {
  const gt = uploadGtBatch(images);
  const out = roiTargets(proposals(), gt, { ...ROI, seed: 2, step: 7, proposalValid: proposalValid() });
  assert.deepEqual(out.sampled.labels.shape, [3, 305]);
  assert.deepEqual(out.positive.labels.shape, [3, 128]);
  const [numPos, numNeg, labels] = await readTensors([out.numPositive, out.numNegative, out.sampled.labels]);
  for (let b = 0; b < 3; b++) {
    const pos = [...t[`labels_${b}`].data].filter((l) => l > 0).length;
    const neg = [...t[`labels_${b}`].data].filter((l) => l === 0).length;
    assert.equal(numPos[b], Math.min(pos, 128));
    assert.equal(numNeg[b], Math.min(neg, 512 - numPos[b]));
    const row = Array.from(labels).slice(b * 305, (b + 1) * 305);
    assert.equal(row.filter((l) => l > 0).length, numPos[b]);
    assert.equal(row.filter((l) => l === 0).length, numNeg[b]);
  }
  disposeGtBatch(gt);
});

Deno.test("roiTargets on a batch without any GT samples only background, all targets 0", async () => {
  const none = uploadGtBatch(
    [0, 1, 2].map(() => ({ boxes: new Float32Array(0), labels: new Int32Array(0) })),
  );
  const out = roiTargets(proposals().reshape([3, p, 4]), none, { ...ROI, seed: 1, step: 2, maskSize: 0 });
  assert.equal(out.maskTargets, undefined);
  const [labels, targets, numPos, numNeg, totals, posValid] = await readTensors([
    out.sampled.labels,
    out.sampled.regressionTargets,
    out.numPositive,
    out.numNegative,
    out.totals,
    out.positive.valid,
  ]);
  assert.deepEqual([...numPos], [0, 0, 0]);
  assert.deepEqual([...numNeg], [p, p, p].map((n) => Math.min(n, 512)));
  assert.deepEqual([...totals], [3 * p, 0]);
  assert.ok(labels.every((l) => l === 0) && targets.every((v) => v === 0) && posValid.every((v) => v === 0));
  disposeGtBatch(none);
});

Deno.test("roiTargets / maskTargets reject bad inputs naming the op", () => {
  const gt = uploadGtBatch(images);
  assert.throws(
    () => roiTargets(tensorFromArray(new Float32Array(8), [2, 4]), gt, { ...ROI, seed: 0, step: 0 }),
    ShapeError,
  );
  assert.throws(
    () =>
      roiTargets(proposals(), gt, {
        ...ROI,
        seed: 0,
        step: 0,
        proposalValid: tensorFromArray(new Uint32Array(3), [3]),
      }),
    /roiTargets: proposalValid \[3\] u32 must hold 900 flags/,
  );
  const noMasks = uploadGtBatch(images.map(({ boxes, labels }) => ({ boxes, labels })));
  assert.throws(
    () => roiTargets(proposals(), noMasks, { ...ROI, seed: 0, step: 0 }),
    /roiTargets: gt has no masks/,
  );
  const rois = tensorFromArray(new Float32Array(5), [1, 5]);
  assert.throws(
    () => maskTargets(noMasks, rois, tensorFromArray(new Int32Array(1), [1])),
    /maskTargets: gt has no masks/,
  );
  assert.throws(
    () => maskTargets(gt, rois, tensorFromArray(new Int32Array(2), [2])),
    /maskTargets: matched \[2\] i32/,
  );
  assert.throws(() => uploadGtBatch([{ ...images[0], maskSize: [3, 3] }]), /uploadGtBatch: image 0: masks/);
  disposeGtBatch(gt);
  disposeGtBatch(noMasks);
});
