/**
 * # @maskrcnn/webgpu: Mask R-CNN on WebGPU
 *
 * torchvision's Mask R-CNN (ResNet-50-FPN) running natively in Deno on WebGPU: every layer, its backward
 * pass and the optimizer are WGSL compute shaders dispatched from TypeScript. torchvision's weights load
 * and give torchvision's answers; training runs on the GPU with one read-back a step. The same module
 * loads in a browser page (bundled with `deno bundle --platform browser`); the exports that read or write
 * files need Deno.
 *
 * ## Quick start: detect
 *
 * {@link buildModel} makes a model from a preset (torchvision's `maskrcnn_resnet50_fpn`, or `small` for
 * tests and demos) and overrides; {@link loadWeights} loads a torchvision `.pth` or a `.safetensors` file
 * (a path, a URL, bytes or a `Response`); {@link detect} takes PNG/JPEG bytes or decoded pixels and returns
 * boxes, labels, scores and full-size masks in input pixels.
 *
 * ```ts ignore
 * import { buildModel, COCO_CLASS_NAMES, detect, loadWeights } from "@maskrcnn/webgpu";
 * const model = await buildModel({ preset: "maskrcnn_resnet50_fpn" });
 * // torchvision's COCO checkpoint; its FrozenBatchNorm layers use eps 0.
 * await loadWeights(model, "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", { batchNormEps: 0 });
 * const photo = await Deno.readFile("street.jpg");
 * const det = await detect(model, photo, { scoreThreshold: 0.5 });
 * for (let i = 0; i < det.count; i++) console.log(COCO_CLASS_NAMES[det.labels[i]], det.scores[i]);
 * ```
 *
 * An array of images runs as one batch (at most {@link MAX_BATCH_IMAGES}); {@link checkImageFitsAdapter}
 * tells before the upload whether a very large photo fits the adapter.
 *
 * ## Models and configuration
 *
 * {@link resolveConfig} gives the full {@link MaskRcnnConfig} of a preset plus overrides (torchvision's
 * `MaskRCNN` arguments in camelCase: `numClasses`, `minSize`, `rpnPostNmsTopNTest`, …); {@link PRESETS}
 * lists the presets. {@link disposeModel} frees a model's GPU memory.
 *
 * ## Weights
 *
 * {@link loadWeights} / {@link saveWeights} move a model's weights in and out (torchvision names, so a
 * saved file loads in PyTorch with `safetensors`). {@link loadStateDict} reads a weights file into a
 * {@link StateDict} in memory and {@link checkStateDict} checks one against a config;
 * {@link readSafetensors} / {@link writeSafetensors} are the safetensors format itself.
 * {@link initWeights} gives fresh weights (torchvision's initialisation, seeded) and
 * {@link loadForFineTuning} starts from COCO or ImageNet weights with new predictors for your classes
 * ({@link isPredictorName} tells which tensors those are).
 *
 * ## Training
 *
 * {@link trainStep} runs one step (forward, torchvision's five losses, backward, optimizer update) on the
 * GPU and returns the losses; {@link createOptimizer} makes SGD or AdamW with torchvision's warm-up,
 * {@link learningRate} says the rate of a step. {@link saveCheckpoint} / {@link loadCheckpoint} write and
 * restore a whole training state (weights, optimizer, step, RNG state) atomically, so that a run killed at
 * any moment resumes bit for bit; {@link syncStateDict} copies trained values into `model.stateDict`
 * (for `saveWeights`). {@link writeFileAtomic} and {@link removeStaleTempFiles} do the same crash-safe
 * writing for your own files.
 *
 * Data-parallel training over MPI: {@link launchInfo} reads the launcher's environment,
 * {@link selectGpuForLocalRank} picks this rank's GPU, {@link initMpi} opens MPI (`--allow-ffi`), and
 * {@link distributedTrainStep} trains on this rank's {@link shardBatch} of a global batch with averaged
 * gradients.
 *
 * ## Datasets
 *
 * A {@link Dataset} gives {@link TrainItem}s (an image and its boxes, labels and masks). Built in: COCO
 * ({@link loadCocoDataset}), TensorFlow Object Detection TFRecords ({@link loadTfodDataset},
 * {@link writeTfodRecords}), a folder of images with instance-id masks ({@link loadFolderDataset}),
 * Penn-Fudan ({@link loadPennFudanDataset}), Pascal VOC ({@link loadVocDataset}) and generated shapes
 * ({@link ShapesDataset}). {@link DataLoader} batches a dataset with seeded shuffling, transforms
 * ({@link composeTransforms}, {@link minMaxResizeTransform}, {@link randomFlipTransform}) and workers;
 * bad items become {@link DataError}s naming the file, skipped or fatal as you choose.
 * {@link decodeImage}, {@link readImageFile} and {@link encodePng} are the image codecs,
 * {@link readJsonFile} reads JSON files with errors that name them, {@link deriveSeed} derives seeds.
 *
 * ## Evaluation
 *
 * {@link evaluateCoco} reproduces pycocotools' COCOeval (bbox and segm) to its printed digits and
 * {@link formatCocoSummary} prints its twelve lines; {@link toCocoResults} turns a {@link Detection} into
 * COCO result entries (masks as RLE, {@link rleEncode}), {@link readCocoResults} reads a results file.
 *
 * ## Drawing
 *
 * {@link drawDetections} and {@link drawGroundTruth} make PNG pictures of results and of your data (tinted
 * masks, boxes, class names and scores); {@link drawInstancesRgba}, {@link toRgba}, {@link drawText} and
 * {@link textSize} draw on RGBA bitmaps of your own.
 *
 * ## Errors
 *
 * Library code throws typed errors and never prints or exits: {@link InvalidInputError} (an argument of the
 * wrong type), {@link ShapeError}, {@link ConfigError}, {@link WeightsError} and its kinds
 * ({@link WeightsFormatError}, {@link StateDictMismatchError}, {@link ChecksumMismatchError}),
 * {@link NoWeightsError}, {@link CheckpointError}, {@link NonFiniteLossError}, {@link DataError}, and the
 * GPU's {@link MaskRcnnGpuError} family ({@link NoAdapterError}, {@link DeviceLostError},
 * {@link LimitError}). Each names the argument, tensor or file at fault.
 *
 * ## The op library
 *
 * Tensors, the GPU context and every op (convolutions, RoIAlign, NMS, losses, … with their backward
 * passes) are the sub-path export `@maskrcnn/webgpu/ops`.
 *
 * @example Detect with a small random-weight model and draw the result
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, detect, drawDetections, generateShapesItem, initWeights } from "@maskrcnn/webgpu";
 * // A trained model comes from loadWeights; random weights and few proposals keep this quick.
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTest: 50,
 *   rpnPostNmsTopNTest: 20,
 *   boxDetectionsPerImg: 5,
 * });
 * initWeights(model, { seed: 1 });
 * const { image } = generateShapesItem(7, { width: 64, height: 64 });
 * const det = await detect(model, image, { scoreThreshold: 0 });
 * assert.ok(det.count <= 5);
 * const png = drawDetections(image, det, { classNames: ["background", "square", "circle", "triangle"] });
 * assert.deepStrictEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
 * ```
 * @module
 */
