/**
 * Mask R-CNN on WebGPU for Deno: every layer is a WGSL compute shader dispatched from TypeScript.
 *
 * This release contains the GPU runtime (device, tensors, buffer pool, kernel cache, batched dispatch) and
 * the first ops; see the README for what exists and what does not yet.
 *
 * The module also loads in a browser page (bundled: `deno bundle --platform browser --format esm mod.ts`),
 * where detection, training, weights from bytes / `Response` / URL, the ops and the pure-TypeScript data
 * code work. Exports that read or write files need Deno: `readImageFile`, `loadCocoDataset`,
 * `loadFolderDataset`, `loadTfodDataset`, `writeTfodRecords`, `writeTfRecordFile`, the checkpoint
 * functions, and `loadWeights` / `loadStateDict` given a file path.
 *
 * @example Acquire the GPU and add two tensors
 * ```ts
 * import { add, getGpu, tensorFromArray } from "@maskrcnn/webgpu";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const b = tensorFromArray(new Float32Array([4, 5, 6]), [3]);
 * console.log(await add(a, b).read()); // Float32Array [5, 7, 9]
 * ```
 * @module
 */
import { decodeImage } from "./data/image_codec.ts";
import { type DrawableImage, drawableToRgb } from "./data/image_browser.ts";
import { detectImages, type Detection, type DetectOptions } from "./model/detect.ts";
import type { RawImage } from "./model/transform.ts";
import { type LoadWeightsOptions, type MaskRcnnModel, setStateDict } from "./model/mask_rcnn.ts";
import { checkFineTuneSources, setForFineTuning, type SetForFineTuningOptions } from "./model/fine_tune.ts";
import type { FineTuneReport } from "./model/fine_tune.ts";
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

