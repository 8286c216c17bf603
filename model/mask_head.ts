/**
 * The mask branch of torchvision's `RoIHeads`: the mask head (MultiScaleRoIAlign 14×14, sampling 2,
 * `MaskRCNNHeads` 3×3 convs + ReLU, `MaskRCNNPredictor` 2×2 stride-2 transposed conv + ReLU and 1×1 logits)
 * as one forward, {@link maskHead}, with its backward beside it (llm.c's pairing: the forward keeps what the
 * backward needs when asked to record). Inference: {@link maskBranch} runs it on the detected boxes and
 * applies `maskrcnn_inference` (the sigmoid of the predicted class's channel). Training:
 * {@link maskHeadOnPositives} runs it on the positive proposals, {@link maskRcnnLoss} is `maskrcnn_loss`,
 * {@link maskHeadBackward} adds the gradients.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { conv2dBackward } from "../ops/conv2d_backward.ts";
import { convTranspose2d, convTranspose2dBackward } from "../ops/conv_transpose2d.ts";
import { selectClassMask } from "../ops/detection/class_mask.ts";
import { boxesToRois } from "../ops/detection/rois.ts";
import { compactFlags } from "../ops/compact.ts";
import { addInto } from "../ops/elementwise.ts";
import { gatherRows } from "../ops/gather.ts";
import { currentGpu } from "../ops/gpu.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { maskBceLoss, type Normaliser } from "../ops/losses.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { forEachRoiChunk, mapRoiChunks, roiChunkRows } from "./roi_chunks.ts";
import type { ModelParams } from "./params.ts";
import type { HeadGrads, PyramidGrads } from "./pyramid_grads.ts";
import { roiPool, roiPoolBackward } from "./roi_pooler.ts";
import { ConfigError } from "./config.ts";

/** What {@link maskHeadBackward} needs from the forward. */
export interface MaskHeadTape {
  /** The head's inputs: the pyramid [P2..P6], the RoIs [R, 5] and the image sizes. */
  pyramid: readonly Tensor[];
  rois: Tensor;
  imageSizes: readonly (readonly [number, number])[];
  /** The rows the forward computed (`occupied`), which the backward computes too. */
  occupied?: OccupiedRows;
  /** [pooled features, each 3×3 conv's ReLU output], each [R, 14, 14, C]: the convs' inputs and outputs. */
  activations: Tensor[];
  /** [R, 28, 28, C] the transposed conv's ReLU output (the logits conv's input). */
  upsampled: Tensor;
}

/** The mask logits [R, 28, 28, numClasses] of a forward run with `record: true`, and its tape. */
export interface RecordedMaskHead {
  logits: Tensor;
  tape: MaskHeadTape;
}

/** Options of {@link maskHead}. */
export interface MaskHeadOptions {
  /** Only these rows are computed (the others hold stale values). */
  occupied?: OccupiedRows;
}

/**
 * The mask head on RoIs (torchvision's MultiScaleRoIAlign 14×14 → `MaskRCNNHeads` → `MaskRCNNPredictor`),
 * the one forward of inference and training: rois [R, 5] → logits [R, 28, 28, numClasses]. With
 * `occupied`, only the occupied rows are computed (the others hold stale values); with `record: true` it
 * also keeps the {@link MaskHeadTape} of {@link maskHeadBackward}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { maskHead } from "./mask_head.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40, 0, 0, 0, 64, 32]), [2, 5]); // (image, x1, y1, x2, y2)
 * const logits = maskHead(params, pyramid, rois, [[64, 64]]);
 * assert.deepStrictEqual(logits.shape, [2, 28, 28, 4]); // one 28×28 map per class
 * ```
 */
export function maskHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options: MaskHeadOptions & { record: true },
): RecordedMaskHead;
/** The mask head without a tape (inference). */
export function maskHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options?: MaskHeadOptions,
): Tensor;
export function maskHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options: MaskHeadOptions & { record?: boolean } = {},
): Tensor | RecordedMaskHead {
  const mask = params.mask;
  if (!mask) throw new ConfigError("maskHead", false, "true (maskHead: this model has no mask head)");
  const occupied = options.occupied;
  return tidy(() => {
    let x = roiPool(pyramid, rois, imageSizes, { outputSize: 14, occupied });
    const activations = [x];
    for (const layer of mask.convs) {
      x = conv2d(x, layer, { padding: 1, relu: true, occupied });
      activations.push(x);
    }
    const upsampled = convTranspose2d(x, mask.upsample, { relu: true, occupied });
    const logits = conv2d(upsampled, mask.logits, { occupied });
    if (!options.record) return logits;
    return { logits, tape: { pyramid, rois, imageSizes, occupied, activations, upsampled } };
  });
}

