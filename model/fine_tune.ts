/**
 * Fine-tuning starts in one call, as torchvision's tutorial does them by hand: {@link setForFineTuning}
 * installs a detection state_dict whose predictors may be for another class count (the box predictor's
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
 * other (its builder ignores `weights_backbone` when `weights` is given). The state_dicts come in memory;
 * the public `loadForFineTuning` reads them from files, URLs or bytes first.
 * @module
 */
import { initialStateDict } from "./init.ts";
import { type MaskRcnnModel, setStateDict } from "./mask_rcnn.ts";
import { expectedStateDict, isIgnoredName, isPredictorName } from "./state_dict_names.ts";
import type { StateDict } from "./state_dict.ts";
import { checkStateDict } from "./weights.ts";
import { type ShapeMismatch, StateDictMismatchError } from "./weights_errors.ts";

/** Options of {@link setForFineTuning}. */
export interface SetForFineTuningOptions {
  /** A Mask R-CNN / Faster R-CNN state_dict (any class count); its predictors are replaced if needed. */
  weights?: StateDict;
  /** A classification ResNet state_dict (torchvision `resnet50` names) for the backbone body only. */
  backboneWeights?: StateDict;
  /** Names `weights` or `backboneWeights` in errors (default `<state_dict>`). */
  file?: string;
  /** Seed of the fresh tensors (replaced predictors; everything but the body with `backboneWeights`). */
  seed?: number;
  /** FrozenBatchNorm2d eps (default 1e-5; 0 for torchvision's published COCO Mask R-CNN weights). */
  batchNormEps?: number;
}

/** What {@link setForFineTuning} did. */
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

/**
 * The backbone body tensors of a classification ResNet state_dict under `backbone.body.*` names: strips a
 * `module.` / `backbone.body.` prefix, drops `fc.*`, and checks every body tensor of `config` is present
 * with its shape (one {@link StateDictMismatchError} naming all problems, and `file`, otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resolveConfig } from "./config.ts";
 * import { backboneStateDict } from "./fine_tune.ts";
 * import { initialStateDict } from "./init.ts";
 * // e.g. backboneStateDict(config, await loadStateDict("resnet50-0676ba61.pth"), "resnet50-0676ba61.pth")
 * const config = resolveConfig({ preset: "small" });
 * const resnet = new Map([...initialStateDict(config, 1)].filter(([n]) => n.startsWith("backbone.body."))
 *   .map(([n, t]) => [n.slice("backbone.body.".length), t]));
 * const body = backboneStateDict(config, resnet);
 * assert.ok(body.has("backbone.body.conv1.weight"));
 * ```
 */
export function backboneStateDict(
  config: MaskRcnnModel["config"],
  raw: StateDict,
  file = "<state_dict>",
): StateDict {
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
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initialStateDict } from "./init.ts";
 * import { setForFineTuning } from "./fine_tune.ts";
 * const trained = initialStateDict((await buildModel({ preset: "small", numClasses: 5 })).config, 1);
 * const model = await buildModel({ preset: "small", numClasses: 3 });
 * const report = setForFineTuning(model, { weights: trained });
 * assert.equal(report.replaced.length, 6); // cls_score, bbox_pred, mask_fcn_logits: weights and biases
 * ```
 */
export function setForFineTuning(model: MaskRcnnModel, options: SetForFineTuningOptions): FineTuneReport {
  checkFineTuneSources(options);
  const config = model.config;
  const fresh = initialStateDict(config, options.seed ?? 0);
  const out: StateDict = new Map();
  const report: FineTuneReport = { replaced: [], loaded: 0, initialised: 0 };
  let loaded: StateDict = new Map();
  let file = "initialStateDict";
  if (options.weights !== undefined) {
    file = options.file ?? "<state_dict>";
    loaded = options.weights;
    checkStateDict(config, loaded, { skipPredictor: true, file });
  } else if (options.backboneWeights !== undefined) {
    file = `${options.file ?? "<state_dict>"} (backbone)`;
    loaded = backboneStateDict(config, options.backboneWeights, options.file);
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

/**
 * Throws the `TypeError` of {@link setForFineTuning} when both `weights` and `backboneWeights` are given
 * (torchvision ignores `weights_backbone` when `weights` is given); callers that read files check first.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { checkFineTuneSources } from "./fine_tune.ts";
 * assert.throws(() => checkFineTuneSources({ weights: "a.pth", backboneWeights: "b.pth" }), TypeError);
 * ```
 */
export function checkFineTuneSources(options: { weights?: unknown; backboneWeights?: unknown }): void {
  if (options.weights !== undefined && options.backboneWeights !== undefined) {
    throw new TypeError(
      "loadForFineTuning: give weights or backboneWeights, not both (torchvision ignores weights_backbone " +
        "when weights are given)",
    );
  }
}
