/**
 * Training checkpoints of a model and its optimizer, in memory: {@link captureCheckpoint} gathers the
 * weights (with torchvision names and layout), the exact packed GPU values of the trainable tensors (so
 * resuming continues bit for bit: unfolding the frozen batch norm and folding it again would round), the
 * optimizer state, the step, the config and the caller's RNG state into one `Checkpoint`;
 * {@link restoreCheckpoint} puts all of it back. Writing it to a file is `data/weights/checkpoint_file.ts`'s;
 * the public `saveCheckpoint` / `loadCheckpoint` join the two.
 * @module
 */
import { readTensors, writeTensor } from "../ops/tensor.ts";
import { type Checkpoint, CheckpointError } from "./checkpoint.ts";
import { readOptimizerState, restoreOptimizer } from "./optimizer_state.ts";
import { type MaskRcnnModel, setStateDict } from "./mask_rcnn.ts";
import { type Optimizer, trainableParameters } from "./optimizer.ts";
import { exportParameters } from "./train_params.ts";
import type { StateDict } from "./state_dict.ts";
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
 * Gathers a checkpoint of `model` and `opt` in memory (reading the trained values back from the GPU):
 * the weights (torchvision layout) plus `packed.<param>` (the exact GPU values), the optimizer state, the
 * step (`opt.stepCount`), the config and `extra.rngState`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { captureCheckpoint } from "./training.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const checkpoint = await captureCheckpoint(model, opt, { rngState: { epoch: 3 } });
 * assert.deepStrictEqual([checkpoint.step, checkpoint.rngState], [0, { epoch: 3 }]);
 * const name = "roi_heads.box_head.fc6.bias";
 * assert.deepStrictEqual(checkpoint.weights.get(name)?.data, model.stateDict!.get(name)!.data);
 * ```
 */
export async function captureCheckpoint(
  model: MaskRcnnModel,
  opt: Optimizer,
  extra: { rngState?: unknown } = {},
): Promise<Checkpoint> {
  await syncStateDict(model, opt);
  const packed = await readTensors(opt.entries.map((e) => e.param));
  const weights: StateDict = new Map(model.stateDict!);
  opt.entries.forEach((e, i) =>
    weights.set(PACKED + e.name, { shape: [...e.param.shape], data: packed[i] as Float32Array })
  );
  return {
    step: opt.stepCount,
    weights,
    optimizer: await readOptimizerState(opt),
    rngState: extra.rngState ?? null,
    config: model.config,
  };
}

/**
 * Restores a checkpoint made by {@link captureCheckpoint} (or read from its file) into `model` and `opt`
 * (created for the same architecture and optimizer type); returns the step and the saved RNG state.
 * Throws {@link CheckpointError} naming the checkpoint's file for another architecture, optimizer or
 * parameter set.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { captureCheckpoint, restoreCheckpoint } from "./training.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const checkpoint = await captureCheckpoint(model, opt, { rngState: { epoch: 3 } });
 * const { step, rngState } = restoreCheckpoint(model, opt, checkpoint);
 * assert.deepStrictEqual([step, rngState], [0, { epoch: 3 }]);
 * ```
 */
export function restoreCheckpoint(
  model: MaskRcnnModel,
  opt: Optimizer,
  checkpoint: Checkpoint,
): { step: number; rngState: unknown } {
  const path = checkpoint.file ?? "<checkpoint>";
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
