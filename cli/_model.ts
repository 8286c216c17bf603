/**
 * Model loading and batched detection for the commands: {@link loadCliModel} builds the model from a
 * {@link ModelChoice} and loads its weights; {@link detectEach} runs the public `detect` over images read one
 * by one, batching runs of consecutive same-size images (up to `batch`), and yields each image's result
 * with its share of the batch time.
 * @module
 */
import {
  buildModel,
  checkImageFitsAdapter,
  ConfigError,
  detect,
  type Detection,
  loadWeights,
  type MaskRcnnConfig,
  type MaskRcnnModel,
  type RawImage,
  resolveConfig,
} from "../mod.ts";
import { elapsedMs, type ModelChoice, UsageError } from "./_common.ts";
import { explainMismatch } from "./_run_folder.ts";

/**
 * The full config a {@link ModelChoice} asks for; a config error (bad field in the config file or an
 * override) is a {@link UsageError}. Lets commands check their arguments before loading weights.
 *
 * @example
 * ```ts
 * import { cliConfig } from "./_model.ts";
 * console.log(cliConfig({ options: { preset: "small" }, weights: "w.pth" }).numClasses); // 4
 * ```
 */
export function cliConfig(choice: ModelChoice): MaskRcnnConfig {
  try {
    return resolveConfig(choice.options);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`model config: ${e.message}`);
    throw e;
  }
}

/**
 * Builds the model and loads its weights; returns it with the load time. A config error (bad field in the
 * config file or an override) is a {@link UsageError}; weights errors pass through (exit code 1), a
 * weights/config mismatch as one line saying which options fit the weights.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, saveWeights } from "../mod.ts";
 * import { loadCliModel } from "./_model.ts";
 * const trained = await buildModel({ preset: "small" });
 * initWeights(trained, { seed: 1 });
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/small.safetensors`, saveWeights(trained));
 * const { model, ms } = await loadCliModel({ options: { preset: "small" }, weights: `${dir}/small.safetensors` });
 * assert.strictEqual(model.config.numClasses, 4);
 * assert.ok(ms >= 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCliModel(choice: ModelChoice): Promise<{ model: MaskRcnnModel; ms: number }> {
  const start = performance.now();
  cliConfig(choice);
  const model = await buildModel(choice.options);
  try {
    await loadWeights(model, choice.weights, { batchNormEps: choice.batchNormEps });
  } catch (e) {
    throw await explainMismatch(e, choice.weights);
  }
  return { model, ms: elapsedMs(start) };
}

/** One image to run: a name for messages and a reader that decodes it. */
export interface ImageSource {
  /** Where the image comes from (file path), for messages. */
  name: string;
  /** Reads and decodes the image. */
  read(): Promise<RawImage>;
}

/** One image's result from {@link detectEach}. */
export interface DetectedImage {
  /** Index of the image in the sources. */
  index: number;
  image: RawImage;
  detection: Detection;
  /** This image's share of its batch's detection time, ms. */
  ms: number;
}

/** Options of {@link detectEach}. */
export interface DetectEachOptions {
  /** Most images per forward (consecutive images of the same size). */
  batch: number;
  /** Keep detections with score ≥ this. */
  scoreThreshold: number;
  /**
   * Called when an image cannot be read or decoded; the image is then skipped. Without it, the error
   * stops the run.
   */
  onSkip?: (index: number, error: Error) => void;
}

/**
 * Reads the images in order and runs detection, batching up to `batch` consecutive images of the same size
 * into one forward; yields results in input order (skipped images yield nothing).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights } from "../mod.ts";
 * import { detectEach } from "./_model.ts";
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTest: 50,
 *   rpnPostNmsTopNTest: 20,
 *   boxDetectionsPerImg: 5,
 * });
 * initWeights(model, { seed: 1 });
 * const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256) };
 * const sources = [
 *   { name: "a.png", read: () => Promise.resolve(image) },
 *   { name: "broken.png", read: () => Promise.reject(new Error("not a PNG")) },
 * ];
 * const skipped: number[] = [];
 * const results = [];
 * for await (const r of detectEach(model, sources, { batch: 2, scoreThreshold: 0, onSkip: (i) => skipped.push(i) })) {
 *   results.push(r);
 * }
 * assert.deepStrictEqual(results.map((r) => r.index), [0]);
 * assert.deepStrictEqual(skipped, [1]);
 * assert.ok(results[0].detection.count <= 5);
 * ```
 */
export async function* detectEach(
  model: MaskRcnnModel,
  sources: readonly ImageSource[],
  options: DetectEachOptions,
): AsyncGenerator<DetectedImage> {
  let group: { index: number; image: RawImage }[] = [];
  const flush = async function* () {
    if (group.length === 0) return;
    const start = performance.now();
    const detections = await detect(model, group.map((g) => g.image), {
      scoreThreshold: options.scoreThreshold,
    });
    const ms = elapsedMs(start) / group.length;
    const done = group;
    group = [];
    for (let i = 0; i < done.length; i++) {
      yield { index: done[i].index, image: done[i].image, detection: detections[i], ms };
    }
  };
  for (let index = 0; index < sources.length; index++) {
    let image: RawImage;
    try {
      image = await sources[index].read();
      checkImageFitsAdapter(image, sources[index].name);
    } catch (e) {
      if (!options.onSkip) throw e;
      options.onSkip(index, e as Error);
      continue;
    }
    const first = group[0]?.image;
    if (first && (first.width !== image.width || first.height !== image.height)) yield* flush();
    group.push({ index, image });
    if (group.length >= options.batch) yield* flush();
  }
  yield* flush();
}