import { decodeImage } from "./data/image_codec.ts";
import { type DrawableImage, drawableToRgb } from "./data/image_browser.ts";
import { detectImages, type Detection, type DetectOptions } from "./model/detect.ts";
import type { RawImage } from "./model/transform.ts";
import { type LoadWeightsOptions, type MaskRcnnModel, setStateDict } from "./model/mask_rcnn.ts";
import {
  checkFineTuneSources,
  type FineTuneReport,
  setForFineTuning,
  type SetForFineTuningOptions,
} from "./model/fine_tune.ts";
import { captureCheckpoint, restoreCheckpoint } from "./model/training.ts";
import type { StateDict } from "./model/state_dict.ts";
import { NoWeightsError } from "./model/weights_errors.ts";
import { loadStateDict, stateDictToSafetensors, type WeightsSource } from "./data/weights/load_state_dict.ts";
import {
  readCheckpointFile,
  writeCheckpointFile,
  type WriteCheckpointOptions,
} from "./data/weights/checkpoint_file.ts";
import { checkBatchSize, checkImageInput, checkTrainBatch } from "./model/input_checks.ts";
import type { Optimizer } from "./model/optimizer.ts";
import {
  type Losses,
  trainStep as trainStepRaw,
  type TrainStepOptions,
  type TrainTarget,
} from "./model/train_step.ts";
import type { MpiCommunicator, MpiInitOptions } from "./ops/mpi.ts";

