/**
 * The mask head's training pass runs only on the positives (compacted to the front, every op bounded by
 * their GPU-side count): its losses and every gradient must equal, bit for bit, the same step with every
 * op run over all the slots (`setBoundedDispatch(false)`), where the empty rows are computed and give
 * exactly zero gradient.
 */
import assert from "node:assert/strict";
import { createOptimizer, generateShapesItem } from "../../mod.ts";
import { getGpu, readTensors, tidy } from "../../ops/mod.ts";
import { zeroGradients } from "../../model/optimizer.ts";
import { compactFlags } from "../../ops/detection.ts";
import { setBoundedDispatch } from "../../ops/kernel.ts";
import { tensorFromArray } from "../../ops/tensor.ts";
import { forwardBackward } from "../../model/train_step.ts";
import { readGradients } from "../../model/train_params.ts";
import { deterministicModel } from "../../tools/bench/_models.ts";
import { relativeError } from "../_util.ts";

await getGpu();

Deno.test("compactFlags lists the flagged positions in order, then −1, with their count", async () => {
  for (const n of [1, 7, 256, 300, 1029]) {
    const flags = Uint32Array.from({ length: n }, (_, i) => ((i * 7919) % 13 < 4 ? 1 : 0));
    const { index, total } = compactFlags(tensorFromArray(flags, [n]));
    const [idx, t] = await readTensors([index, total]);
    const expected = [...flags.keys()].filter((i) => flags[i] !== 0);
    assert.equal(t[0], expected.length, `n ${n}`);
    assert.deepEqual([...idx], [...expected, ...Array(n - expected.length).fill(-1)], `n ${n}`);
  }
});

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
  for (const [name, g] of full.grads) {
    if (name.startsWith("roi_heads.") || name.startsWith("rpn.")) {
      assert.deepEqual(bounded.grads.get(name), g, `gradient of ${name}`);
    } else {
      // the pyramid's gradient comes from RoIAlign's backward, an atomic scatter whose order (and so the
      // last bits of the backbone's and FPN's gradients) varies from run to run
      const err = relativeError(bounded.grads.get(name)!, g);
      assert.ok(err <= 1e-5, `gradient of ${name}: relative error ${err}`);
    }
  }
  assert.ok(full.grads.get("roi_heads.mask_head.0.0.weight")!.some((v) => v !== 0));
});
