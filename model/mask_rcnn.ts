/**
 * The model object and its weights: `buildModel` resolves the config and acquires the GPU, `loadWeights`
 * reads a torchvision state_dict (`.pth` zip or legacy, safetensors; either generation of names), checks it
 * strictly against the config and packs it onto the GPU, `saveWeights` writes safetensors with
 * torchvision's names.
 * @module
 */
import { getGpu } from "../ops/gpu.ts";
import type { Tensor } from "../ops/tensor.ts";
import { type MaskRcnnConfig, resolveConfig, type ResolveConfigOptions } from "./config.ts";
import { type ModelParams, paramTensors, uploadParams } from "./params.ts";
import type { AnchorCache } from "./rpn.ts";
import {
  checkStateDict,
  loadStateDict,
  type StateDict,
  stateDictToSafetensors,
  type WeightsSource,
} from "./weights.ts";
import { canonicalName, isPredictorName } from "./state_dict_names.ts";
import { NoWeightsError, PredictorTensorsError } from "./weights_errors.ts";

/** A Mask R-CNN (or Faster R-CNN): its config, CPU weights and GPU parameters. */
export interface MaskRcnnModel {
  /** The full, validated configuration. */
  readonly config: MaskRcnnConfig;
  /** The canonical state_dict (CPU copy, for saving); null until weights are loaded. */
  stateDict: StateDict | null;
  /** Packed GPU parameters; null until weights are loaded. */
  params: ModelParams | null;
  /** Anchors per padded image size. */
  readonly anchorCache: AnchorCache;
  /** FrozenBatchNorm2d eps the loaded weights were folded with (see {@link LoadWeightsOptions}). */
  batchNormEps?: number;
}

/**
 * Resolves the configuration (a preset plus overrides, torchvision's `MaskRCNN` arguments in camelCase) and
 * acquires the GPU. The model has no weights until {@link loadWeights}.
 *
 * @example
 * ```ts
 * import { buildModel } from "./mask_rcnn.ts";
 * const model = await buildModel({ preset: "maskrcnn_resnet50_fpn", numClasses: 91 });
 * console.log(model.config.fpnChannels); // 256
 * ```
 */
export async function buildModel(options: ResolveConfigOptions = {}): Promise<MaskRcnnModel> {
  const config = resolveConfig(options);
  await getGpu();
  return { config, stateDict: null, params: null, anchorCache: new Map() };
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /**
   * Leave out `roi_heads.box_predictor.*` and `roi_heads.mask_predictor.mask_fcn_logits.*` (fine-tuning on
   * another class count); those layers then start from the values in `initialPredictor`, which must be given.
   */
  skipPredictor?: boolean;
  /**
   * Predictor tensors to use when `skipPredictor` is set (e.g. freshly initialised ones); any other tensor
   * here is a {@link PredictorTensorsError} (`loadForFineTuning` builds this for you).
   */
  initialPredictor?: StateDict;
  /**
   * FrozenBatchNorm2d eps: torchvision's default is 1e-5, but its published COCO_V1 Mask R-CNN weights are
   * used with eps 0 (`overwrite_eps(model, 0.0)` in torchvision's builder); pass 0 for those.
   */
  batchNormEps?: number;
}

