/**
 * Weights in memory: {@link canonicalStateDict} renames a state_dict to canonical torchvision 0.14 names,
 * {@link checkStateDict} compares it strictly with a config. Reading and writing weight files is
 * `data/weights/` (`loadStateDict`, `stateDictToSafetensors`).
 * @module
 */
import type { MaskRcnnConfig } from "./config.ts";
import { canonicalName, expectedStateDict, isIgnoredName, isPredictorName } from "./state_dict_names.ts";
import type { StateDict, WeightTensor } from "./state_dict.ts";
import { type ShapeMismatch, StateDictMismatchError, WeightsError } from "./weights_errors.ts";

/**
 * Renames tensors to canonical torchvision 0.14 names ({@link canonicalName}) and drops BatchNorm
 * `num_batches_tracked`; throws a `WeightsError` naming `file` if two names (e.g. both generations) map to
 * the same tensor.
 *
 * @example
 * ```ts
 * import { canonicalStateDict } from "./weights.ts";
 * const t = { shape: [1], data: new Float32Array([1]) };
 * console.log([...canonicalStateDict(new Map([["rpn.head.conv.bias", t]])).keys()]); // ["rpn.head.conv.0.0.bias"]
 * ```
 */
export function canonicalStateDict(
  stateDict: ReadonlyMap<string, WeightTensor>,
  file = "<state_dict>",
): StateDict {
  const out: StateDict = new Map();
  const from = new Map<string, string>();
  for (const [name, tensor] of stateDict) {
    if (isIgnoredName(name)) continue;
    const canonical = canonicalName(name);
    if (out.has(canonical)) {
      throw new WeightsError(
        file,
        `tensors ${from.get(canonical)} and ${name} both map to ${canonical}`,
      );
    }
    out.set(canonical, tensor);
    from.set(canonical, name);
  }
  return out;
}

/** Options of {@link checkStateDict}. */
export interface CheckStateDictOptions {
  /** Ignore `roi_heads.box_predictor.*` and `roi_heads.mask_predictor.mask_fcn_logits.*` (fine-tuning). */
  skipPredictor?: boolean;
  /** Names the weights in the error (default `<state_dict>`). */
  file?: string;
}

/**
 * Strictly checks a state_dict against the tensors `config` implies; throws ONE
 * {@link StateDictMismatchError} listing every missing, unexpected and wrongly shaped tensor by name.
 * Names are compared in canonical form, so either torchvision generation passes.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { checkStateDict } from "./weights.ts";
 * try { checkStateDict(resolveConfig({ preset: "small" }), new Map()); } catch (e) { console.log((e as Error).name); }
 * ```
 */
export function checkStateDict(
  config: MaskRcnnConfig,
  stateDict: ReadonlyMap<string, WeightTensor>,
  options: CheckStateDictOptions = {},
): void {
  const skip = (name: string) => options.skipPredictor === true && isPredictorName(name);
  const present = new Map<string, WeightTensor>();
  for (const [name, t] of stateDict) if (!isIgnoredName(name)) present.set(canonicalName(name), t);
  const missing: string[] = [];
  const wrongShape: ShapeMismatch[] = [];
  const expected = new Set<string>();
  for (const { name, shape } of expectedStateDict(config)) {
    expected.add(name);
    if (skip(name)) continue;
    const t = present.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrongShape.push({ name, expected: shape, actual: [...t.shape] });
    }
  }
  const unexpected = [...present.keys()].filter((n) => !expected.has(n) && !skip(n));
  if (missing.length || unexpected.length || wrongShape.length) {
    throw new StateDictMismatchError(options.file ?? "<state_dict>", missing, unexpected, wrongShape);
  }
}
