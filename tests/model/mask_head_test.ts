/**
 * The mask head's training forward (`maskHeadOnPositives`) runs only on the positives (compacted to the
 * front, every op of the head and of its backward bounded by their GPU-side count): its losses and every
 * gradient must equal, bit for bit, the same step with every op run over all the slots
 * (`setBoundedDispatch(false)`), where the empty rows are computed and give exactly zero gradient.
 */
import assert from "node:assert/strict";
import { createOptimizer, generateShapesItem } from "../../mod.ts";
import { getGpu, readTensors, tidy } from "../../ops/mod.ts";
import { zeroGradients } from "../../model/optimizer.ts";
import { fpnForward } from "../../model/fpn.ts";
import { maskHead, maskRcnnLoss } from "../../model/mask_head.ts";
import { resnetForward } from "../../model/resnet.ts";
import { setBoundedDispatch } from "../../ops/kernel.ts";
import { tensorFromArray } from "../../ops/tensor.ts";
import { forwardBackward } from "../../model/train_step.ts";
import { readGradients } from "../../model/train_params.ts";
import { deterministicModel } from "../../tools/bench/_models.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

await getGpu();

Deno.test("a training step with the mask head bounded by the positives equals the full one (heads bit for bit)", async () => {
  const model = deterministicModel({ preset: "small", trainableBackboneLayers: 5 });
  const items = [0, 1].map((i) => generateShapesItem(31 + i, { width: 128, height: 128 }));
  const batch = { images: items.map((x) => x.image), targets: items.map((x) => x.target) };
  const run = async (bounded: boolean) => {
    setBoundedDispatch(bounded);
    try {
      const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
      zeroGradients(opt.entries);
      const losses = tidy(() => forwardBackward(model, opt, batch, { seed: 3, step: 0 }));
      const values = await readTensors(Object.values(losses));
      return { values, grads: await readGradients(model.config, model.params!, opt.entries) };
    } finally {
      setBoundedDispatch(true);
    }
  };
  const bounded = await run(true);
  const full = await run(false);
  assert.deepEqual(bounded.values, full.values);
  assert.ok((full.values.at(-1) as Float32Array)[0] > 0, "a mask loss from real positives");
  assert.deepEqual([...bounded.grads.keys()], [...full.grads.keys()]);
  // every gradient, the backbone's and FPN's included: RoIAlign's backward is the deterministic gather
  for (const [name, g] of full.grads) assert.deepEqual(bounded.grads.get(name), g, `gradient of ${name}`);
  assert.ok(full.grads.get("roi_heads.mask_head.0.0.weight")!.some((v) => v !== 0));
});

Deno.test("maskRcnnLoss over two passes matches the float64 reference of maskrcnn_loss", async () => {
  const [classes, m, positives] = [3, 28, 3];
  const rowsPerPass = [3, 2];
  let seed = 10;
  const passes = rowsPerPass.map((rows) => ({
    labels: randomInts(rows, seed++, 1, classes),
    positive: Uint32Array.from({ length: rows }, (_, r) => (r < rows - 1 ? 1 : 0)), // the last row is empty
    targets: Float32Array.from(randomFloats(rows * m * m, seed++, 0, 1), (v) => (v > 0.5 ? 1 : 0)),
    logits: randomFloats(rows * m * m * classes, seed++, -4, 4),
  }));
  const losses = maskRcnnLoss(
    passes.map((p, i) => ({
      labels: tensorFromArray(p.labels, [rowsPerPass[i]]),
      positive: tensorFromArray(p.positive, [rowsPerPass[i]]),
      targets: tensorFromArray(p.targets, [rowsPerPass[i], m, m]),
      head: { logits: tensorFromArray(p.logits, [rowsPerPass[i], m, m, classes]) },
    })),
    positives,
  );
  const values = await readTensors([losses.mask, ...losses.gradLogits]);
  let bce = 0;
  const scale = positives * m * m;
  passes.forEach((p, i) => {
    const ref = new Float64Array(p.logits.length);
    for (let r = 0; r < rowsPerPass[i]; r++) {
      if (!p.positive[r]) continue;
      for (let px = 0; px < m * m; px++) {
        const at = (r * m * m + px) * classes + p.labels[r];
        const x = p.logits[at], t = p.targets[r * m * m + px];
        bce += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
        ref[at] = (1 / (1 + Math.exp(-x)) - t) / scale;
      }
    }
    assertClose(values[1 + i], ref, 1e-5, `d mask / d logits of pass ${i}`);
  });
  assertClose(values[0], [bce / scale], 1e-5, "mask loss");
});

Deno.test("maskHead: training's recorded pass equals inference's bounded pass bit for bit on the occupied rows", async () => {
  const model = deterministicModel({ preset: "small" });
  const params = model.params!;
  const images = tensorFromArray(randomFloats(64 * 64 * 3, 7), [1, 64, 64, 3]);
  const pyramid = fpnForward(params, resnetForward(params, images));
  const rois = tensorFromArray(
    new Float32Array([0, 8, 8, 40, 40, 0, 0, 30, 20, 60, 0, 2, 3, 63, 50, 0, 10, 10, 12, 30]),
    [4, 5],
  );
  const inference = maskHead(params, pyramid, rois, [[64, 64]], {
    occupied: { counts: tensorFromArray(new Uint32Array([3]), [1]) },
  });
  const recorded = maskHead(params, pyramid, rois, [[64, 64]], { record: true });
  assert.equal(recorded.tape.activations.length, 1 + model.config.maskHeadLayers.length);
  const [a, b] = await readTensors([inference, recorded.logits]);
  const row = a.length / 4;
  assert.deepEqual(a.subarray(0, 3 * row), b.subarray(0, 3 * row));
});
