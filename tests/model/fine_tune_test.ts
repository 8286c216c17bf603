/**
 * Fine-tuning starts: predictor replacement changes exactly the six predictor tensors (every other tensor
 * equals the checkpoint's, bit for bit; the new ones equal `initialStateDict`'s, i.e. torchvision's
 * initialisers), a classification ResNet loads into the body only, and `initialPredictor` holding other
 * tensors is a typed error.
 * @module
 */
import assert from "node:assert/strict";
import { loadForFineTuning } from "../../mod.ts";
import { initialStateDict } from "../../model/init.ts";
import { buildModel, disposeModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import { expectedStateDict, isPredictorName } from "../../model/state_dict_names.ts";
import { loadStateDict, stateDictToSafetensors } from "../../data/weights/load_state_dict.ts";
import { PredictorTensorsError, StateDictMismatchError } from "../../model/weights_errors.ts";
import { writeSafetensors } from "../../data/weights/safetensors.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;

Deno.test("loadForFineTuning replaces only the predictor tensors when the class count differs", async () => {
  const checkpoint = await loadStateDict(WEIGHTS);
  const model = await buildModel({ preset: "small", numClasses: 7 });
  const report = await loadForFineTuning(model, { weights: WEIGHTS, seed: 3 });
  const predictors = expectedStateDict(model.config).filter((t) => isPredictorName(t.name));
  assert.deepEqual(report.replaced.map((r) => r.name), predictors.map((t) => t.name));
  assert.deepEqual(report.replaced[0], {
    name: "roi_heads.box_predictor.cls_score.weight",
    from: [4, 128],
    to: [7, 128],
  });
  const fresh = initialStateDict(model.config, 3);
  for (const [name, tensor] of model.stateDict!) {
    const want = isPredictorName(name) ? fresh.get(name)! : checkpoint.get(name)!;
    assert.deepEqual(tensor.shape, want.shape, name);
    assert.deepEqual(tensor.data, want.data, name);
  }
  assert.equal(report.loaded + report.initialised, model.stateDict!.size);
  assert.equal(report.initialised, 6);
  disposeModel(model);

  // The same class count: nothing is replaced.
  const same = await buildModel({ preset: "small" });
  assert.deepEqual((await loadForFineTuning(same, { weights: WEIGHTS })).replaced, []);
  assert.deepEqual(
    same.stateDict!.get("roi_heads.box_predictor.cls_score.weight")!.data,
    checkpoint.get("roi_heads.box_predictor.cls_score.weight")!.data,
  );
  disposeModel(same);
});

Deno.test("loadForFineTuning still refuses a checkpoint of another architecture, naming the tensors", async () => {
  const model = await buildModel({ preset: "small", numClasses: 7, fpnChannels: 32 });
  await assert.rejects(
    () => loadForFineTuning(model, { weights: WEIGHTS }),
    (e: Error) => e instanceof StateDictMismatchError && e.message.includes("backbone.fpn.inner_blocks.0.0"),
  );
});

Deno.test("backboneWeights loads a classification ResNet (torchvision names, fc ignored) into the body only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = await buildModel({ preset: "small", numClasses: 3 });
    // A classification checkpoint: the body under resnet names, with a classifier and BN counters.
    const source = initialStateDict(model.config, 99);
    const classifier = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of source) {
      if (!name.startsWith("backbone.body.")) continue;
      const data = t.data.map((v, i) => v + (i % 7) * 0.01); // not what initialStateDict draws
      classifier.set(name.slice("backbone.body.".length), { shape: t.shape, data });
    }
    classifier.set("fc.weight", { shape: [10, 2048], data: new Float32Array(20480).fill(0.5) });
    classifier.set("fc.bias", { shape: [10], data: new Float32Array(10) });
    classifier.set("bn1.num_batches_tracked", { shape: [], data: new Float32Array([7]) });
    const path = `${dir}/resnet.safetensors`;
    await Deno.writeFile(path, writeSafetensors(classifier));
    const report = await loadForFineTuning(model, { backboneWeights: path, seed: 5 });
    const fresh = initialStateDict(model.config, 5);
    let body = 0;
    for (const [name, tensor] of model.stateDict!) {
      if (name.startsWith("backbone.body.")) {
        body++;
        assert.deepEqual(tensor.data, classifier.get(name.slice("backbone.body.".length))!.data, name);
      } else {
        assert.deepEqual(tensor.data, fresh.get(name)!.data, name);
      }
    }
    assert.equal(report.loaded, body);
    assert.deepEqual(report.replaced, []);
    assert.ok(![...model.stateDict!.keys()].some((n) => n.includes("fc.")));

    // A detection checkpoint is not a classification one: its other tensors are named.
    const wrong = `${dir}/detector.safetensors`;
    await Deno.writeFile(wrong, stateDictToSafetensors(source));
    await assert.rejects(
      () => loadForFineTuning(model, { backboneWeights: wrong }),
      (e: Error) => e instanceof StateDictMismatchError && e.message.includes("rpn.head.conv.0.0.weight"),
    );
    // A deeper ResNet's body has the wrong block count: missing / unexpected tensors named.
    classifier.set("layer1.1.conv1.weight", classifier.get("layer1.0.conv1.weight")!);
    await Deno.writeFile(path, writeSafetensors(classifier));
    await assert.rejects(
      () => loadForFineTuning(model, { backboneWeights: path }),
      (e: Error) =>
        e instanceof StateDictMismatchError && e.unexpected.includes("backbone.body.layer1.1.conv1.weight"),
    );
    disposeModel(model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initialPredictor holding non-predictor tensors is a PredictorTensorsError", async () => {
  const model = await buildModel({ preset: "small", numClasses: 7 });
  const everything = initialStateDict(model.config, 1);
  await assert.rejects(
    () => loadWeights(model, WEIGHTS, { skipPredictor: true, initialPredictor: everything }),
    (e: Error) =>
      e instanceof PredictorTensorsError && e.notPredictor.includes("backbone.body.conv1.weight") &&
      !e.notPredictor.some(isPredictorName),
  );
  assert.equal(model.stateDict, null, "nothing was loaded");
});

Deno.test("loadForFineTuning takes a state_dict in memory as it takes its file; both sources is a TypeError before reading", async () => {
  const fromFile = await buildModel({ preset: "small", numClasses: 7 });
  const fromMemory = await buildModel({ preset: "small", numClasses: 7 });
  const fileReport = await loadForFineTuning(fromFile, { weights: WEIGHTS, seed: 2 });
  const memoryReport = await loadForFineTuning(fromMemory, {
    weights: await loadStateDict(WEIGHTS),
    seed: 2,
  });
  assert.deepEqual(memoryReport, fileReport);
  assert.deepEqual([...fromMemory.stateDict!.keys()], [...fromFile.stateDict!.keys()]);
  for (const [name, t] of fromFile.stateDict!) {
    assert.deepEqual(fromMemory.stateDict!.get(name)!.data, t.data, name);
  }
  // neither file exists: the argument error comes first, not a file error
  await assert.rejects(
    () => loadForFineTuning(fromFile, { weights: "missing.pth", backboneWeights: "missing-resnet.pth" }),
    (e: Error) => e instanceof TypeError && /not both/.test(e.message),
  );
  disposeModel(fromFile);
  disposeModel(fromMemory);
});
