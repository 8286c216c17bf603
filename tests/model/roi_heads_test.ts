/**
 * The box head's training half: `fastRcnnLoss` against a float64 reference of torchvision's
 * `fastrcnn_loss`, and the one forward `boxHead`: recorded for training (every row) and bounded to the
 * occupied rows for inference, it gives the same values bit for bit on those rows.
 */
import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../ops/mod.ts";
import { fpnForward } from "../../model/fpn.ts";
import { resnetForward } from "../../model/resnet.ts";
import { boxHead, fastRcnnLoss } from "../../model/roi_heads.ts";
import { deterministicModel } from "../../tools/bench/_models.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

await getGpu();

Deno.test("fastRcnnLoss matches the float64 reference of fastrcnn_loss (losses and gradients)", async () => {
  const [rows, classes, sampled] = [29, 5, 17];
  const logits = randomFloats(rows * classes, 1, -2, 2);
  const deltas = randomFloats(rows * classes * 4, 2, -0.5, 0.5);
  const regression = randomFloats(rows * 4, 3, -0.5, 0.5);
  const labels = randomInts(rows, 4, -1, classes); // −1 an empty slot
  const valid = Uint32Array.from(labels, (l) => (l >= 0 ? 1 : 0));
  const positive = Uint32Array.from(labels, (l) => (l > 0 ? 1 : 0));
  const losses = fastRcnnLoss(
    {
      classLogits: tensorFromArray(logits, [rows, classes]),
      boxDeltas: tensorFromArray(deltas, [rows, 4 * classes]),
    },
    {
      labels: tensorFromArray(labels, [rows]),
      valid: tensorFromArray(valid, [rows]),
      positive: tensorFromArray(positive, [rows]),
      regressionTargets: tensorFromArray(regression, [rows, 4]),
    },
    sampled,
  );
  const [classifier, boxReg, gradLogits, gradDeltas] = await readTensors([
    losses.classifier,
    losses.boxReg,
    losses.gradLogits,
    losses.gradDeltas,
  ]);
  let ce = 0, box = 0;
  const refGradLogits = new Float64Array(rows * classes);
  const refGradDeltas = new Float64Array(rows * classes * 4);
  for (let r = 0; r < rows; r++) {
    if (!valid[r]) continue;
    const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const max = Math.max(...row);
    const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
    ce += max + Math.log(sum) - row[labels[r]];
    row.forEach((x, c) => {
      refGradLogits[r * classes + c] = (Math.exp(x - max) / sum - (c === labels[r] ? 1 : 0)) / sampled;
    });
    if (!positive[r]) continue;
    for (let k = 0; k < 4; k++) {
      const at = r * classes * 4 + labels[r] * 4 + k;
      const d = deltas[at] - regression[r * 4 + k];
      const beta = 1 / 9;
      box += Math.abs(d) < beta ? 0.5 * d * d / beta : Math.abs(d) - 0.5 * beta;
      refGradDeltas[at] = (Math.abs(d) < beta ? d / beta : Math.sign(d)) / sampled;
    }
  }
  assert.ok(positive.some((p) => p) && valid.some((v, r) => v && !positive[r]), "positives and negatives");
  assertClose(classifier, [ce / sampled], 1e-5, "classifier");
  assertClose(boxReg, [box / sampled], 1e-5, "box regression");
  assertClose(gradLogits, refGradLogits, 1e-5, "d classifier / d logits");
  assertClose(gradDeltas, refGradDeltas, 1e-5, "d box regression / d deltas");
});

Deno.test("boxHead: training's recorded pass equals inference's bounded pass bit for bit on the occupied rows", async () => {
  const model = deterministicModel({ preset: "small" });
  const params = model.params!;
  const images = tensorFromArray(randomFloats(2 * 64 * 64 * 3, 5), [2, 64, 64, 3]);
  const pyramid = fpnForward(params, resnetForward(params, images));
  const perImage = 6;
  const boxes = randomFloats(2 * perImage * 4, 6, 0, 60);
  const rois = new Float32Array(2 * perImage * 5);
  for (let i = 0; i < 2 * perImage; i++) {
    const [a, b, c, d] = boxes.subarray(4 * i, 4 * i + 4);
    rois.set([
      Math.floor(i / perImage),
      Math.min(a, c),
      Math.min(b, d),
      Math.max(a, c) + 1,
      Math.max(b, d) + 1,
    ], 5 * i);
  }
  const roiTensor = tensorFromArray(rois, [2 * perImage, 5]);
  const sizes: [number, number][] = [[64, 64], [64, 64]];
  const counts = [4, 2];
  const inference = boxHead(params, pyramid, roiTensor, sizes, {
    occupied: { counts: tensorFromArray(Uint32Array.from(counts), [2]), segments: 2, stride: perImage },
  });
  const recorded = boxHead(params, pyramid, roiTensor, sizes, { record: true });
  assert.deepEqual(recorded.tape.h7.shape[0], 2 * perImage);
  const [il, rl, id, rd] = await readTensors([
    inference.classLogits,
    recorded.classLogits,
    inference.boxDeltas,
    recorded.boxDeltas,
  ]);
  const classes = model.config.numClasses;
  counts.forEach((n, b) => {
    for (let r = b * perImage; r < b * perImage + n; r++) {
      assert.deepEqual(
        il.subarray(r * classes, (r + 1) * classes),
        rl.subarray(r * classes, (r + 1) * classes),
      );
      assert.deepEqual(
        id.subarray(r * 4 * classes, (r + 1) * 4 * classes),
        rd.subarray(r * 4 * classes, (r + 1) * 4 * classes),
      );
    }
  });
});
