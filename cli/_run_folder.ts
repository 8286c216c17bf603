/**
 * A run folder is a model: `train` writes its model file ({@link modelFile}: the full config plus
 * "classNames" and "categoryIds", the format `--config` reads) as `config.json` beside `model.safetensors`
 * and as the `maskrcnn` entry of the safetensors metadata. {@link runModelChoice} lets `detect` and `eval`
 * take `--weights run/model.safetensors` alone: without `--config` / `--preset` the metadata (or a
 * `config.json` beside the weights) supplies the config and the names. {@link explainMismatch} turns a
 * weights/config mismatch into one line saying what to pass, by finding the preset and class count the
 * weights fit.
 *
 * Decisions: the metadata wins over `config.json` (it travels with the file); `--num-classes` and
 * `--bn-eps` still override; URLs are not searched (their metadata would need the whole download first).
 * @module
 */
import { dirname, join } from "node:path";
import {
  checkStateDict,
  isPredictorName,
  loadStateDict,
  type MaskRcnnConfig,
  type PresetName,
  PRESETS,
  resolveConfig,
  type StateDict,
  StateDictMismatchError,
  type WeightsSource,
} from "../mod.ts";
import {
  configFromJson,
  isUrl,
  type ModelChoice,
  modelChoice,
  type ParsedValues,
  stringOption,
  UsageError,
} from "./_common.ts";

/** The safetensors metadata key under which `train` stores the model file. */
export const RUN_METADATA_KEY = "maskrcnn";

/**
 * The model file of a run: the full config with "classNames" (by label), "categoryIds" (labels 1..) and
 * the FrozenBatchNorm eps the weights were trained with (when not the default), as `--config` reads it.
 *
 * @example
 * ```ts
 * import { modelFile } from "./_run_folder.ts";
 * import { resolveConfig } from "../mod.ts";
 * const file = modelFile(resolveConfig({ preset: "small", numClasses: 2 }), ["background", "cat"], [1]);
 * console.log(file.classNames, file.categoryIds); // [ "background", "cat" ] [ 1 ]
 * ```
 */
export function modelFile(
  config: MaskRcnnConfig,
  classNames: readonly string[],
  categoryIds: readonly number[],
  batchNormEps?: number,
): Record<string, unknown> {
  const file: Record<string, unknown> = {
    ...config,
    classNames: [...classNames],
    categoryIds: [...categoryIds],
  };
  if (batchNormEps !== undefined) file.batchNormEps = batchNormEps;
  return file;
}

/**
 * The `__metadata__` of a safetensors file, read from its header only; null when the file is not
 * safetensors or has none.
 *
 * @example
 * ```ts
 * import { readSafetensorsMetadata } from "./_run_folder.ts";
 * console.log(await readSafetensorsMetadata("tests/fixtures/model/small_subset.safetensors"));
 * ```
 */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string> | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return null;
  }
  try {
    const head = new Uint8Array(8);
    if ((await file.read(head)) !== 8) return null;
    const length = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (!(length > 1 && length < 100_000_000)) return null;
    const header = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = await file.read(header.subarray(got));
      if (n === null) return null;
      got += n;
    }
    const json = JSON.parse(new TextDecoder().decode(header));
    const meta = json?.__metadata__;
    return meta && typeof meta === "object" ? meta : null;
  } catch {
    return null;
  } finally {
    file.close();
  }
}

/**
 * The model file that goes with weights at `path`: the `maskrcnn` metadata, else `config.json` beside it;
 * null when neither exists.
 *
 * @example
 * ```ts
 * import { findRunConfig } from "./_run_folder.ts";
 * const found = await findRunConfig("runs/a/model.safetensors");
 * console.log(found?.where); // "runs/a/model.safetensors metadata"
 * ```
 */
export async function findRunConfig(
  path: string,
): Promise<(Omit<ModelChoice, "weights"> & { where: string }) | null> {
  const meta = (await readSafetensorsMetadata(path))?.[RUN_METADATA_KEY];
  if (meta !== undefined) {
    const where = `${path} metadata`;
    let json: unknown;
    try {
      json = JSON.parse(meta);
    } catch (e) {
      throw new UsageError(`${where}: "${RUN_METADATA_KEY}" is not valid JSON (${(e as Error).message})`);
    }
    return { ...configFromJson(json, where), where };
  }
  const beside = join(dirname(path), "config.json");
  let text: string;
  try {
    text = await Deno.readTextFile(beside);
  } catch {
    return null;
  }
  try {
    return { ...configFromJson(JSON.parse(text), beside), where: beside };
  } catch (e) {
    if (e instanceof SyntaxError) throw new UsageError(`${beside} is not valid JSON (${e.message})`);
    throw e;
  }
}

