/**
 * The model object and its weights in memory: `buildModel` resolves the config and acquires the GPU,
 * `setStateDict` checks a canonical torchvision state_dict strictly against the config and packs it onto
 * the GPU; `model.stateDict` is the CPU copy. Weight files (`.pth`, safetensors) are read and written by
 * `data/weights/`; the public API joins the two in `loadWeights` / `saveWeights`.
 * @module
 */
import { getGpu } from "../ops/gpu.ts";
import type { Tensor } from "../ops/tensor.ts";
import { type MaskRcnnConfig, resolveConfig, type ResolveConfigOptions } from "./config.ts";
import { type ModelParams, paramTensors, uploadParams } from "./params.ts";
import type { AnchorCache } from "./rpn.ts";
import type { StateDict } from "./state_dict.ts";
import { checkStateDict } from "./weights.ts";
import { canonicalName, isPredictorName } from "./state_dict_names.ts";
import { PredictorTensorsError } from "./weights_errors.ts";

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
 * acquires the GPU. The model has no weights until {@link setStateDict} (or `loadWeights`, `initWeights`).
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

/** Options of {@link setStateDict} (and of the public `loadWeights`, which reads the state_dict first). */
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

/** Options of {@link setStateDict}. */
export interface SetStateDictOptions extends LoadWeightsOptions {
  /** Names the weights in a mismatch error (default `<state_dict>`). */
  file?: string;
}

/**
 * Installs a canonical state_dict already in memory (e.g. from `initialStateDict`, `loadStateDict` or a
 * checkpoint): checks it strictly against the config (one error naming every missing, unexpected or
 * wrongly shaped tensor), packs it onto the GPU, then frees the previous parameters and cached anchors.
 * With `skipPredictor`, the predictor tensors come from `initialPredictor` instead (fine-tuning on another
 * class count). The model keeps `stateDict` by reference as its CPU copy (a new map with `skipPredictor`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, setStateDict } from "./mask_rcnn.ts";
 * import { initialStateDict } from "./init.ts";
 * const model = await buildModel({ preset: "small" });
 * const stateDict = initialStateDict(model.config, 1);
 * setStateDict(model, stateDict);
 * assert.strictEqual(model.stateDict, stateDict);
 * ```
 */
export function setStateDict(
  model: MaskRcnnModel,
  stateDict: StateDict,
  options: SetStateDictOptions = {},
): void {
  let weights = stateDict;
  let file = options.file;
  if (options.skipPredictor) {
    checkStateDict(model.config, stateDict, { skipPredictor: true, file });
    const notPredictor = [...(options.initialPredictor?.keys() ?? [])].filter((n) =>
      !isPredictorName(canonicalName(n))
    );
    if (notPredictor.length > 0) throw new PredictorTensorsError(file ?? "weights", notPredictor);
    weights = new Map([...stateDict].filter(([name]) => !isPredictorName(name)));
    for (const [name, tensor] of options.initialPredictor ?? []) weights.set(name, tensor);
    file = `${file ?? "weights"} + initialPredictor`;
  }
  checkStateDict(model.config, weights, { file });
  const params = uploadParams(model.config, weights, { batchNormEps: options.batchNormEps });
  disposeParams(model);
  model.params = params;
  model.stateDict = weights;
  model.batchNormEps = options.batchNormEps ?? 1e-5;
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
