/**
 * Model and optimizer for `train` and `demo`: {@link prepareModel} builds the model of a run's config,
 * gives it its starting weights (from scratch with `initWeights`, or `--weights` / `--backbone-weights`
 * through `loadForFineTuning`, which replaces predictors of another class count), creates the optimizer
 * and, when resuming, restores both from the checkpoint with the data position saved in its RNG state;
 * {@link writeFinalWeights} writes the trained weights as torchvision-named safetensors.
 * @module
 */
import {
  buildModel,
  createOptimizer,
  type FineTuneReport,
  initWeights,
  loadCheckpoint,
  loadForFineTuning,
  type MaskRcnnConfig,
  type MaskRcnnModel,
  type Optimizer,
  type OptimizerOptions,
  syncStateDict,
  writeFileAtomic,
  writeSafetensors,
} from "../mod.ts";
import { explainMismatch } from "./_run_folder.ts";
import type { DataPosition } from "./_train_loop.ts";

/** What a run needs to build its model. */
export interface ModelSettings {
  config: MaskRcnnConfig;
  optimizer: OptimizerOptions;
  seed: number;
  /** Starting weights, or null for from scratch. */
  weights: string | null;
  /** A classification ResNet for the backbone body (with `weights` null). */
  backboneWeights?: string | null;
  /** FrozenBatchNorm eps for `weights`. */
  batchNormEps?: number;
  /** Dataset spec and batch size the run trains on (checked against a resumed checkpoint). */
  dataset: string;
  batch: number;
}

/** A model ready to train and where its run stands. */
export interface PreparedModel {
  model: MaskRcnnModel;
  opt: Optimizer;
  /** Completed steps (0 for a new run). */
  step: number;
  /** Where the data stands. */
  position: DataPosition;
  /** What loading `weights` / `backboneWeights` replaced (a new run from weights only). */
  fineTune?: FineTuneReport;
}

/**
 * Builds the model and optimizer; restores them from `checkpoint` when given (its RNG state must come
 * from the same dataset and batch size).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resolveConfig } from "../mod.ts";
 * import { prepareModel } from "./_train_model.ts";
 * const settings = {
 *   config: resolveConfig({ preset: "small" }),
 *   optimizer: { type: "sgd" as const, lr: 0.01 },
 *   seed: 1,
 *   weights: null, // from scratch
 *   dataset: "shapes",
 *   batch: 2,
 * };
 * const { model, opt, step, position } = await prepareModel(settings, null); // or a checkpoint path to resume
 * assert.strictEqual(step, 0);
 * assert.deepStrictEqual(position, { epoch: 0, batchInEpoch: 0 });
 * assert.strictEqual(opt.entries.length > 0 && model.params !== null, true);
 * ```
 */
export async function prepareModel(
  settings: ModelSettings,
  checkpoint: string | null,
): Promise<PreparedModel> {
  const model = await buildModel({ ...settings.config });
  let fineTune: FineTuneReport | undefined;
  const backboneWeights = settings.backboneWeights ?? null;
  if ((settings.weights !== null || backboneWeights !== null) && checkpoint === null) {
    const source = settings.weights ?? backboneWeights!;
    try {
      fineTune = await loadForFineTuning(model, {
        weights: settings.weights ?? undefined,
        backboneWeights: backboneWeights ?? undefined,
        seed: settings.seed,
        batchNormEps: settings.batchNormEps,
      });
    } catch (e) {
      throw settings.weights !== null ? await explainMismatch(e, source) : e;
    }
  } else {
    initWeights(model, { seed: settings.seed });
  }
  const opt = createOptimizer(model, settings.optimizer);
  if (checkpoint === null) {
    return { model, opt, step: 0, position: { epoch: 0, batchInEpoch: 0 }, fineTune };
  }
  const { step, rngState } = await loadCheckpoint(checkpoint, model, opt);
  const state = rngState as { dataset?: string; batch?: number; data?: DataPosition } | null;
  if (!state?.data || state.dataset !== settings.dataset || state.batch !== settings.batch) {
    throw new Error(
      `${checkpoint}: its data state (${JSON.stringify(state)}) does not match the run ` +
        `(dataset ${settings.dataset}, batch ${settings.batch})`,
    );
  }
  return { model, opt, step, position: { ...state.data } };
}

/**
 * Writes the model's current weights (read back from the GPU) to `path` as safetensors, with `metadata`
 * (the run's model file under `maskrcnn`) beside `{"format": "pt"}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readSafetensors } from "../mod.ts";
 * import { writeFinalWeights } from "./_train_model.ts";
 * import { resolveConfig } from "../mod.ts";
 * import { prepareModel } from "./_train_model.ts";
 * const settings = {
 *   config: resolveConfig({ preset: "small" }),
 *   optimizer: { type: "sgd" as const, lr: 0.01 },
 *   seed: 1,
 *   weights: null, // from scratch
 *   dataset: "shapes",
 *   batch: 2,
 * };
 * const { model, opt } = await prepareModel(settings, null);
 * const dir = await Deno.makeTempDir();
 * await writeFinalWeights(model, opt, `${dir}/model.safetensors`);
 * const file = readSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
 * assert.strictEqual(file.tensors.size, model.stateDict!.size);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFinalWeights(
  model: MaskRcnnModel,
  opt: Optimizer,
  path: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  await syncStateDict(model, opt);
  await writeFileAtomic(path, writeSafetensors(model.stateDict!, { format: "pt", ...metadata }));
}