/**
 * {@link modelChoice} that also reads a run folder: with neither `--config` nor `--preset`, the weights'
 * metadata or `config.json` beside them supply the config, class names and category ids (`--num-classes`
 * still overrides). `configSource` says where they came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, saveWeights } from "../mod.ts";
 * import { modelFile, runModelChoice } from "./_run_folder.ts";
 * const dir = await Deno.makeTempDir();
 * const model = await buildModel({ preset: "small", numClasses: 3 });
 * initWeights(model, { seed: 0 });
 * await Deno.writeFile(`${dir}/model.safetensors`, saveWeights(model));
 * const names = ["background", "cat", "dog"];
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(modelFile(model.config, names, [1, 2])));
 * const choice = await runModelChoice({ weights: `${dir}/model.safetensors` });
 * assert.deepStrictEqual(choice.classNames, names); // config and names found beside the weights
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runModelChoice(values: ParsedValues): Promise<ModelChoice & { configSource?: string }> {
  const choice: ModelChoice & { configSource?: string } = await modelChoice(values);
  const weights = stringOption(values, "weights")!;
  if (stringOption(values, "config") !== undefined || stringOption(values, "preset") !== undefined) {
    return choice;
  }
  if (isUrl(weights)) return choice;
  const found = await findRunConfig(weights);
  if (!found) return choice;
  // Another --num-classes makes the run's names and ids inapplicable.
  const sameClasses = choice.options.numClasses === undefined ||
    choice.options.numClasses === found.options.numClasses;
  return {
    ...choice,
    options: { ...found.options, ...choice.options },
    classNames: choice.classNames ?? (sameClasses ? found.classNames : undefined),
    categoryIds: choice.categoryIds ?? (sameClasses ? found.categoryIds : undefined),
    batchNormEps: choice.batchNormEps ?? found.batchNormEps,
    configSource: found.where,
  };
}

/** A preset and class count that a state_dict fits, or null. */
export interface WeightsShape {
  preset: PresetName;
  numClasses: number;
  maskHead: boolean;
}

/**
 * The preset (with its class count and mask head) that `stateDict` fits exactly, or null: the class count
 * is read from `cls_score`, the mask head from `mask_fcn_logits`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights } from "../mod.ts";
 * import { fittingPreset } from "./_run_folder.ts";
 * const model = await buildModel({ preset: "small", numClasses: 3 });
 * initWeights(model, { seed: 0 });
 * assert.deepStrictEqual(fittingPreset(model.stateDict!), { preset: "small", numClasses: 3, maskHead: true });
 * ```
 */
export function fittingPreset(stateDict: StateDict): WeightsShape | null {
  const numClasses = stateDict.get("roi_heads.box_predictor.cls_score.weight")?.shape[0];
  if (numClasses === undefined || numClasses < 2) return null;
  const maskHead = stateDict.has("roi_heads.mask_predictor.mask_fcn_logits.weight");
  const byDefault = (p: PresetName) => (resolveConfig({ preset: p }).maskHead === maskHead ? 0 : 1);
  const presets = (Object.keys(PRESETS) as PresetName[]).sort((a, b) => byDefault(a) - byDefault(b));
  for (const preset of presets) {
    try {
      checkStateDict(resolveConfig({ preset, numClasses, maskHead }), stateDict);
      return { preset, numClasses, maskHead };
    } catch { /* try the next preset */ }
  }
  return null;
}

/**
 * One line for a weights/config mismatch: how many tensors differ, the first difference, and the options
 * that fit the weights (a preset and class count, or the run's config file). The full list stays in the
 * error's `cause`.
 *
 * @example
 * ```ts
 * import { explainMismatch } from "./_run_folder.ts";
 * // try { await loadWeights(model, path); } catch (e) { throw await explainMismatch(e, path); }
 * console.log(typeof explainMismatch);
 * ```
 */
export async function explainMismatch(error: unknown, source: WeightsSource): Promise<unknown> {
  if (!(error instanceof StateDictMismatchError)) return error;
  const counts = [
    error.missing.length && `${error.missing.length} missing`,
    error.unexpected.length && `${error.unexpected.length} unexpected`,
    error.wrongShape.length && `${error.wrongShape.length} of another shape`,
  ].filter(Boolean).join(", ");
  const first = error.wrongShape[0]
    ? `${error.wrongShape[0].name} is [${error.wrongShape[0].actual}], the config wants [${
      error.wrongShape[0].expected
    }]`
    : error.missing[0]
    ? `${error.missing[0]} is missing`
    : `${error.unexpected[0]} is not in the config`;
  let hint = "pass the --config the model was trained with (a run folder's config.json)";
  try {
    const fit = fittingPreset(await loadStateDict(source));
    if (fit) {
      const maskNote = resolveConfig({ preset: fit.preset }).maskHead === fit.maskHead
        ? ""
        : ` with "maskHead": ${fit.maskHead} in --config`;
      hint = `these weights fit --preset ${fit.preset} --num-classes ${fit.numClasses}${maskNote}`;
      const onlyPredictors = [...error.missing, ...error.unexpected, ...error.wrongShape.map((s) => s.name)]
        .every(isPredictorName);
      if (onlyPredictors) hint += "; to fine-tune on other classes, train --weights replaces the predictors";
    }
  } catch { /* keep the generic hint */ }
  return new Error(
    `${error.file}: the weights do not match the model config (${counts}; ${first}): ${hint}`,
    {
      cause: error,
    },
  );
}
