/**
 * Fine-tuning starts in one call, as torchvision's tutorial does them by hand: {@link loadForFineTuning}
 * loads a detection checkpoint whose predictors may be for another class count (the box predictor's
 * `cls_score` / `bbox_pred` and the mask predictor's `mask_fcn_logits` are then replaced by freshly
 * initialised ones, torchvision's `FastRCNNPredictor` / `MaskRCNNPredictor` initialisers), or a plain
 * ImageNet classification ResNet (torchvision's `weights_backbone`) into the backbone body only, the rest
 * initialised from scratch.
 *
 * Decisions: a predictor tensor is replaced only when its shape differs from the config's (or it is
 * absent), so a checkpoint of the same class count loads unchanged; every other tensor must match the
 * config exactly (one {@link StateDictMismatchError} otherwise). A classification checkpoint is read under
 * torchvision's `resnet50` names (`conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`, …), optionally with a
 * `backbone.body.` or `module.` prefix; `fc.*` is ignored; BatchNorm statistics become FrozenBatchNorm2d
 * buffers (`num_batches_tracked` dropped). As in torchvision, `weights` and `backboneWeights` exclude each
 * other (its builder ignores `weights_backbone` when `weights` is given).
 * @module
 */
import { initialStateDict } from "./init.ts";
import { type MaskRcnnModel, setStateDict } from "./mask_rcnn.ts";
import { expectedStateDict, isIgnoredName, isPredictorName } from "./state_dict_names.ts";
import { checkStateDict, loadStateDict, type StateDict, type WeightsSource } from "./weights.ts";
import { type ShapeMismatch, StateDictMismatchError } from "./weights_errors.ts";

/** Options of {@link loadForFineTuning}. */
export interface FineTuneOptions {
  /** A Mask R-CNN / Faster R-CNN checkpoint (any class count); its predictors are replaced if needed. */
  weights?: WeightsSource;
  /** A classification ResNet checkpoint (`.pth` or safetensors) for the backbone body only. */
  backboneWeights?: WeightsSource;
  /** Seed of the fresh tensors (replaced predictors; everything but the body with `backboneWeights`). */
  seed?: number;
  /** FrozenBatchNorm2d eps (default 1e-5; 0 for torchvision's published COCO Mask R-CNN weights). */
  batchNormEps?: number;
}

/** What {@link loadForFineTuning} did. */
export interface FineTuneReport {
  /** Predictor tensors replaced by fresh ones, with the checkpoint's shape (null when absent). */
  replaced: { name: string; from: number[] | null; to: number[] }[];
  /** Tensors taken from the checkpoints. */
  loaded: number;
  /** Tensors freshly initialised (replaced predictors included). */
  initialised: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function sourceName(source: WeightsSource): string | undefined {
  return typeof source === "string" ? source : source instanceof URL ? source.href : undefined;
}

/**
 * The backbone body tensors of a classification ResNet checkpoint under `backbone.body.*` names: strips a
 * `module.` / `backbone.body.` prefix, drops `fc.*`, and checks every body tensor of `model`'s config is
 * present with its shape (one {@link StateDictMismatchError} naming all problems otherwise).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { backboneStateDict } from "./fine_tune.ts";
 * // const body = await backboneStateDict(resolveConfig(), "resnet50-0676ba61.pth");
 * console.log(typeof backboneStateDict);
 * ```
 */
export async function backboneStateDict(
  config: MaskRcnnModel["config"],
  source: WeightsSource,
): Promise<StateDict> {
  const file = sourceName(source) ?? "<bytes>";
  const raw = await loadStateDict(source, { file });
  const body: StateDict = new Map();
  const unexpected: string[] = [];
  for (const [name, tensor] of raw) {
    const bare = name.replace(/^(module\.)?(backbone\.body\.)?/, "");
    if (bare.startsWith("fc.") || isIgnoredName(bare)) continue;
    if (/^(conv1|bn1|layer[1-4])\./.test(bare)) body.set(`backbone.body.${bare}`, tensor);
    else unexpected.push(name);
  }
  const missing: string[] = [];
  const wrongShape: ShapeMismatch[] = [];
  const expected = new Set<string>();
  for (const { name, shape } of expectedStateDict(config)) {
    if (!name.startsWith("backbone.body.")) continue;
    expected.add(name);
    const t = body.get(name);
    if (!t) missing.push(name);
    else if (!sameShape(t.shape, shape)) wrongShape.push({ name, expected: shape, actual: [...t.shape] });
  }
  for (const name of body.keys()) if (!expected.has(name)) unexpected.push(name);
  if (missing.length || unexpected.length || wrongShape.length) {
    throw new StateDictMismatchError(
      `${file} (as a classification ResNet backbone)`,
      missing,
      unexpected,
      wrongShape,
    );
  }
  return body;
}

/**
 * Gives `model` its starting weights for fine-tuning (see the module notes): from `weights` with the
 * predictors replaced where the class count differs, or from `backboneWeights` into the body with the
 * rest initialised as torchvision does; with neither, from scratch. Returns what was replaced.
 *
 * @example Fine-tune a 5-class model on 3 classes (COCO weights work the same way, with batchNormEps: 0)
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, saveWeights } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { loadForFineTuning } from "./fine_tune.ts";
 * const trained = await buildModel({ preset: "small", numClasses: 5 });
 * initWeights(trained, { seed: 1 });
 * const file = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await Deno.writeFile(file, saveWeights(trained));
 * const model = await buildModel({ preset: "small", numClasses: 3 });
 * const report = await loadForFineTuning(model, { weights: file });
 * assert.equal(report.replaced.length, 6); // cls_score, bbox_pred, mask_fcn_logits: weights and biases
 * await Deno.remove(file);
 * ```
 */
export async function loadForFineTuning(
  model: MaskRcnnModel,
  options: FineTuneOptions,
): Promise<FineTuneReport> {
  if (options.weights !== undefined && options.backboneWeights !== undefined) {
    throw new TypeError(
      "loadForFineTuning: give weights or backboneWeights, not both (torchvision ignores weights_backbone " +
        "when weights are given)",
    );
  }
  const config = model.config;
  const fresh = initialStateDict(config, options.seed ?? 0);
  const out: StateDict = new Map();
  const report: FineTuneReport = { replaced: [], loaded: 0, initialised: 0 };
  let loaded: StateDict = new Map();
  let file = "initialStateDict";
  if (options.weights !== undefined) {
    file = sourceName(options.weights) ?? "<bytes>";
    loaded = await loadStateDict(options.weights, { file });
    checkStateDict(config, loaded, { skipPredictor: true, file });
  } else if (options.backboneWeights !== undefined) {
    file = `${sourceName(options.backboneWeights) ?? "<bytes>"} (backbone)`;
    loaded = await backboneStateDict(config, options.backboneWeights);
  }
  for (const { name, shape } of expectedStateDict(config)) {
    const have = loaded.get(name);
    if (have && sameShape(have.shape, shape)) {
      out.set(name, have);
      report.loaded++;
      continue;
    }
    out.set(name, fresh.get(name)!);
    report.initialised++;
    if (options.weights !== undefined && isPredictorName(name)) {
      report.replaced.push({ name, from: have ? [...have.shape] : null, to: [...shape] });
    }
  }
  setStateDict(model, out, { batchNormEps: options.batchNormEps, file });
  return report;
}
