import assert from "node:assert/strict";
import { buildModel, disposeModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import {
  createOptimizer,
  disposeOptimizer,
  optimizerStep,
  trainableParameters,
  zeroGradients,
} from "../../model/optimizer.ts";
import { learningRate } from "../../model/lr_schedule.ts";
import { fillInPlace } from "../../ops/elementwise.ts";
import { flagNonFinite } from "../../ops/optimizer.ts";
import { readTensors, tensorFromArray } from "../../ops/tensor.ts";
import { loadFixture } from "../_fixtures.ts";
import { deterministicTensor } from "../_det_weights.ts";
import { resolveConfig } from "../../model/config.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import { writeSafetensors } from "../../data/weights/safetensors.ts";
import { assertClose } from "../_util.ts";

const TORCH = loadFixture("ops/optimizer_trainable.json").meta.small as Record<string, [string, number[]][]>;
/** Deterministic small-preset weights (tests/_det_weights.ts), as safetensors bytes. */
const WEIGHTS = writeSafetensors(
  new Map(
    expectedStateDict(resolveConfig({ preset: "small" })).map(({ name, shape }) => [
      name,
      { shape: [...shape], data: deterministicTensor(name, shape) },
    ]),
  ),
);
const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** The packed shape of a torchvision parameter (conv/linear/convT weights and biases). */
function packedShape(name: string, shape: number[]): number[] {
  if (name.includes("conv5_mask")) return name.endsWith("weight") ? [shape[0], 4 * shape[1]] : [4 * shape[0]];
  if (shape.length === 1) return [ceil4(shape[0])];
  if (shape.length === 2) return [shape[1], ceil4(shape[0])];
  return [shape[1] * shape[2] * shape[3], ceil4(shape[0])];
}

for (const trainable of [3, 5]) {
  Deno.test(`trainableParameters lists torchvision's requires_grad parameters (trainable layers ${trainable})`, async () => {
    const model = await buildModel({ preset: "small", trainableBackboneLayers: trainable });
    await loadWeights(model, WEIGHTS);
    const list = trainableParameters(model);
    assert.deepEqual(list.map((p) => p.name), TORCH[trainable].map(([n]) => n));
    list.forEach((p, i) => {
      assert.deepEqual(p.param.shape, packedShape(p.name, TORCH[trainable][i][1]), p.name);
      assert.equal(p.columnScale !== null, p.name.startsWith("backbone.body."), p.name);
    });
    for (const p of list) p.columnScale?.dispose();
    disposeModel(model);
  });
}

Deno.test("createOptimizer + optimizerStep: scheduled lr, SGD update of every entry, skip flag honoured", async () => {
  const model = await buildModel({ preset: "small" });
  await loadWeights(model, WEIGHTS);
  const schedule = { lr: 0.02, warmupIters: 4, warmupFactor: 0.25, milestones: [2], gamma: 0.5 };
  const opt = createOptimizer(model, { type: "sgd", momentum: 0.9, weightDecay: 1e-4, ...schedule });
  const fc7 = opt.entries.find((e) => e.name === "roi_heads.box_head.fc7.weight")!;
  const [p0] = await readTensors([fc7.param]);
  for (const e of opt.entries) fillInPlace(e.grad, 0.01);
  const info = optimizerStep(opt);
  assert.equal(info.lr, learningRate(0, schedule));
  assert.equal(info.gradNorm, null);
  // an all-zero skip flag from finite losses: the update happened
  const [p1, skip] = await readTensors([fc7.param, info.skip]);
  assert.deepEqual([...skip], [0]);
  const expected = p0.map((w) => w - info.lr * (0.01 + 1e-4 * w));
  assertClose(p1, expected, 1e-6, "fc7 after one SGD step");
  // a non-finite loss: nothing changes, momentum buffers included
  zeroGradients(opt.entries);
  const before = await readTensors(opt.entries.flatMap((e) => [e.param, ...e.state]));
  const bad = flagNonFinite(tensorFromArray(new Float32Array([1, Infinity]), [2]));
  const second = optimizerStep(opt, { skip: bad });
  assert.equal(second.lr, learningRate(1, schedule));
  assert.equal(opt.stepCount, 2);
  const after = await readTensors(opt.entries.flatMap((e) => [e.param, ...e.state]));
  after.forEach((t, i) => assert.deepEqual(t, before[i]));
  disposeOptimizer(opt);
  disposeModel(model);
});

Deno.test("AdamW with clipping over the small model: finite norm, every param moves, padding stays 0", async () => {
  const model = await buildModel({ preset: "small" });
  await loadWeights(model, WEIGHTS);
  const opt = createOptimizer(model, { type: "adamw", lr: 1e-3, clipGradNorm: 0.5 });
  for (const e of opt.entries) fillInPlace(e.grad, 0.01);
  const bias = opt.entries.find((e) => e.name === "rpn.head.cls_logits.bias")!; // 3 anchors → padded to 4
  bias.grad.dispose();
  bias.grad = tensorFromArray(new Float32Array([0.01, 0.01, 0.01, 0]), [4]); // the backward's zero padding
  const cls = opt.entries.find((e) => e.name === "roi_heads.box_predictor.cls_score.weight")!;
  const [before] = await readTensors([cls.param]);
  const { gradNorm } = optimizerStep(opt);
  const [norm, after, b, m, v] = await readTensors([gradNorm!, cls.param, bias.param, ...bias.state]);
  assert.ok(Number.isFinite(norm[0]) && norm[0] > 0.5, `norm ${norm[0]}`);
  assert.ok(after.every((x, i) => x !== before[i]));
  assert.deepEqual([b[3], m[3], v[3]], [0, 0, 0]);
  assert.ok(b[0] !== 0 && m[0] !== 0);
  disposeOptimizer(opt);
  disposeModel(model);
});

Deno.test("createOptimizer rejects bad options and duplicate parameters", () => {
  const p = { name: "w", param: tensorFromArray(new Float32Array(4), [4]), columnScale: null };
  assert.throws(() => createOptimizer([p], { type: "sgd", lr: 0.1, momentum: 1 }), /momentum/);
  assert.throws(() => createOptimizer([p], { type: "adamw", lr: 0.1, betas: [0.9, 1] }), /betas/);
  assert.throws(() => createOptimizer([p], { type: "adamw", lr: 0.1, eps: 0 }), /eps/);
  assert.throws(() => createOptimizer([p], { type: "sgd", lr: -1 }), /lr/);
  assert.throws(() => createOptimizer([p, p], { type: "sgd", lr: 0.1 }), /twice/);
  // @ts-expect-error: an unknown optimizer type
  assert.throws(() => createOptimizer([p], { type: "rmsprop", lr: 0.1 }), /type/);
});