/**
 * Backward of {@link maskHead}: gradLogits [R, 28, 28, numClasses] (from {@link maskRcnnLoss}) → adds the
 * head's parameter gradients into `grads` and the pooled levels' input gradients into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { maskHead, maskHeadBackward } from "./mask_head.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import type { PyramidGrads } from "./pyramid_grads.ts";
 * import { layerGradients } from "./train_params.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const grads = layerGradients(model.config, params, opt.entries); // layer → its gradient tensors in `opt`
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40]), [1, 5]);
 * const head = maskHead(params, pyramid, rois, [[64, 64]], { record: true });
 * const pyramidGrads: PyramidGrads = pyramid.map(() => null);
 * maskHeadBackward(params, head.tape, fill(head.logits.shape, 1e-3), grads, pyramidGrads);
 * const bias = await grads.get(params.mask!.logits)!.bias!.read();
 * assert.ok(bias.every((b) => Math.abs(b - 28 * 28 * 1e-3) < 1e-4)); // Σ over the 28×28 map
 * assert.ok(pyramidGrads.slice(0, 4).some((g) => g !== null)); // the RoI's level got a gradient
 * ```
 */
export function maskHeadBackward(
  params: ModelParams,
  tape: MaskHeadTape,
  gradLogits: Tensor,
  grads: HeadGrads,
  pyramidGrads: PyramidGrads,
): void {
  const mask = params.mask!;
  const { occupied, activations, upsampled } = tape;
  const g = (p: object) => grads.get(p) ?? {};
  const gUp = conv2dBackward(upsampled, mask.logits, gradLogits, g(mask.logits), { occupied })
    .gradInput!;
  let gx = convTranspose2dBackward(activations[mask.convs.length], mask.upsample, gUp, g(mask.upsample), {
    relu: true,
    out: upsampled,
    occupied,
  }).gradInput!;
  for (let i = mask.convs.length - 1; i >= 0; i--) {
    gx = conv2dBackward(activations[i], mask.convs[i], gx, g(mask.convs[i]), {
      padding: 1,
      relu: true,
      out: activations[i + 1],
      occupied,
    })
      .gradInput!;
  }
  roiPoolBackward(gx, tape.rois, tape.pyramid, tape.imageSizes, { outputSize: 14, occupied }, pyramidGrads);
}

/** Options of {@link maskBranch}. */
export interface MaskBranchOptions {
  /** [B] u32 detections per image (the first of each image's K slots): only those slots are computed. */
  count?: Tensor;
  /** [B·K, 5] the boxes as RoIs, when already made (else made from `boxes`). */
  rois?: Tensor;
}

/**
 * boxes: [B·K, 4] (resized-image pixels), labels: [B·K] i32 → mask probabilities [B·K, 28, 28]. With
 * `options.count`, only the slots in use are computed; the others hold stale values.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { maskBranch } from "./mask_head.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const boxes = tensorFromArray(new Float32Array([8, 8, 40, 40]), [1, 4]);
 * const labels = tensorFromArray(new Int32Array([2]), [1]);
 * const probs = maskBranch(params, pyramid, boxes, labels, 1, [[64, 64]]);
 * assert.deepStrictEqual(probs.shape, [1, 28, 28]); // the labelled class's mask
 * assert.ok((await probs.read()).every((p) => p > 0 && p < 1)); // sigmoid probabilities
 * ```
 */
export function maskBranch(
  params: ModelParams,
  pyramid: readonly Tensor[],
  boxes: Tensor,
  labels: Tensor,
  perImage: number,
  imageSizes: readonly (readonly [number, number])[],
  options: MaskBranchOptions = {},
): Tensor {
  const mask = params.mask!;
  const channels = Math.max(mask.upsample.cout, mask.logits.cout, ...mask.convs.map((c) => c.cout));
  const batch = boxes.shape[0] / perImage;
  const count = options.count;
  return tidy(() => {
    const rois = options.rois ?? boxesToRois(boxes, perImage);
    const occupied = count ? { counts: count, segments: batch, stride: perImage } : undefined;
    const [probs] = mapRoiChunks([rois, labels], 28 * 28 * channels * 4, ([roiChunk, labelChunk], occ) => [
      selectClassMask(maskHead(params, pyramid, roiChunk, imageSizes, { occupied: occ }), labelChunk),
    ], occupied);
    return probs;
  });
}

/** The positive RoIs of a training batch and their mask targets (as `roiTargets` assigns them). */
export interface MaskTrainInputs {
  /** [Rm, 5] (image, x1, y1, x2, y2); image −1 in empty slots. */
  rois: Tensor;
  /** [Rm] i32 class of each positive RoI. */
  labels: Tensor;
  /** [Rm] u32 1 = a real positive. */
  positive: Tensor;
  /** [Rm, 28, 28] f32 soft targets. */
  targets: Tensor;
}

/** What {@link maskRcnnLoss} reads of a pass: rows' logits, labels and targets. */
export interface MaskLossPass {
  /** [r] i32 class of each row. */
  labels: Tensor;
  /** [r] u32 1 = a real positive. */
  positive: Tensor;
  /** [r, 28, 28] f32 soft targets. */
  targets: Tensor;
  /** The mask head's logits [r, 28, 28, numClasses]. */
  head: { logits: Tensor };
}

