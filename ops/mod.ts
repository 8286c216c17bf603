/**
 * The op library of `@maskrcnn/webgpu` (`import … from "@maskrcnn/webgpu/ops"`): the GPU runtime (device
 * context, tensors, buffer pool, kernel cache and dispatch), the layers with their backward passes, the
 * box, RoI and loss ops, the Mask R-CNN target kernels, the optimizer updates and the runtime's errors.
 * Every op is a WGSL compute shader dispatched from TypeScript on GPU tensors; shapes and layouts are
 * written at each op's signature.
 *
 * The main export (`@maskrcnn/webgpu`) is what a user of the model calls (models, weights, `detect`,
 * training, datasets, evaluation, drawing); this one is for writing new layers and kernels or checking
 * the numerics of one op.
 *
 * @example Acquire the GPU and add two tensors
 * ```ts
 * import assert from "node:assert";
 * import { add, getGpu, tensorFromArray } from "@maskrcnn/webgpu/ops";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const b = tensorFromArray(new Float32Array([4, 5, 6]), [3]);
 * assert.deepStrictEqual(await add(a, b).read(), new Float32Array([5, 7, 9]));
 * ```
 * @module
 */

// Runtime: the device context, tensors, memory, kernels.
export {
  BIND_GROUP_CACHE,
  currentGpu,
  getGpu,
  type GpuContext,
  type GpuInfo,
  type GpuOptions,
  SOFTWARE_THREADS,
} from "./gpu.ts";
export type { MemoryStats } from "./buffer_pool.ts";
export {
  type DType,
  emptyTensor,
  keep,
  readTensors,
  Tensor,
  type TensorData,
  tensorFromArray,
  tidy,
} from "./tensor.ts";
export {
  dispatch,
  type DispatchBound,
  type DispatchSpec,
  type DispatchStats,
  dispatchStats,
  type Kernel,
  type OccupiedRows,
  params,
  setBoundedDispatch,
} from "./kernel.ts";
export {
  type DispatchTiming,
  type KernelProfile,
  type KernelProfileEntry,
  startKernelProfile,
  stopKernelProfile,
  summarizeKernelProfile,
} from "./profile.ts";

// Elementwise, reductions, activations, gathers.
export { add, addInto, copy, fill, fillInPlace, mul, relu, reluBackward } from "./elementwise.ts";
export { sum } from "./reduce.ts";
export {
  flatten,
  nchwFlattenOrderPermutation,
  permuteFlattenedInputColumns,
  sigmoid,
  softmax,
} from "./activation.ts";
export { concatLastAxis, gatherRows, type GatherRowsOptions, splitLastAxis } from "./gather.ts";

// Layers and their backward passes.
export {
  conv2d,
  type Conv2dOptions,
  foldFrozenBatchNorm,
  packConv2dWeights,
  type PackedConv2d,
} from "./conv2d.ts";
export { conv2dBackward, type Conv2dBackwardOptions } from "./conv2d_backward.ts";
export {
  linear,
  linearBackward,
  type PackedLinear,
  type PackLinearOptions,
  packLinearWeights,
} from "./linear.ts";
export type { GemmBackwardResult, GemmParamGrads } from "./gemm_backward.ts";
export {
  convTranspose2d,
  convTranspose2dBackward,
  packConvTranspose2dWeights,
  type PackedConvTranspose2d,
} from "./conv_transpose2d.ts";
export { maxPool2d, maxPool2dBackward, type MaxPool2dOptions, maxPool2dOutputSize } from "./pool.ts";
export { upsampleNearest, upsampleNearestBackward } from "./upsample.ts";
export {
  imageTransform,
  type ImageTransformOptions,
  resizedImageSize,
  type Rgb8Image,
  type TransformedBatch,
  uploadRgb8,
} from "./image_transform.ts";

// Boxes: anchors, encoding, IoU, NMS, top-k.
export { anchorsTensor, cellAnchors, torchvisionAnchors } from "./detection/anchors.ts";
export {
  type BoxWeights,
  clipBoxesToImage,
  decodeBoxes,
  encodeBoxes,
  removeSmallBoxes,
} from "./box_coder.ts";
export { boxIou, boxIouBatched } from "./box_iou.ts";
export { batchedNms, nms, type NmsOptions, type NmsResult } from "./nms.ts";
export { topk, type TopkOptions, type TopkResult } from "./topk.ts";

// RoIs: RoIAlign (single and multi-scale) with backward, mask pasting.
export { type LevelMapperConfig, roiAlign } from "./roi_align.ts";
export {
  multiScaleRoiAlignBackward,
  type MultiScaleRoiAlignBackwardOptions,
  roiAlignBackward,
} from "./roi_align_backward.ts";
export {
  inferScale,
  multiScaleRoiAlign,
  type MultiScaleRoiAlignOptions,
  roiLevels,
  setupScales,
} from "./multiscale_roi_align.ts";
export { maskBytes, type PastedMasks, pasteMasks, type PasteMasksOptions } from "./paste_masks.ts";

// Losses.
export {
  bceWithLogits,
  countNonzero,
  type LossResult,
  maskBceLoss,
  type Normaliser,
  smoothL1,
  smoothL1ClassSelected,
  softmaxCrossEntropy,
} from "./losses.ts";

// Mask R-CNN's target kernels: ground truth on the GPU, matching, sampling, targets, candidates.
export {
  type BoxCandidates,
  boxCandidates,
  type RpnCandidates,
  rpnCandidates,
} from "./detection/candidates.ts";
export { boxesToRois, type GatheredSlots, gatherSlots } from "./detection/rois.ts";
export { positiveLabels, sampledBinaryTargets } from "./detection/sampled_labels.ts";
export { scaleBoxes } from "./detection/scale_boxes.ts";
export { selectClassMask } from "./detection/class_mask.ts";
export { compactFlags, indexValid } from "./compact.ts";
export {
  disposeGtBatch,
  type GtBatch,
  type GtImage,
  type GtMasks,
  uploadGtBatch,
} from "./detection/gt_batch.ts";
export {
  BELOW_LOW_THRESHOLD,
  BETWEEN_THRESHOLDS,
  INVALID_ELEMENT,
  matchBoxes,
  type MatcherOptions,
  matchQuality,
} from "./detection/matcher.ts";
export { sampleBalanced, type SampleResult, type SamplerOptions } from "./detection/sampler.ts";
export {
  type AnchorMatchOptions,
  type AnchorTargets,
  assignAnchorTargets,
  type RpnTargetOptions,
  type RpnTargets,
  rpnTargets,
} from "./detection/rpn_targets.ts";
export {
  type RoiSlots,
  type RoiTargetOptions,
  type RoiTargets,
  roiTargets,
} from "./detection/roi_targets.ts";
export { maskTargets } from "./detection/mask_targets.ts";

// Optimizer updates.
export { adamwUpdate, flagNonFinite, globalGradNorm, sgdUpdate } from "./optimizer.ts";

// Errors of the runtime and the ops.
export {
  DeviceLostError,
  DisposedTensorError,
  DTypeError,
  GpuValidationError,
  LimitError,
  MaskRcnnGpuError,
  NoAdapterError,
  ShapeError,
} from "./errors.ts";