// Models, configuration and detection.
// (loadWeights and saveWeights are defined under "Weights" below; one export statement per source file.)
export { buildModel, disposeModel, type LoadWeightsOptions, type MaskRcnnModel } from "./model/mask_rcnn.ts";
export {
  ConfigError,
  type ConfigOverrides,
  type MaskRcnnConfig,
  type PresetName,
  PRESETS,
  resolveConfig,
  type ResolveConfigOptions,
} from "./model/config.ts";
export { checkImageFitsAdapter, type Detection, type DetectOptions } from "./model/detect.ts";
export type { RawImage } from "./model/transform.ts";
export { InvalidInputError, MAX_BATCH_IMAGES } from "./model/input_checks.ts";
export { COCO_CLASS_NAMES } from "./model/coco_names.ts";

// detect: images in any form, one batched forward.

/**
 * What {@link detect} takes: decoded RGB/RGBA pixels (`{data, width, height}`, e.g. a page's `ImageData`),
 * encoded PNG/JPEG bytes, or in a browser page a drawable image (`ImageBitmap`, `<img>`, `<canvas>`).
 */
export type ImageInput = RawImage | Uint8Array | DrawableImage;
export type { DrawableImage } from "./data/image_browser.ts";

async function toRaw(input: ImageInput, index: number): Promise<RawImage> {
  if (input instanceof Uint8Array) return await decodeImage(input, `image ${index}`);
  if ("data" in input && input.data !== undefined) return input as RawImage;
  return drawableToRgb(input as DrawableImage);
}

/** `detect`'s image argument(s): an array of at most MAX_BATCH_IMAGES, each bytes or a decoded image. */
function checkDetectInput(input: unknown): void {
  if (Array.isArray(input)) {
    checkBatchSize("detect", input.length);
    input.forEach((image, i) => checkImageInput("detect", `images[${i}]`, image));
  } else checkImageInput("detect", "image", input);
}

/**
 * Detects objects (and their masks) in one image or an array of images; the whole forward runs on the GPU
 * with one read-back. Encoded PNG/JPEG bytes are decoded first (imagescript's WebAssembly codecs). An
 * array holds at most `MAX_BATCH_IMAGES` (14) images. Anything else (a path string, `null`, an
 * `ArrayBuffer` — wrap encoded bytes in a `Uint8Array` — or pixel data that is not 8-bit) throws
 * `InvalidInputError` naming the argument and what it accepts.
 *
 * @example One image in, one result out
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, detect, encodePng, initWeights } from "@maskrcnn/webgpu";
 * // With torchvision's COCO weights:
 * //   const model = await buildModel({ preset: "maskrcnn_resnet50_fpn" });
 * //   await loadWeights(model, "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", { batchNormEps: 0 });
 * //   const det = await detect(model, await Deno.readFile("street.jpg"), { scoreThreshold: 0.5 });
 * //   for (let i = 0; i < det.count; i++) console.log(COCO_CLASS_NAMES[det.labels[i]], det.scores[i]);
 * // Here a small random-weight model (and few RPN proposals) keeps the example quick:
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTest: 50,
 *   rpnPostNmsTopNTest: 20,
 *   boxDetectionsPerImg: 5,
 * });
 * initWeights(model, { seed: 1 });
 * const png = encodePng(new Uint8Array(64 * 64 * 3).map((_, i) => (i * 13) % 256), 64, 64, 3);
 * const det = await detect(model, png, { scoreThreshold: 0 });
 * assert.ok(det.count <= 5);
 * assert.strictEqual(det.masks!.length, det.count * 64 * 64); // one full-size 0/1 mask per detection
 * ```
 */
export function detect(model: MaskRcnnModel, image: ImageInput, options?: DetectOptions): Promise<Detection>;
/** An array of images in, an array of results out (one batched forward). */
export function detect(
  model: MaskRcnnModel,
  images: readonly ImageInput[],
  options?: DetectOptions,
): Promise<Detection[]>;
/** Implementation of both overloads. */
export async function detect(
  model: MaskRcnnModel,
  input: ImageInput | readonly ImageInput[],
  options: DetectOptions = {},
): Promise<Detection | Detection[]> {
  checkDetectInput(input);
  if (Array.isArray(input)) {
    const raws = await Promise.all((input as readonly ImageInput[]).map(toRaw));
    return await detectImages(model, raws, options);
  }
  const [result] = await detectImages(model, [await toRaw(input as ImageInput, 0)], options);
  return result;
}

