/**
 * Training checkpoints of a model and its optimizer: `saveTrainingCheckpoint` writes the weights (with
 * torchvision names and layout), the exact packed GPU values of
 * the trainable tensors (so resuming continues bit for bit: unfolding the frozen batch norm and folding it
 * again would round), the optimizer state, the step, the config and the caller's RNG state — into one
 * file, atomically (`checkpoint.ts`). `loadTrainingCheckpoint` puts all of it back.
 * @module
 */
import { readTensors, writeTensor } from "../ops/tensor.ts";
import { CheckpointError, loadCheckpoint, restoreOptimizer, saveCheckpoint } from "./checkpoint.ts";
import { type MaskRcnnModel, setStateDict } from "./mask_rcnn.ts";
import { type Optimizer, trainableParameters } from "./optimizer.ts";
import { exportParameters } from "./train_params.ts";
import type { StateDict } from "./weights.ts";
import { NoWeightsError } from "./weights_errors.ts";

const PACKED = "packed.";

/**
 * Reads the trained parameters back into `model.stateDict` (torchvision layout), so that `saveWeights`
 * and `detect` on a CPU copy see the current values.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { optimizerStep } from "./optimizer.ts";
 * import { syncStateDict } from "./training.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const name = "roi_heads.box_predictor.cls_score.bias";
 * const before = model.stateDict!.get(name)!.data.slice();
 * for (const e of opt.entries) fillInPlace(e.grad, 1);
 * optimizerStep(opt); // updates the GPU parameters only
 * await syncStateDict(model, opt); // now the CPU state_dict (saveWeights, checkpoints) sees the update
 * assert.notDeepStrictEqual(model.stateDict!.get(name)!.data, before);
 * ```
 */
export async function syncStateDict(model: MaskRcnnModel, opt: Optimizer): Promise<void> {
  if (!model.params || !model.stateDict) throw new NoWeightsError("syncStateDict: the model has no weights");
  await exportParameters(model.config, model.params, opt.entries, model.stateDict);
}

/**
 * Writes a checkpoint of `model` and `opt` to `path` (atomic: a temporary file renamed over `path`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadCheckpoint as readCheckpointFile } from "./checkpoint.ts";
 * import { saveTrainingCheckpoint } from "./training.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const dir = await Deno.makeTempDir();
 * await saveTrainingCheckpoint(`${dir}/checkpoint.safetensors`, model, opt, { rngState: { epoch: 3 } });
 * const saved = await readCheckpointFile(`${dir}/checkpoint.safetensors`);
 * assert.deepStrictEqual(saved.rngState, { epoch: 3 });
 * const name = "roi_heads.box_head.fc6.bias";
 * assert.deepStrictEqual(saved.weights.get(name)?.data, model.stateDict!.get(name)!.data);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveTrainingCheckpoint(
  path: string,
  model: MaskRcnnModel,
  opt: Optimizer,
  extra: { rngState?: unknown } = {},
): Promise<void> {
  await syncStateDict(model, opt);
  const packed = await readTensors(opt.entries.map((e) => e.param));
  const weights: StateDict = new Map(model.stateDict!);
  opt.entries.forEach((e, i) =>
    weights.set(PACKED + e.name, { shape: [...e.param.shape], data: packed[i] as Float32Array })
  );
  await saveCheckpoint(path, weights, opt, {
    step: opt.stepCount,
    rngState: extra.rngState ?? null,
    config: model.config,
  });
}

/**
 * Restores a checkpoint written by {@link saveTrainingCheckpoint} into `model` and `opt` (created for the
 * same config and optimizer type); returns the step and the saved RNG state.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadTrainingCheckpoint, saveTrainingCheckpoint } from "./training.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const dir = await Deno.makeTempDir();
 * await saveTrainingCheckpoint(`${dir}/checkpoint.safetensors`, model, opt, { rngState: { epoch: 3 } });
 * const { step, rngState } = await loadTrainingCheckpoint(`${dir}/checkpoint.safetensors`, model, opt);
 * assert.deepStrictEqual([step, rngState], [0, { epoch: 3 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadTrainingCheckpoint(
  path: string,
  model: MaskRcnnModel,
  opt: Optimizer,
): Promise<{ step: number; rngState: unknown }> {
  const checkpoint = await loadCheckpoint(path);
  const architecture = (c: unknown) => {
    const { backbone, fpnChannels, boxHeadDim, maskHeadLayers, maskPredictorChannels, maskHead, numClasses } =
      c as MaskRcnnModel["config"];
    return JSON.stringify({
      backbone,
      fpnChannels,
      boxHeadDim,
      maskHeadLayers,
      maskPredictorChannels,
      maskHead,
      numClasses,
    });
  };
  if (checkpoint.config && architecture(checkpoint.config) !== architecture(model.config)) {
    throw new CheckpointError(
      path,
      `was written for another architecture: ${architecture(checkpoint.config)}`,
    );
  }
  const weights: StateDict = new Map();
  const packed: StateDict = new Map();
  for (const [name, t] of checkpoint.weights) {
    (name.startsWith(PACKED) ? packed : weights).set(
      name.slice(name.startsWith(PACKED) ? PACKED.length : 0),
      t,
    );
  }
  setStateDict(model, weights, { batchNormEps: model.batchNormEps, file: path });
  // Point the optimizer at the new tensors and give them their exact trained values.
  const fresh = new Map(trainableParameters(model).map((p) => [p.name, p]));
  for (const entry of opt.entries) {
    const now = fresh.get(entry.name);
    if (!now) {
      throw new CheckpointError(path, `optimizer parameter ${entry.name} is not trainable in this model`);
    }
    if (opt.ownsColumnScales) entry.columnScale?.dispose();
    entry.param = now.param;
    entry.columnScale = now.columnScale;
    const exact = packed.get(entry.name);
    if (exact) writeTensor(entry.param, exact.data);
  }
  restoreOptimizer(opt, checkpoint);
  return { step: checkpoint.step, rngState: checkpoint.rngState };
}
