import assert from "node:assert/strict";
import { buildModel, loadWeights } from "../../mod.ts";
import { exportTrainable, refreshFolded, trainableParams } from "../../model/train_params.ts";
import { readTensors } from "../../ops/tensor.ts";
import { relativeError } from "../_util.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;

Deno.test("trainable parameters export back to the state_dict they were packed from", async () => {
  const model = await buildModel({ preset: "small", trainableBackboneLayers: 3 });
  await loadWeights(model, WEIGHTS);
  const original = model.stateDict!;
  const trainable = trainableParams(model.config, model.params!, original);
  const names = trainable.list.map((p) => p.name);
  assert.ok(names.includes("backbone.body.layer2.0.conv1.weight"), "layer2 trains with 3 trainable layers");
  assert.ok(!names.some((n) => n.startsWith("backbone.body.layer1") || n === "backbone.body.conv1.weight"));
  assert.ok(
    names.includes("roi_heads.box_head.fc6.weight") &&
      names.includes("roi_heads.mask_predictor.conv5_mask.bias"),
  );
  const exported = new Map();
  await exportTrainable(trainable, exported);
  for (const name of names) {
    const a = exported.get(name)!, b = original.get(name)!;
    assert.deepEqual(a.shape, b.shape, name);
    assert.equal(relativeError(a.data, b.data), 0, name);
  }
  // Refolding the masters reproduces the folded weights the forward was packed with.
  const folded = trainable.list.filter((p) => p.folded);
  const before = await readTensors(folded.map((p) => p.folded!.weight));
  refreshFolded(trainable);
  const after = await readTensors(folded.map((p) => p.folded!.weight));
  folded.forEach((p, i) => assert.ok(relativeError(after[i], before[i]) < 1e-6, p.name));
});