// Training (the public step).

/** A training batch: images (decoded or PNG/JPEG bytes) and their targets in input pixels. */
export interface TrainingBatch {
  images: readonly ImageInput[];
  targets: readonly TrainTarget[];
}

/**
 * One training step on the GPU: forward, torchvision's five losses, backward, optimizer update; returns the
 * losses (one read-back). A non-finite loss throws `NonFiniteLossError` and leaves the weights untouched.
 * The batch is checked first: at most `MAX_BATCH_IMAGES` (14) images, each bytes or a decoded image, and
 * targets with Float32Array `boxes` (n×4), Int32Array `labels` (n) and Uint8Array `masks` (n×H×W); a wrong
 * type throws `InvalidInputError` naming it (`batch.targets[1].boxes`), a wrong count `ShapeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, createOptimizer, initWeights, ShapesDataset, trainStep } from "@maskrcnn/webgpu";
 * // The demo trains { preset: "small" } on 128×128 shapes, 4 images a step; smaller samplers keep this quick.
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTrain: 100,
 *   rpnPostNmsTopNTrain: 50,
 *   rpnBatchSizePerImage: 32,
 *   boxBatchSizePerImage: 32,
 * });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.02, momentum: 0.9, weightDecay: 1e-4, warmupIters: 50 });
 * const data = new ShapesDataset({ count: 1, seed: 1, width: 64, height: 64 });
 * const items = await Promise.all([0].map((i) => data.get(i)));
 * const losses = await trainStep(model, { images: items.map((x) => x.image), targets: items.map((x) => x.target) }, opt);
 * assert.ok(Number.isFinite(losses.total) && losses.total > 0);
 * assert.strictEqual(opt.stepCount, 1);
 * ```
 */
export async function trainStep(
  model: MaskRcnnModel,
  batch: TrainingBatch,
  opt: Optimizer,
  options?: TrainStepOptions,
): Promise<Losses> {
  checkTrainBatch("trainStep", batch, checkImageInput);
  const images = await Promise.all(batch.images.map(toRaw));
  return await trainStepRaw(model, { images, targets: batch.targets }, opt, options);
}

// Weights.
export { checkStateDict } from "./model/weights.ts";
export type { StateDict } from "./model/state_dict.ts";
export { loadStateDict, type WeightsSource } from "./data/weights/load_state_dict.ts";
export { readSafetensors, writeSafetensors } from "./data/weights/safetensors.ts";
export { initWeights } from "./model/init.ts";
export type { FineTuneReport } from "./model/fine_tune.ts";
export { isPredictorName } from "./model/state_dict_names.ts";

// Weights and checkpoints: the files (data/weights/) joined to the model's in-memory state dicts (model/).

function sourceName(source: WeightsSource): string | undefined {
  return typeof source === "string" ? source : source instanceof URL ? source.href : undefined;
}

/**
 * Loads weights from a path, URL, `Response` or bytes into `model`: torch `.pth` (zip or legacy) or
 * safetensors, either generation of torchvision names (`loadStateDict`, then `setStateDict`). Strict: a
 * missing, unexpected or wrongly shaped tensor is listed by name in one error naming the file. Replaces
 * (and frees) any weights loaded before.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, loadWeights, saveWeights } from "@maskrcnn/webgpu";
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
  const file = sourceName(source);
  setStateDict(model, await loadStateDict(source, { file }), { ...options, file });
}

/**
 * The model's weights as safetensors bytes with torchvision 0.14 names (loadable by `loadWeights` and by
 * torchvision after `safetensors.torch.load_file`). Throws `NoWeightsError` for a model without weights.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, readSafetensors, saveWeights } from "@maskrcnn/webgpu";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const bytes = saveWeights(model); // e.g. await Deno.writeFile("model.safetensors", bytes)
 * assert.ok(readSafetensors(bytes).tensors.has("roi_heads.mask_predictor.mask_fcn_logits.weight"));
 * ```
 */
export function saveWeights(model: MaskRcnnModel): Uint8Array {
  if (!model.stateDict) {
    throw new NoWeightsError("saveWeights: the model has no weights (call loadWeights first)");
  }
  return stateDictToSafetensors(model.stateDict, { format: "pt" });
}

