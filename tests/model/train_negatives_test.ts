// Images without objects (torchvision's negatives) train: a batch mixing one with an annotated image,
// and a batch of negatives only, whose losses are what torchvision's definitions give with no foreground
// (box and mask regression 0: no positive sample; objectness and classification > 0: all background).
import assert from "node:assert/strict";
import { buildModel, createOptimizer, generateShapesItem, loadWeights, trainStep } from "../../mod.ts";
import { readTensors } from "../../ops/mod.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;
const empty = () => ({ boxes: new Float32Array(0), labels: new Int32Array(0), masks: new Uint8Array(0) });

Deno.test("trainStep takes images with zero targets: mixed and all-negative batches give finite losses", async () => {
  const model = await buildModel({ preset: "small", minSize: 64, maxSize: 64 });
  await loadWeights(model, WEIGHTS);
  const opt = createOptimizer(model, {
    type: "sgd",
    lr: 0.001,
    momentum: 0.9,
    weightDecay: 1e-4,
    warmupIters: 1,
  });
  const [a, b] = [
    generateShapesItem(301, { width: 64, height: 64 }),
    generateShapesItem(302, { width: 64, height: 64 }),
  ];
  const mixed = await trainStep(model, { images: [a.image, b.image], targets: [a.target, empty()] }, opt, {
    seed: 2,
  });
  for (const [k, v] of Object.entries(mixed)) assert.ok(Number.isFinite(v) && v >= 0, `mixed ${k} = ${v}`);
  assert.ok(mixed.boxReg > 0 && mixed.mask > 0, JSON.stringify(mixed));

  const before = await readTensors(opt.entries.map((e) => e.param));
  const negatives = await trainStep(model, { images: [a.image, b.image], targets: [empty(), empty()] }, opt, {
    seed: 2,
  });
  for (const [k, v] of Object.entries(negatives)) assert.ok(Number.isFinite(v), `negatives ${k} = ${v}`);
  assert.equal(negatives.rpnBoxReg, 0);
  assert.equal(negatives.boxReg, 0);
  assert.equal(negatives.mask, 0);
  assert.ok(negatives.rpnObjectness > 0 && negatives.classifier > 0, JSON.stringify(negatives));
  const after = await readTensors(opt.entries.map((e) => e.param));
  const changed = after.filter((p, i) => p.some((v, j) => v !== before[i][j])).length;
  assert.ok(changed > 0, "the negatives' background losses update the weights");
  for (const p of after) assert.ok(p.every(Number.isFinite));
});
