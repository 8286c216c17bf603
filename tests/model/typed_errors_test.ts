/**
 * model/ throws typed errors: using a model before it has weights is a `NoWeightsError` naming the function,
 * a duplicated optimizer parameter an `InvalidInputError` — never a plain `Error`.
 */
import assert from "node:assert";
import {
  buildModel,
  createOptimizer,
  detect,
  InvalidInputError,
  NoWeightsError,
  saveWeights,
} from "../../mod.ts";
import { trainableParameters } from "../../model/optimizer.ts";
import { tensorFromArray } from "../../ops/tensor.ts";

Deno.test("a model without weights throws NoWeightsError naming the function", async () => {
  const model = await buildModel({ preset: "small" });
  assert.throws(
    () => saveWeights(model),
    (e) => e instanceof NoWeightsError && /^saveWeights: /.test(e.message),
  );
  assert.throws(
    () => trainableParameters(model),
    (e) => e instanceof NoWeightsError && /^trainableParameters: /.test(e.message),
  );
  const image = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) };
  await assert.rejects(
    detect(model, image),
    (e) => e instanceof NoWeightsError && /^detect: the model has no weights/.test(e.message),
  );
});

Deno.test("createOptimizer: a parameter listed twice is an InvalidInputError naming it", () => {
  const w = tensorFromArray(new Float32Array([1, 2]), [2]);
  const p = { name: "w", param: w, columnScale: null };
  assert.throws(
    () => createOptimizer([p, p], { type: "sgd", lr: 0.1 }),
    (e) => e instanceof InvalidInputError && /^createOptimizer: parameter w is listed twice/.test(e.message),
  );
  w.dispose();
});
