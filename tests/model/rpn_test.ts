/**
 * The RPN stage's training half: `rpnLoss` (torchvision's `compute_loss`) against a float64 reference of
 * binary cross-entropy over the sampled anchors and smooth L1 (beta 1/9) over the positives, and the head
 * recorded for training gives inference's outputs bit for bit (one forward).
 */
import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../ops/mod.ts";
import { fpnForward } from "../../model/fpn.ts";
import { resnetForward } from "../../model/resnet.ts";
import { rpnHead, rpnLoss } from "../../model/rpn.ts";
import { deterministicModel } from "../../tools/bench/_models.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

await getGpu();

/** torchvision's smooth L1 and its derivative. */
function smoothL1(d: number, beta: number): [number, number] {
  return Math.abs(d) < beta ? [0.5 * d * d / beta, d / beta] : [Math.abs(d) - 0.5 * beta, Math.sign(d)];
}

Deno.test("rpnLoss matches the float64 reference of compute_loss (losses and gradients)", async () => {
  const [batch, anchors, count] = [2, 37, 23];
  const logits = randomFloats(batch * anchors, 1, -3, 3);
  const deltas = randomFloats(batch * anchors * 4, 2, -0.5, 0.5);
  const regression = randomFloats(batch * anchors * 4, 3, -0.5, 0.5);
  const draw = randomInts(batch * anchors, 4, 0, 3); // 0 positive, 1 negative, 2 not sampled
  const positive = Uint32Array.from(draw, (d) => (d === 0 ? 1 : 0));
  const negative = Uint32Array.from(draw, (d) => (d === 1 ? 1 : 0));
  const losses = rpnLoss(
    {
      logits: tensorFromArray(logits, [batch, anchors]),
      deltas: tensorFromArray(deltas, [batch * anchors, 4]),
      levelLengths: [anchors],
    },
    {
      positive: tensorFromArray(positive, [batch, anchors]),
      negative: tensorFromArray(negative, [batch, anchors]),
      regressionTargets: tensorFromArray(regression, [batch, anchors, 4]),
    },
    count,
  );
  assert.deepEqual(losses.gradLogits.shape, [batch, anchors]);
  assert.deepEqual(losses.gradDeltas.shape, [batch * anchors, 4]);
  const [objectness, boxReg, gradLogits, gradDeltas] = await readTensors([
    losses.objectness,
    losses.boxReg,
    losses.gradLogits,
    losses.gradDeltas,
  ]);
  let bce = 0, box = 0;
  const refGradLogits = new Float64Array(batch * anchors);
  const refGradDeltas = new Float64Array(batch * anchors * 4);
  for (let i = 0; i < batch * anchors; i++) {
    if (positive[i] || negative[i]) {
      const x = logits[i], t = positive[i];
      bce += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
      refGradLogits[i] = (1 / (1 + Math.exp(-x)) - t) / count;
    }
    if (positive[i]) {
      for (let k = 0; k < 4; k++) {
        const [l, g] = smoothL1(deltas[4 * i + k] - regression[4 * i + k], 1 / 9);
        box += l;
        refGradDeltas[4 * i + k] = g / count;
      }
    }
  }
  assertClose(objectness, [bce / count], 1e-5, "objectness");
  assertClose(boxReg, [box / count], 1e-5, "box regression");
  assertClose(gradLogits, refGradLogits, 1e-5, "d objectness / d logits");
  assertClose(gradDeltas, refGradDeltas, 1e-5, "d box regression / d deltas");
});

Deno.test("the RPN head recorded for training gives inference's outputs bit for bit, and its tape", async () => {
  const model = deterministicModel({ preset: "small" });
  const params = model.params!;
  const images = tensorFromArray(randomFloats(2 * 64 * 96 * 3, 5), [2, 64, 96, 3]);
  const pyramid = fpnForward(params, resnetForward(params, images));
  const inference = rpnHead(params, pyramid);
  const recorded = rpnHead(params, pyramid, { record: true });
  assert.ok(!("tape" in inference), "inference keeps no tape");
  assert.deepEqual(recorded.levelLengths, inference.levelLengths);
  assert.equal(recorded.tape.pyramid, pyramid);
  assert.deepEqual(
    recorded.tape.hidden.map((h) => h.shape),
    pyramid.map((p) => p.shape), // the 3×3 conv keeps the channels
  );
  const [a, b, c, d] = await readTensors([
    inference.logits,
    recorded.logits,
    inference.deltas,
    recorded.deltas,
  ]);
  assert.deepEqual(b, a);
  assert.deepEqual(d, c);
});