/** One recorded pass of the mask head over rows of the positives, with those rows' labels and targets. */
export interface MaskTrainPass extends MaskLossPass {
  head: RecordedMaskHead;
}

/**
 * The training forward of the mask branch (torchvision runs the mask head on the positive proposals only):
 * {@link maskHead} recorded over the positive RoIs, in passes of RoIs small enough for one storage binding.
 * With one pass, the positives of all images are first moved to the front (stable, so the real rows keep
 * their order; the rows after them are empty: positive 0, zero targets) and every op of the head runs only
 * on the real rows (bounded by their GPU-side count); the loss gives the empty rows exactly zero gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { maskHeadOnPositives } from "./mask_head.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * // Two slots: an empty one, then a positive of class 1 (roiTargets makes these).
 * const passes = maskHeadOnPositives(params, pyramid, [[64, 64]], {
 *   rois: tensorFromArray(new Float32Array([-1, 0, 0, 0, 0, 0, 8, 8, 40, 40]), [2, 5]),
 *   labels: tensorFromArray(new Int32Array([0, 1]), [2]),
 *   positive: tensorFromArray(new Uint32Array([0, 1]), [2]),
 *   targets: tensorFromArray(new Float32Array(2 * 28 * 28).fill(1), [2, 28, 28]),
 * });
 * assert.strictEqual(passes.length, 1); // two RoIs fit in one binding
 * assert.deepStrictEqual(await passes[0].positive.read(), new Uint32Array([1, 0])); // the positive first
 * assert.deepStrictEqual(passes[0].head.logits.shape, [2, 28, 28, 4]);
 * ```
 */
export function maskHeadOnPositives(
  params: ModelParams,
  pyramid: readonly Tensor[],
  imageSizes: readonly (readonly [number, number])[],
  inputs: MaskTrainInputs,
): MaskTrainPass[] {
  const mask = params.mask!;
  const channels = Math.max(mask.upsample.cout, mask.logits.cout, ...mask.convs.map((c) => c.cout));
  const bytesPerRoi = 28 * 28 * channels * 4;
  const slots = inputs.rois.shape[0];
  let rows = [inputs.rois, inputs.labels, inputs.positive, inputs.targets];
  let occupied: OccupiedRows | undefined;
  if (roiChunkRows(slots, bytesPerRoi, currentGpu().limits.maxStorageBufferBindingSize) >= slots) {
    const { index, total } = compactFlags(inputs.positive);
    rows = rows.map((t) => gatherRows(t, index));
    occupied = { counts: total };
  }
  const passes: MaskTrainPass[] = [];
  forEachRoiChunk(rows, bytesPerRoi, ([rois, labels, positive, targets]) => {
    const head = maskHead(params, pyramid, rois, imageSizes, { occupied, record: true });
    passes.push({ labels, positive, targets, head });
  });
  return passes;
}

/** The mask loss ([1] f32) and, per pass, its gradient w.r.t. the pass's logits. */
export interface MaskLosses {
  mask: Tensor;
  /** Per {@link MaskTrainPass} [r, 28, 28, numClasses]. */
  gradLogits: Tensor[];
}

/**
 * torchvision's `maskrcnn_loss`: binary cross-entropy of the true class's mask logits against the targets,
 * summed over the positives × 28 × 28 and divided by `positiveCount` × 28 × 28 (the positives of the batch;
 * data-parallel ranks pass the sum over all ranks). The passes' losses add up to the whole batch's.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { maskRcnnLoss } from "./mask_head.ts";
 * await getGpu();
 * // One positive of class 1 whose logits are all 0: BCE ln 2 per pixel, whatever the targets.
 * const pass = {
 *   labels: tensorFromArray(new Int32Array([1]), [1]),
 *   positive: tensorFromArray(new Uint32Array([1]), [1]),
 *   targets: fill([1, 28, 28], 1),
 *   head: { logits: fill([1, 28, 28, 4], 0) },
 * };
 * const losses = maskRcnnLoss([pass], 1);
 * const [bce] = await losses.mask.read();
 * assert.ok(Math.abs(bce - Math.log(2)) < 1e-6);
 * assert.deepStrictEqual(losses.gradLogits[0].shape, [1, 28, 28, 4]);
 * ```
 */
export function maskRcnnLoss(passes: readonly MaskLossPass[], positiveCount: Normaliser): MaskLosses {
  let total: Tensor | null = null;
  const gradLogits: Tensor[] = [];
  for (const pass of passes) {
    const loss = maskBceLoss(pass.head.logits, pass.labels, pass.targets, pass.positive, positiveCount);
    total = total ? addInto(total, loss.loss) : loss.loss;
    gradLogits.push(loss.grad);
  }
  return { mask: total!, gradLogits };
}