/** Options of {@link loadForFineTuning}: {@link SetForFineTuningOptions} with files, URLs or bytes. */
export interface FineTuneOptions
  extends Omit<SetForFineTuningOptions, "weights" | "backboneWeights" | "file"> {
  /** A Mask R-CNN / Faster R-CNN checkpoint (any class count); its predictors are replaced if needed. */
  weights?: WeightsSource | StateDict;
  /** A classification ResNet checkpoint (`.pth` or safetensors) for the backbone body only. */
  backboneWeights?: WeightsSource | StateDict;
}

/**
 * Gives `model` its starting weights for fine-tuning from a detection checkpoint of any class count
 * (`weights`: predictors replaced by torchvision's fresh initialisation where the shapes differ) or a
 * classification ResNet (`backboneWeights`, into the body only); see `setForFineTuning`, which this
 * calls after reading the files. Returns what was replaced.
 *
 * @example Fine-tune a 5-class model on 3 classes (COCO weights work the same way, with batchNormEps: 0)
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, loadForFineTuning, saveWeights } from "@maskrcnn/webgpu";
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
  checkFineTuneSources(options);
  const source = options.weights ?? options.backboneWeights;
  const file = source === undefined || source instanceof Map ? undefined : sourceName(source) ?? "<bytes>";
  const read = async (s: WeightsSource | StateDict | undefined) =>
    s === undefined || s instanceof Map ? s : await loadStateDict(s, { file });
  return setForFineTuning(model, {
    ...options,
    weights: await read(options.weights),
    backboneWeights: await read(options.backboneWeights),
    file,
  });
}

/**
 * Writes a checkpoint of `model` and `opt` to `path` (`captureCheckpoint`, then `writeCheckpointFile`):
 * weights, the exact packed GPU values, optimizer state, step, config and `extra.rngState`, atomically
 * (a temporary file renamed over `path`; a failed write keeps the previous checkpoint).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, createOptimizer, initWeights, loadCheckpoint, saveCheckpoint } from "@maskrcnn/webgpu";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/checkpoint.safetensors`, model, opt, { rngState: { epoch: 3 } });
 * const restored = await buildModel({ preset: "small" });
 * initWeights(restored, { seed: 2 });
 * const ropt = createOptimizer(restored, { type: "sgd", lr: 0.01 });
 * const { rngState } = await loadCheckpoint(`${dir}/checkpoint.safetensors`, restored, ropt);
 * assert.deepStrictEqual(rngState, { epoch: 3 });
 * const name = "roi_heads.box_head.fc6.bias";
 * assert.deepStrictEqual(restored.stateDict!.get(name)!.data, model.stateDict!.get(name)!.data);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  model: MaskRcnnModel,
  opt: Optimizer,
  extra: { rngState?: unknown } = {},
  options: WriteCheckpointOptions = {},
): Promise<void> {
  await writeCheckpointFile(path, await captureCheckpoint(model, opt, extra), options);
}

/**
 * Restores a checkpoint written by {@link saveCheckpoint} into `model` and `opt` (created for the same
 * architecture and optimizer type): `readCheckpointFile`, then `restoreCheckpoint`. Returns the step and
 * the saved RNG state; a `CheckpointError` names the file and what does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, createOptimizer, initWeights, loadCheckpoint, saveCheckpoint } from "@maskrcnn/webgpu";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/checkpoint.safetensors`, model, opt, { rngState: { epoch: 3 } });
 * const { step, rngState } = await loadCheckpoint(`${dir}/checkpoint.safetensors`, model, opt);
 * assert.deepStrictEqual([step, rngState], [0, { epoch: 3 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(
  path: string,
  model: MaskRcnnModel,
  opt: Optimizer,
): Promise<{ step: number; rngState: unknown }> {
  return restoreCheckpoint(model, opt, await readCheckpointFile(path));
}

// Training.
export {
  type Losses,
  NonFiniteLossError,
  type TrainBatch,
  type TrainStepOptions,
  type TrainTarget,
} from "./model/train_step.ts";
export { createOptimizer, type Optimizer, type OptimizerOptions } from "./model/optimizer.ts";
export { learningRate } from "./model/lr_schedule.ts";
export { syncStateDict } from "./model/training.ts";
export { CheckpointError } from "./model/checkpoint.ts";
export { removeStaleTempFiles, writeFileAtomic } from "./data/atomic_file.ts";

// Data-parallel training over MPI.
export {
  type DistributedStepOptions,
  type DistributedStepTiming,
  distributedTrainStep,
  type GradientReducer,
  shardBatch,
} from "./model/distributed.ts";
export { selectGpuForLocalRank } from "./ops/device_select.ts";
export { type LaunchInfo, launchInfo } from "./ops/mpi_launch.ts";
export type { MpiCommunicator, MpiInitOptions } from "./ops/mpi.ts";

/**
 * Opens and initialises MPI for data-parallel training (see {@link distributedTrainStep}). The FFI binding is
 * loaded only by this call (it needs `--allow-ffi`); call {@link selectGpuForLocalRank} before the first
 * GPU use (`buildModel`).
 *
 * @example One training script for one process and for each rank of `mpirun -np N`
 * ```ts
 * import assert from "node:assert";
 * import { initMpi, launchInfo, selectGpuForLocalRank } from "@maskrcnn/webgpu";
 * const launch = launchInfo(); // null unless started by mpirun, mpiexec or srun
 * if (launch !== null && launch.size > 1) {
 *   selectGpuForLocalRank(launch.localRank ?? launch.rank);
 *   const mpi = await initMpi({ launch });
 *   // each step: const { shard, firstImage } = shardBatch(globalBatch, mpi.rank, mpi.size);
 *   //            await distributedTrainStep(model, shard, opt, mpi, { seed: step, firstImage });
 *   assert.strictEqual(mpi.size, launch.size);
 * } else {
 *   assert.strictEqual(launch?.size ?? 1, 1); // a single process: plain trainStep
 * }
 * ```
 */