/**
 * Loads weights from a path, URL or bytes: torch `.pth` (zip or legacy) or safetensors, either generation
 * of torchvision names. Strict: a missing, unexpected or wrongly shaped tensor is listed by name in one
 * error. Replaces (and frees) any weights loaded before.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, loadWeights, saveWeights } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * // torchvision's COCO weights: buildModel({ preset: "maskrcnn_resnet50_fpn" }) then
 * // loadWeights(model, "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", { batchNormEps: 0 }).
 * const trained = await buildModel({ preset: "small" });
 * initWeights(trained, { seed: 3 });
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/small.safetensors`, saveWeights(trained));
 * const model = await buildModel({ preset: "small" });
 * await loadWeights(model, `${dir}/small.safetensors`);
 * const name = "backbone.fpn.layer_blocks.0.0.weight";
 * assert.deepStrictEqual(model.stateDict!.get(name)!.data, trained.stateDict!.get(name)!.data);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadWeights(
  model: MaskRcnnModel,
  source: WeightsSource,
  options: LoadWeightsOptions = {},
): Promise<void> {
  const file = typeof source === "string" ? source : source instanceof URL ? source.href : undefined;
  const stateDict = await loadStateDict(source, { file });
  checkStateDict(model.config, stateDict, { skipPredictor: options.skipPredictor, file });
  if (options.skipPredictor) {
    const notPredictor = [...(options.initialPredictor?.keys() ?? [])].filter((n) =>
      !isPredictorName(canonicalName(n))
    );
    if (notPredictor.length > 0) throw new PredictorTensorsError(file ?? "weights", notPredictor);
    for (const name of [...stateDict.keys()]) if (isPredictorName(name)) stateDict.delete(name);
    for (const [name, tensor] of options.initialPredictor ?? []) stateDict.set(name, tensor);
  }
  setStateDict(model, stateDict, {
    batchNormEps: options.batchNormEps,
    file: options.skipPredictor ? `${file ?? "weights"} + initialPredictor` : file,
  });
}

/** Options of {@link setStateDict}. */
export interface SetStateDictOptions {
  /** FrozenBatchNorm2d eps to fold the batch norms with (default 1e-5; see {@link LoadWeightsOptions}). */
  batchNormEps?: number;
  /** Names the weights in a mismatch error (default `<state_dict>`). */
  file?: string;
}

/**
 * Installs a canonical state_dict already in memory (e.g. from `initialStateDict` or a checkpoint):
 * checks it strictly against the config (one error naming every missing, unexpected or wrongly shaped
 * tensor), packs it onto the GPU, then frees the previous parameters and cached anchors. The model keeps
 * `stateDict` by reference as its CPU copy.
 *
 * @example
 * ```ts
 * import { buildModel, setStateDict } from "./mask_rcnn.ts";
 * import { initialStateDict } from "./init.ts";
 * const model = await buildModel({ preset: "small" });
 * setStateDict(model, initialStateDict(model.config, 1));
 * ```
 */
export function setStateDict(
  model: MaskRcnnModel,
  stateDict: StateDict,
  options: SetStateDictOptions = {},
): void {
  checkStateDict(model.config, stateDict, { file: options.file });
  const params = uploadParams(model.config, stateDict, { batchNormEps: options.batchNormEps });
  disposeParams(model);
  model.params = params;
  model.stateDict = stateDict;
  model.batchNormEps = options.batchNormEps ?? 1e-5;
}

/**
 * The loaded weights as safetensors bytes with torchvision 0.14 names (loadable by `loadWeights` and by
 * torchvision after `safetensors.torch.load_file`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, saveWeights } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { readSafetensors } from "./safetensors.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const bytes = saveWeights(model); // e.g. await Deno.writeFile("model.safetensors", bytes)
 * const file = readSafetensors(bytes);
 * assert.ok(file.tensors.has("roi_heads.mask_predictor.mask_fcn_logits.weight"));
 * ```
 */
export function saveWeights(model: MaskRcnnModel): Uint8Array {
  if (!model.stateDict) {
    throw new NoWeightsError("saveWeights: the model has no weights (call loadWeights first)");
  }
  return stateDictToSafetensors(model.stateDict, { format: "pt" });
}

/**
 * Frees the model's GPU parameters and cached anchors (the model can load weights again afterwards).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, disposeModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const stem = model.params!.stem.weight;
 * disposeModel(model);
 * assert.strictEqual(model.params, null);
 * assert.ok(stem.disposed);
 * ```
 */
export function disposeModel(model: MaskRcnnModel): void {
  disposeParams(model);
  model.stateDict = null;
}

function disposeParams(model: MaskRcnnModel): void {
  if (model.params) { for (const t of paramTensors(model.params)) t.dispose(); }
  model.params = null;
  for (const anchors of model.anchorCache.values()) (anchors as Tensor).dispose();
  model.anchorCache.clear();
}
