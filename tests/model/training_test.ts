import assert from "node:assert/strict";
import {
  buildModel,
  createOptimizer,
  generateShapesItem,
  loadCheckpoint,
  loadWeights,
  NonFiniteLossError,
  saveCheckpoint,
  trainStep,
} from "../../mod.ts";
import { readTensors } from "../../ops/mod.ts";
import { SUBGROUP_GEMM } from "../../ops/conv2d.ts";
import { WGRAD_SUBGROUP } from "../../ops/gemm_backward.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;

function batch(step: number) {
  const items = [0, 1].map((i) => generateShapesItem(1000 + 2 * step + i, { width: 128, height: 128 }));
  return { images: items.map((x) => x.image), targets: items.map((x) => x.target) };
}

async function setup() {
  const model = await buildModel({ preset: "small" });
  await loadWeights(model, WEIGHTS);
  const opt = createOptimizer(model, {
    type: "sgd",
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 1e-4,
    warmupIters: 2,
  });
  return { model, opt };
}

Deno.test("trainStep lowers the loss on a repeated batch, and resuming a checkpoint continues bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await setup();
    const first = await trainStep(a.model, batch(0), a.opt, { seed: 5 });
    for (const [k, v] of Object.entries(first)) assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
    await trainStep(a.model, batch(1), a.opt, { seed: 5 });
    const path = `${dir}/checkpoint.safetensors`;
    await saveCheckpoint(path, a.model, a.opt, { rngState: { note: "test" } });
    const after = [
      await trainStep(a.model, batch(2), a.opt, { seed: 5 }),
      await trainStep(a.model, batch(3), a.opt, { seed: 5 }),
    ];
    const paramsA = await readTensors(a.opt.entries.map((e) => e.param));

    const b = await setup();
    const { step, rngState } = await loadCheckpoint(path, b.model, b.opt);
    assert.equal(step, 2);
    assert.deepEqual(rngState, { note: "test" });
    const resumed = [
      await trainStep(b.model, batch(2), b.opt, { seed: 5 }),
      await trainStep(b.model, batch(3), b.opt, { seed: 5 }),
    ];
    assert.deepEqual(resumed, after, "the same losses after resuming");
    const paramsB = await readTensors(b.opt.entries.map((e) => e.param));
    paramsA.forEach((p, i) => assert.deepEqual(paramsB[i], p, a.opt.entries[i].name));

    // Training on one batch again and again lowers its loss.
    const fixed = batch(7);
    const start = await trainStep(b.model, fixed, b.opt, { seed: 1 });
    let last = start;
    for (let i = 0; i < 4; i++) last = await trainStep(b.model, fixed, b.opt, { seed: 1 });
    assert.ok(last.total < start.total, `loss ${start.total} → ${last.total}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a non-finite loss stops the step, names the loss and leaves the weights untouched", async () => {
  const { model, opt } = await setup();
  // Inputs are validated (a NaN box is an InvalidInputError before any GPU work), so the NaN comes from
  // the weights: the classifier's bias, written straight into the parameter the forward reads.
  const bias = opt.entries.find((e) => e.name.endsWith("box_predictor.cls_score.bias"));
  assert.ok(bias, "the classifier bias is trainable");
  bias.param.gpu.device.queue.writeBuffer(bias.param.buffer, bias.param.byteOffset, new Float32Array([NaN]));
  const before = await readTensors(opt.entries.map((e) => e.param));
  await assert.rejects(
    () => trainStep(model, batch(0), opt),
    (e: Error) => e instanceof NonFiniteLossError && /rpn|box|classifier|mask/i.test(e.message),
  );
  const after = await readTensors(opt.entries.map((e) => e.param));
  before.forEach((p, i) => assert.deepEqual(after[i], p, opt.entries[i].name));
  assert.equal(opt.stepCount, 0);
});

// The GEMM tile is chosen per adapter and shape (ops/conv2d.ts SUBGROUP_GEMM: subgroup broadcasts on
// lavapipe); the choice must never change the bits: same order of the sums in every kernel, and the weight
// gradient's split-K chunks fixed by the plain tile.
Deno.test("trainStep gives the same losses and weights bit for bit with and without the subgroup GEMM tiles", async () => {
  const saved = { ...SUBGROUP_GEMM };
  const savedWgrad = { ...WGRAD_SUBGROUP };
  const runs: { losses: unknown[]; params: Float32Array[] }[] = [];
  try {
    for (const subgroup of [true, false]) {
      SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = subgroup;
      SUBGROUP_GEMM.minK = 0; // every GEMM that can take the subgroup tile does
      Object.assign(WGRAD_SUBGROUP, { minRows: 0, maxNarrowCols4: Infinity });
      const { model, opt } = await setup();
      const losses = [
        await trainStep(model, batch(0), opt, { seed: 3 }),
        await trainStep(model, batch(1), opt, { seed: 3 }),
      ];
      runs.push({ losses, params: await readTensors(opt.entries.map((e) => e.param)) as Float32Array[] });
    }
  } finally {
    Object.assign(SUBGROUP_GEMM, saved);
    Object.assign(WGRAD_SUBGROUP, savedWgrad);
  }
  assert.deepEqual(runs[0].losses, runs[1].losses);
  runs[0].params.forEach((p, i) => assert.deepEqual(runs[1].params[i], p, `param ${i}`));
});