export async function initMpi(options?: MpiInitOptions): Promise<MpiCommunicator> {
  const mpi = await import("./ops/mpi.ts");
  return await mpi.initMpi(options);
}

// Datasets: datasets, loader, transforms, images.
export type { Batch, Dataset, Image, Target, TrainItem } from "./data/types.ts";
export { generateShapesItem, SHAPES_CLASS_NAMES, ShapesDataset } from "./data/shapes.ts";
export { loadCocoDataset } from "./data/coco_dataset.ts";
export { loadTfodDataset } from "./data/tfod_dataset.ts";
export { writeTfodRecords } from "./data/tfod_writer.ts";
export { loadFolderDataset } from "./data/folder_dataset.ts";
export { loadPennFudanDataset } from "./data/pennfudan_dataset.ts";
export { loadVocDataset, VOC_CLASS_NAMES } from "./data/voc_dataset.ts";
export { DataLoader } from "./data/loader.ts";
export {
  composeTransforms,
  type ItemTransform,
  minMaxResizeTransform,
  randomFlipTransform,
} from "./data/transforms.ts";
export { decodeImage, encodePng, readImageFile } from "./data/image_codec.ts";
export { readJsonFile } from "./data/json_file.ts";
export { deriveSeed } from "./data/prng.ts";

// Evaluation: COCO metrics and results.
export {
  type CocoEvalResult,
  type CocoGroundTruth,
  type CocoIouType,
  type CocoResult,
  evaluateCoco,
  formatCocoSummary,
} from "./data/coco_eval.ts";
export { type CocoResultEntry, readCocoResults, toCocoResults } from "./data/coco_results.ts";
export { rleEncode } from "./data/rle.ts";

// Drawing.
export {
  type DrawableInstances,
  drawDetections,
  drawGroundTruth,
  drawInstancesRgba,
  type DrawOptions,
  toRgba,
} from "./data/draw.ts";
export { drawText, textSize } from "./data/draw_text.ts";

// Errors (those of one section are exported with it: InvalidInputError, ConfigError, NonFiniteLossError,
// CheckpointError).
export { NoWeightsError, StateDictMismatchError, WeightsError } from "./model/weights_errors.ts";
export { WeightsFormatError } from "./data/weights/errors.ts";
export { ChecksumMismatchError } from "./data/weights/checksum.ts";
export { DataError, type DataErrorSummary } from "./data/errors.ts";
export { DeviceLostError, LimitError, MaskRcnnGpuError, NoAdapterError, ShapeError } from "./ops/errors.ts";
