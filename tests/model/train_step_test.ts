import assert from "node:assert/strict";
import { buildModel, createOptimizer, loadWeights } from "../../mod.ts";
import { readTensors, tidy } from "../../ops/mod.ts";
import { zeroGradients } from "../../model/optimizer.ts";
import { forwardBackward } from "../../model/train_step.ts";
import { readGradients } from "../../model/train_params.ts";
import { loadFixture } from "../_fixtures.ts";
import { relativeError } from "../_util.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;
const fixture = loadFixture("model/small_train_step.json");
const meta = fixture.meta as {
  losses: Record<string, number>;
  grads: Record<string, { shape: number[]; sum: number; sumsq: number; abs_max: number }>;
  sample_stride: number;
};

function batchFromFixture() {
  const images = [], targets = [];
  for (let i = 0; i < 2; i++) {
    const image = fixture.tensors[`image_${i}`];
    const [height, width] = image.shape;
    images.push({ data: image.data as Uint8Array, width, height });
    targets.push({
      boxes: fixture.tensors[`boxes_${i}`].data as Float32Array,
      labels: fixture.tensors[`labels_${i}`].data as Int32Array,
      masks: fixture.tensors[`masks_${i}`].data as Uint8Array,
    });
  }
  return { images, targets };
}

Deno.test("training step: the five losses match torchvision to 1e-4 and every gradient to 1e-3", async () => {
  // Sampling made deterministic as in the fixture: batches larger than every candidate set, positive
  // fraction 1 (torchvision then samples everything too).
  const model = await buildModel({
    preset: "small",
    rpnBatchSizePerImage: 10_000_000,
    rpnPositiveFraction: 1,
    boxBatchSizePerImage: 10_000_000,
    boxPositiveFraction: 1,
    trainableBackboneLayers: 5, // the stem and every stage: the whole backward is compared
  });
  await loadWeights(model, WEIGHTS);
  const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
  zeroGradients(opt.entries);
  const losses = tidy(() => forwardBackward(model, opt, batchFromFixture(), { seed: 0, step: 0 }));
  const names = {
    rpnObjectness: "loss_objectness",
    rpnBoxReg: "loss_rpn_box_reg",
    classifier: "loss_classifier",
    boxReg: "loss_box_reg",
    mask: "loss_mask",
  } as const;
  const values = await readTensors(Object.keys(names).map((k) => losses[k as keyof typeof names]));
  const log: string[] = [];
  Object.entries(names).forEach(([ours, theirs], i) => {
    const got = (values[i] as Float32Array)[0], want = meta.losses[theirs];
    const err = Math.abs(got - want) / Math.abs(want);
    log.push(`${ours}: ${got} vs ${want} (rel ${err.toExponential(2)})`);
    assert.ok(err <= 1e-4, `${ours}: ${got} vs torchvision ${want}`);
  });
  const grads = await readGradients(model.config, model.params!, opt.entries);
  assert.deepEqual([...grads.keys()].sort(), Object.keys(meta.grads).sort(), "the same parameters train");
  let worst = 0, worstName = "";
  for (const [name, stats] of Object.entries(meta.grads)) {
    const g = grads.get(name)!;
    const reference = fixture.tensors[`grad_sample:${name}`].data;
    const sample = new Float32Array(reference.length);
    for (let k = 0; k < sample.length; k++) sample[k] = g[k * meta.sample_stride];
    let sumsq = 0;
    for (const v of g) sumsq += v * v;
    const err = Math.max(relativeError(sample, reference), Math.abs(Math.sqrt(sumsq / stats.sumsq) - 1));
    if (err > worst) [worst, worstName] = [err, name];
    assert.ok(err <= 1e-3, `gradient of ${name}: relative error ${err.toExponential(3)}`);
  }
  log.push(`worst gradient error ${worst.toExponential(2)} (${worstName}) over ${grads.size} tensors`);
  if (Deno.env.get("VERBOSE")) console.log(log.join("\n"));
});