export { buildModel, disposeModel, setStateDict } from "./model/mask_rcnn.ts";
export { initialStateDict, initRules, initWeights } from "./model/init.ts";
export { backboneStateDict, setForFineTuning } from "./model/fine_tune.ts";
export type { FineTuneReport, SetForFineTuningOptions } from "./model/fine_tune.ts";
export type { InitRule, InitSpec, InitWeightsOptions } from "./model/init.ts";
export {
  createOptimizer,
  disposeOptimizer,
  optimizerStep,
  trainableParameters,
  zeroGradients,
} from "./model/optimizer.ts";
export type {
  AdamwOptions,
  Optimizer,
  OptimizerOptions,
  ParamEntry,
  SgdOptions,
  StepInfo,
  TrainableParam,
} from "./model/optimizer.ts";
export { learningRate } from "./model/lr_schedule.ts";
export type { LrScheduleOptions } from "./model/lr_schedule.ts";
export { CheckpointError } from "./model/checkpoint.ts";
export type { Checkpoint, CheckpointExtra, OptimizerState } from "./model/checkpoint.ts";
export { readOptimizerState, restoreOptimizer } from "./model/optimizer_state.ts";
export { captureCheckpoint, restoreCheckpoint, syncStateDict } from "./model/training.ts";
export { readCheckpointFile, writeCheckpointFile } from "./data/weights/checkpoint_file.ts";
export type { WriteCheckpointOptions } from "./data/weights/checkpoint_file.ts";

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
 * import { buildModel, createOptimizer, initWeights, readCheckpointFile, saveCheckpoint } from "@maskrcnn/webgpu";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/checkpoint.safetensors`, model, opt, { rngState: { epoch: 3 } });
 * const saved = await readCheckpointFile(`${dir}/checkpoint.safetensors`);
 * assert.deepStrictEqual(saved.rngState, { epoch: 3 });
 * const name = "roi_heads.box_head.fc6.bias";
 * assert.deepStrictEqual(saved.weights.get(name)?.data, model.stateDict!.get(name)!.data);
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

export { forwardBackward, NonFiniteLossError } from "./model/train_step.ts";
export type { Losses, LossTensors, TrainBatch, TrainStepOptions, TrainTarget } from "./model/train_step.ts";
export { distributedTrainStep, releaseDistributedBuffers, shardBatch } from "./model/distributed.ts";
export type { DistributedStepOptions, DistributedStepTiming, GradientReducer } from "./model/distributed.ts";
export { selectGpuForLocalRank } from "./ops/device_select.ts";
import type { MpiCommunicator, MpiInitOptions } from "./ops/mpi.ts";
export type { LaunchInfo, MpiCommunicator, MpiInitOptions } from "./ops/mpi.ts";

/**
 * Opens and initialises MPI for data-parallel training (see `distributedTrainStep`). The FFI binding is
 * loaded only by this call (it needs `--allow-ffi`); call `selectGpuForLocalRank` before `getGpu`.
 *
 * @example
 * ```ts
 * import { distributedTrainStep, initMpi, shardBatch } from "@maskrcnn/webgpu";
 * // under mpirun -np 2: const mpi = await initMpi();
 * // const { shard, firstImage } = shardBatch(globalBatch, mpi.rank, mpi.size);
 * // const losses = await distributedTrainStep(model, shard, opt, mpi, { seed: 0, firstImage });
 * console.log(typeof initMpi, typeof distributedTrainStep, typeof shardBatch);
 * ```
 */
export async function initMpi(options?: MpiInitOptions): Promise<MpiCommunicator> {
  const mpi = await import("./ops/mpi.ts");
  return await mpi.initMpi(options);
}
export { adamwUpdate, flagNonFinite, globalGradNorm, sgdUpdate } from "./ops/optimizer.ts";
export type { LoadWeightsOptions, MaskRcnnModel, SetStateDictOptions } from "./model/mask_rcnn.ts";
export { detectImages } from "./model/detect.ts";
export { InvalidInputError, MAX_BATCH_IMAGES } from "./model/input_checks.ts";
export type { Detection, DetectOptions } from "./model/detect.ts";
export type { RawImage } from "./model/transform.ts";

/**
 * What {@link detect} takes: decoded RGB/RGBA pixels (`{data, width, height}`, e.g. a page's `ImageData`),
 * encoded PNG/JPEG bytes, or in a browser page a drawable image (`ImageBitmap`, `<img>`, `<canvas>`).
 */
export type ImageInput = RawImage | Uint8Array | DrawableImage;

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

export { currentGpu, getGpu } from "./ops/gpu.ts";
export type { GpuContext, GpuInfo, GpuOptions } from "./ops/gpu.ts";
export type { MemoryStats } from "./ops/buffer_pool.ts";
export { emptyTensor, keep, readTensors, Tensor, tensorFromArray, tidy } from "./ops/tensor.ts";
export type { DType, TensorData } from "./ops/tensor.ts";
export { dispatch, dispatchStats, params, setBoundedDispatch } from "./ops/kernel.ts";
export { concatLastAxis, gatherRows, splitLastAxis } from "./ops/gather.ts";
export type { GatherRowsOptions } from "./ops/gather.ts";
export { indexValid } from "./ops/compact.ts";
export { boxCandidates, rpnCandidates } from "./ops/detection/candidates.ts";
export { selectClassMask } from "./ops/detection/class_mask.ts";
export { boxesToRois } from "./ops/detection/rois.ts";
export { positiveLabels, sampledBinaryTargets } from "./ops/detection/sampled_labels.ts";
export { scaleBoxes } from "./ops/detection/scale_boxes.ts";
export type { BoxCandidates, RpnCandidates } from "./ops/detection/candidates.ts";
export type { DispatchBound, DispatchSpec, DispatchStats, Kernel, OccupiedRows } from "./ops/kernel.ts";
export { add, addInto, copy, fill, fillInPlace, mul, relu, reluBackward } from "./ops/elementwise.ts";
export { sum } from "./ops/reduce.ts";
export { conv2d, foldFrozenBatchNorm, packConv2dWeights } from "./ops/conv2d.ts";
export type { Conv2dOptions, PackedConv2d } from "./ops/conv2d.ts";
export { linear, linearBackward, packLinearWeights } from "./ops/linear.ts";
export { conv2dBackward } from "./ops/conv2d_backward.ts";
export type { Conv2dBackwardOptions } from "./ops/conv2d_backward.ts";
export type { GemmBackwardOptions, GemmBackwardResult, GemmParamGrads } from "./ops/gemm_backward.ts";
export type { PackedLinear, PackLinearOptions } from "./ops/linear.ts";
export {
  convTranspose2d,
  convTranspose2dBackward,
  packConvTranspose2dWeights,
} from "./ops/conv_transpose2d.ts";
export type { ConvTranspose2dBackwardOptions, PackedConvTranspose2d } from "./ops/conv_transpose2d.ts";
export { maxPool2d, maxPool2dBackward, maxPool2dOutputSize } from "./ops/pool.ts";
export type { MaxPool2dOptions } from "./ops/pool.ts";
export { upsampleNearest, upsampleNearestBackward } from "./ops/upsample.ts";
export { nearestSourceIndex } from "./model/mask_resize.ts";
export {
  flatten,
  nchwFlattenOrderPermutation,
  permuteFlattenedInputColumns,
  sigmoid,
  softmax,
} from "./ops/activation.ts";
export { imageTransform, resizedImageSize, uploadRgb8 } from "./ops/image_transform.ts";
export type { ImageTransformOptions, Rgb8Image, TransformedBatch } from "./ops/image_transform.ts";
export {
  anchorsTensor,
  cellAnchors,
  matterportPyramidAnchors,
  torchvisionAnchors,
} from "./ops/detection/anchors.ts";
export { clipBoxesToImage, decodeBoxes, encodeBoxes, removeSmallBoxes } from "./ops/box_coder.ts";
export type { BoxWeights } from "./ops/box_coder.ts";
export { roiAlign } from "./ops/roi_align.ts";
export { multiScaleRoiAlignBackward, roiAlignBackward } from "./ops/roi_align_backward.ts";
export type { MultiScaleRoiAlignBackwardOptions } from "./ops/roi_align_backward.ts";
export {
  bceWithLogits,
  countNonzero,
  maskBceLoss,
  smoothL1,
  smoothL1ClassSelected,
  softmaxCrossEntropy,
} from "./ops/losses.ts";
export type { LossResult, Normaliser } from "./ops/losses.ts";
export type { LevelMapperConfig } from "./ops/roi_align.ts";
export { inferScale, multiScaleRoiAlign, roiLevels, setupScales } from "./ops/multiscale_roi_align.ts";
export type { MultiScaleRoiAlignOptions } from "./ops/multiscale_roi_align.ts";
export { cropAndResize, pyramidRoiAlign } from "./ops/crop_and_resize.ts";
export { maskBytes, pasteMasks } from "./ops/paste_masks.ts";
export type { PastedMasks, PasteMasksOptions } from "./ops/paste_masks.ts";
export { topk } from "./ops/topk.ts";
export type { TopkOptions, TopkResult } from "./ops/topk.ts";
export { batchedNms, nms } from "./ops/nms.ts";
export type { NmsOptions, NmsResult } from "./ops/nms.ts";
export { boxIou, boxIouBatched } from "./ops/box_iou.ts";
export { disposeGtBatch, uploadGtBatch } from "./ops/detection/gt_batch.ts";
export type { GtBatch, GtImage, GtMasks } from "./ops/detection/gt_batch.ts";
export {
  BELOW_LOW_THRESHOLD,
  BETWEEN_THRESHOLDS,
  INVALID_ELEMENT,
  matchBoxes,
  matchQuality,
} from "./ops/detection/matcher.ts";
export type { MatcherOptions } from "./ops/detection/matcher.ts";
export { sampleBalanced } from "./ops/detection/sampler.ts";
export type { SampleResult, SamplerOptions } from "./ops/detection/sampler.ts";
export { assignAnchorTargets, rpnTargets } from "./ops/detection/rpn_targets.ts";
export type {
  AnchorMatchOptions,
  AnchorTargets,
  RpnTargetOptions,
  RpnTargets,
} from "./ops/detection/rpn_targets.ts";
export { roiTargets } from "./ops/detection/roi_targets.ts";
export type { RoiSlots, RoiTargetOptions, RoiTargets } from "./ops/detection/roi_targets.ts";
export { maskTargets } from "./ops/detection/mask_targets.ts";

// Model: configuration and weights.
export {
  BBOX_XFORM_CLIP,
  ConfigError,
  MASKRCNN_RESNET50_FPN,
  PRESETS,
  resolveConfig,
  ROI_BOX_WEIGHTS,
  RPN_BOX_WEIGHTS,
  SIZE_DIVISIBLE,
  validateConfig,
} from "./model/config.ts";
export type {
  BackboneConfig,
  ConfigOverrides,
  MaskRcnnConfig,
  PresetName,
  ResolveConfigOptions,
} from "./model/config.ts";
export {
  canonicalName,
  expectedStateDict,
  isIgnoredName,
  isPredictorName,
} from "./model/state_dict_names.ts";
export type { ExpectedTensor } from "./model/state_dict_names.ts";
export { canonicalStateDict, checkStateDict } from "./model/weights.ts";
export type { CheckStateDictOptions } from "./model/weights.ts";
export type { StateDict, WeightDType, WeightTensor } from "./model/state_dict.ts";
export { loadStateDict, stateDictToSafetensors } from "./data/weights/load_state_dict.ts";
export type { LoadStateDictOptions, WeightsSource } from "./data/weights/load_state_dict.ts";
export { readSafetensors, writeSafetensors } from "./data/weights/safetensors.ts";
export type { SafetensorsFile } from "./data/weights/safetensors.ts";
export { CHECKSUM_KEY, ChecksumMismatchError, xxh32 } from "./data/weights/checksum.ts";
export type { TorchReadOptions } from "./data/weights/torch_file.ts";
export {
  NoWeightsError,
  PredictorTensorsError,
  StateDictMismatchError,
  WeightsError,
} from "./model/weights_errors.ts";
export { ForbiddenGlobalError, WeightsFormatError } from "./data/weights/errors.ts";
export type { ShapeMismatch } from "./model/weights_errors.ts";
export { COCO_CLASS_NAMES } from "./model/coco_names.ts";
export {
  DeviceLostError,
  DisposedTensorError,
  DTypeError,
  GpuValidationError,
  LimitError,
  MaskRcnnGpuError,
  NoAdapterError,
  ShapeError,
} from "./ops/errors.ts";

// Data: datasets, transforms, loader, pictures.
export type { Batch, Dataset, Image, Target, TrainItem } from "./data/types.ts";
export { DataError, DataErrorTally } from "./data/errors.ts";
export type { DataErrorLocation, DataErrorReason, DataErrorSummary, OnDataError } from "./data/errors.ts";
export { decodeImage, encodePng, readImageFile, sniffImageFormat } from "./data/image_codec.ts";
export { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ENV } from "./data/image_codec.ts";
export type { DecodeImageOptions } from "./data/image_codec.ts";
export { decodeImageInBrowser, drawableToRgb, hasBrowserImageCodecs } from "./data/image_browser.ts";
export type { DrawableImage } from "./data/image_browser.ts";
export { generateShapesItem, SHAPES_CLASS_NAMES, ShapesDataset } from "./data/shapes.ts";
export type { ShapesItem, ShapesOptions } from "./data/shapes.ts";
export { loadCocoDataset } from "./data/coco_dataset.ts";
export type { CocoDataset, CocoDatasetOptions, CocoItem } from "./data/coco_dataset.ts";
export { decodeTfodExample, loadTfodDataset } from "./data/tfod_dataset.ts";
export type { TfodDataset, TfodDatasetOptions, TfodItem } from "./data/tfod_dataset.ts";
export { tfodExampleFromItem, writeTfodRecords } from "./data/tfod_writer.ts";
export { encodeTfRecord, parseTfRecords, writeTfRecordFile } from "./data/tfrecord.ts";
export { loadFolderDataset } from "./data/folder_dataset.ts";
export type { FolderDataset, FolderItem } from "./data/folder_dataset.ts";
export { loadPennFudanDataset } from "./data/pennfudan_dataset.ts";
export type { IdMaskItem, PennFudanDataset } from "./data/pennfudan_dataset.ts";
export { loadVocDataset, VOC_CLASS_NAMES, VOC_VOID } from "./data/voc_dataset.ts";
export type { VocDataset, VocDatasetOptions } from "./data/voc_dataset.ts";
export { decodeIdPng, instancesFromIds, majorityClass } from "./data/instance_id_masks.ts";
export type { IdInstances, IdMap, InstancesFromIdsOptions } from "./data/instance_id_masks.ts";
export { maskArea, maskBox, masksToBoxes } from "./data/mask_boxes.ts";
export type { MaskBoxOptions } from "./data/mask_boxes.ts";
export { polygonsToMaskInBox } from "./data/mask_in_box.ts";
export { minMaxResizeSize, resizeItem, resizeMinMax } from "./data/transforms_resize.ts";
export { resizeSquare } from "./data/transforms_square.ts";
export { flipItem, randomFlipItem } from "./data/transforms_flip.ts";
export { expandMasks, minimizeMasks } from "./data/transforms_minimask.ts";
export {
  composeTransforms,
  minMaxResizeTransform,
  randomFlipTransform,
  squareResizeTransform,
} from "./data/transforms.ts";
export type { ItemTransform } from "./data/transforms.ts";
export { collateBatch } from "./data/collate.ts";
export type { PaddedBatch } from "./data/collate.ts";
export { DataLoader } from "./data/loader.ts";
export type { LoadedBatch, LoaderOptions, LoaderStats } from "./data/loader.ts";
export { rleArea, rleDecode, rleEncode, rleMerge, rleToBbox } from "./data/rle.ts";
export type { CompressedRle, Rle } from "./data/rle.ts";
export { bboxIou, rleIou } from "./data/rle_iou.ts";
export type { CrowdFlags } from "./data/rle_iou.ts";
export { polygonsToRle, segmentationToRle } from "./data/polygon.ts";
export type { CocoSegmentation } from "./data/polygon.ts";
export { COCO_EVAL_PARAMS, evaluateCoco, formatCocoSummary } from "./data/coco_eval.ts";
export type {
  CocoCategoryStats,
  CocoEvalOptions,
  CocoEvalResult,
  CocoGroundTruth,
  CocoGtAnnotation,
  CocoGtCategory,
  CocoGtImage,
  CocoIouType,
  CocoResult,
} from "./data/coco_eval.ts";
export { readCocoResults, toCocoResults } from "./data/coco_results.ts";
export type { CocoDetections, CocoResultEntry, LabelToCategoryId } from "./data/coco_results.ts";
export { drawDetections, drawGroundTruth, drawInstancesRgba } from "./data/draw.ts";
export type { DrawableInstances, DrawOptions } from "./data/draw.ts";
