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
 * import { syncStateDict } from "./training.ts";
 * // await syncStateDict(model, opt); const bytes = saveWeights(model);
 * console.log(typeof syncStateDict);
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
 * import { saveTrainingCheckpoint } from "./training.ts";
 * // await saveTrainingCheckpoint("runs/a/checkpoint.safetensors", model, opt, { rngState: { epoch: 3 } });
 * console.log(typeof saveTrainingCheckpoint);
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
 * import { loadTrainingCheckpoint } from "./training.ts";
 * // const { step } = await loadTrainingCheckpoint("runs/a/checkpoint.safetensors", model, opt);
 * console.log(typeof loadTrainingCheckpoint);
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
