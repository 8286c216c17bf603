import assert from "node:assert/strict";
import { buildModel, loadWeights } from "../../mod.ts";
import { createOptimizer } from "../../model/optimizer.ts";
import { exportParameters, layerGradients } from "../../model/train_params.ts";
import type { StateDict } from "../../model/state_dict.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;

Deno.test("trainable parameters export back (unfolded, torchvision layout) to the state_dict they came from", async () => {
  const model = await buildModel({ preset: "small", trainableBackboneLayers: 3 });
  await loadWeights(model, WEIGHTS);
  const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
  const names = opt.entries.map((e) => e.name);
  assert.ok(names.includes("backbone.body.layer2.0.conv1.weight"), "layer2 trains with 3 trainable layers");
  assert.ok(!names.some((n) => n.startsWith("backbone.body.layer1") || n === "backbone.body.conv1.weight"));
  const grads = layerGradients(model.config, model.params!, opt.entries);
  assert.ok(grads.has(model.params!.fc6) && !grads.has(model.params!.stem), "stem frozen, fc6 trains");
  const exported: StateDict = new Map();
  await exportParameters(model.config, model.params!, opt.entries, exported);
  for (const name of names) {
    const a = exported.get(name)!, b = model.stateDict!.get(name)!;
    assert.deepEqual(a.shape, b.shape, name);
    let worst = 0, ref = 0;
    for (let i = 0; i < b.data.length; i++) {
      worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
      ref = Math.max(ref, Math.abs(b.data[i]));
    }
    assert.ok(worst <= 1e-6 * ref, `${name}: ${worst} (folding round trip)`);
  }
});
