/**
 * The box branch of torchvision's `RoIHeads`: the box head (MultiScaleRoIAlign 7×7, sampling 2, of the
 * RoIs, TwoMLPHead fc6 and fc7 with ReLU, FastRCNNPredictor) as one forward, {@link boxHead}, with its
 * backward beside it (llm.c's pairing: the forward keeps what the backward needs when asked to record).
 * Inference: {@link boxBranch} runs it on the proposals and applies `postprocess_detections`: softmax,
 * per-class decode with weights (10, 10, 5, 5), clip, drop background, `score > boxScoreThresh`, drop boxes
 * smaller than 1e-2, NMS per class at `boxNmsThresh`, keep the best `boxDetectionsPerImg` per image.
 * Training: {@link boxHead} recorded on the sampled RoIs, {@link fastRcnnLoss}, {@link boxHeadBackward}.
 * @module
 */
import { softmax } from "../ops/activation.ts";
import { decodeBoxes } from "../ops/box_coder.ts";
import { boxCandidates } from "../ops/detection/candidates.ts";
import { gatherSlots } from "../ops/detection/rois.ts";
import { addInto } from "../ops/elementwise.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { linear, linearBackward } from "../ops/linear.ts";
import { type Normaliser, smoothL1ClassSelected, softmaxCrossEntropy } from "../ops/losses.ts";
import { batchedNms } from "../ops/nms.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { BBOX_XFORM_CLIP, type MaskRcnnConfig, ROI_BOX_WEIGHTS } from "./config.ts";
import type { ModelParams } from "./params.ts";
import type { HeadGrads, PyramidGrads } from "./pyramid_grads.ts";
import type { Proposals } from "./rpn.ts";
import { mapRoiChunks } from "./roi_chunks.ts";
import { roiPool, roiPoolBackward } from "./roi_pooler.ts";

/** Detections of a batch: `perImage` slots per image, sorted by score, `count` of them real. */
export interface Detections {
  /** [B·perImage, 4] f32 in resized-image pixels. */
  boxes: Tensor;
  /** [B·perImage, 5] f32 (image, x1, y1, x2, y2): `boxes` as RoIs (image index in every slot). */
  rois: Tensor;
  /** [B·perImage] f32. */
  scores: Tensor;
  /** [B·perImage] i32 (0 in padding slots). */
  labels: Tensor;
  /** [B] u32 real detections per image. */
  count: Tensor;
  /** Slots per image (boxDetectionsPerImg). */
  perImage: number;
}

/** The box head's outputs: torchvision's `FastRCNNPredictor` scores and deltas. */
export interface BoxHeadOutput {
  /** [R, numClasses] class logits. */
  classLogits: Tensor;
  /** [R, 4·numClasses] per-class box deltas (weights 10, 10, 5, 5). */
  boxDeltas: Tensor;
}

/** What {@link boxHeadBackward} needs from the forward. */
export interface BoxHeadTape {
  /** The head's inputs: the pyramid [P2..P6], the RoIs [R, 5] and the image sizes. */
  pyramid: readonly Tensor[];
  rois: Tensor;
  imageSizes: readonly (readonly [number, number])[];
  /** [R, 7, 7, C] pooled features. */
  pooled: Tensor;
  /** [R, 7·7·C] the pooled features as fc6's input. */
  flat: Tensor;
  /** [R, representation] fc6 and fc7 outputs (after ReLU). */
  h6: Tensor;
  h7: Tensor;
}

/** {@link BoxHeadOutput} of a forward run with `record: true`. */
export interface RecordedBoxHead extends BoxHeadOutput {
  tape: BoxHeadTape;
}

/**
 * The box head on RoIs (torchvision's MultiScaleRoIAlign 7×7 → `TwoMLPHead` → `FastRCNNPredictor`), the one
 * forward of inference and training: rois [R, 5] (image, x1, y1, x2, y2) → {@link BoxHeadOutput}.
 * - `{ occupied }` (inference): only the occupied rows are computed (the others hold stale values), in
 *   chunks of RoIs when one would exceed a storage binding;
 * - `{ record: true }` (training): every row, in one pass, keeping the {@link BoxHeadTape} of
 *   {@link boxHeadBackward}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { boxHead } from "./roi_heads.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40, 0, 0, 30, 20, 60]), [2, 5]);
 * const head = boxHead(params, pyramid, rois, [[64, 64]], { record: true });
 * assert.deepStrictEqual(head.classLogits.shape, [2, 4]); // 4 classes with the background
 * assert.deepStrictEqual(head.boxDeltas.shape, [2, 16]);
 * assert.deepStrictEqual(head.tape.pooled.shape.slice(0, 3), [2, 7, 7]);
 * ```
 */
export function boxHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options: { record: true },
): RecordedBoxHead;
/** The box head without a tape (inference), optionally only on the occupied rows. */
export function boxHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options?: { occupied?: OccupiedRows },
): BoxHeadOutput;
export function boxHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options: { occupied?: OccupiedRows; record?: boolean } = {},
): BoxHeadOutput | RecordedBoxHead {
  const channels = pyramid[0].shape[3];
  const forward = (chunk: Tensor, occupied?: OccupiedRows) => {
    const pooled = roiPool(pyramid, chunk, imageSizes, { outputSize: 7, occupied });
    const flat = pooled.reshape([pooled.shape[0], pooled.size / pooled.shape[0]]);
    const h6 = linear(flat, params.fc6, { relu: true, occupied });
    const h7 = linear(h6, params.fc7, { relu: true, occupied });
    // the predictors are too small to gain from a bound (it costs two extra dispatches)
    return {
      classLogits: linear(h7, params.clsScore),
      boxDeltas: linear(h7, params.bboxPred),
      pooled,
      flat,
      h6,
      h7,
    };
  };
  return tidy(() => {
    if (options.record) {
      // the backward needs every row's activations at once: one pass (as torchvision's training)
      const { classLogits, boxDeltas, pooled, flat, h6, h7 } = forward(rois);
      return { classLogits, boxDeltas, tape: { pyramid, rois, imageSizes, pooled, flat, h6, h7 } };
    }
    const [classLogits, boxDeltas] = mapRoiChunks([rois], 7 * 7 * channels * 4, ([chunk], occupied) => {
      const out = forward(chunk, occupied);
      return [out.classLogits, out.boxDeltas];
    }, options.occupied);
    return { classLogits, boxDeltas };
  });
}

/**
 * Backward of {@link boxHead}: gradLogits [R, numClasses], gradDeltas [R, 4·numClasses] (from
 * {@link fastRcnnLoss}) → adds the head's parameter gradients into `grads` and the pooled levels' input
 * gradients into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { boxHead, boxHeadBackward } from "./roi_heads.ts";
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
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40, 0, 0, 30, 20, 60]), [2, 5]);
 * const head = boxHead(params, pyramid, rois, [[64, 64]], { record: true });
 * const pyramidGrads: PyramidGrads = pyramid.map(() => null);
 * const [gradLogits, gradDeltas] = [fill(head.classLogits.shape, 0.5), fill(head.boxDeltas.shape, 0)];
 * boxHeadBackward(params, head.tape, gradLogits, gradDeltas, grads, pyramidGrads);
 * const bias = await grads.get(params.clsScore)!.bias!.read();
 * assert.deepStrictEqual([...bias], [1, 1, 1, 1]); // Σ over the 2 RoIs of 0.5
 * assert.ok(pyramidGrads.slice(0, 4).some((g) => g !== null)); // the RoIs' levels got a gradient
 * ```
 */
export function boxHeadBackward(
  params: ModelParams,
  tape: BoxHeadTape,
  gradLogits: Tensor,
  gradDeltas: Tensor,
  grads: HeadGrads,
  pyramidGrads: PyramidGrads,
): void {
  const { flat, h6, h7 } = tape;
  const g = (p: object) => grads.get(p) ?? {};
  const g7 = addInto(
    linearBackward(h7, params.clsScore, gradLogits, g(params.clsScore)).gradInput!,
    linearBackward(h7, params.bboxPred, gradDeltas, g(params.bboxPred)).gradInput!,
  );
  const g6 = linearBackward(h6, params.fc7, g7, g(params.fc7), { relu: true, out: h7 }).gradInput!;
  const gFlat = linearBackward(flat, params.fc6, g6, g(params.fc6), { relu: true, out: h6 }).gradInput!;
  const gPooled = gFlat.reshape(tape.pooled.shape);
  roiPoolBackward(gPooled, tape.rois, tape.pyramid, tape.imageSizes, { outputSize: 7 }, pyramidGrads);
}

/** The sampled RoIs' targets that {@link fastRcnnLoss} needs (as `roiTargets` assigns them). */
export interface BoxLossTargets {
  /** [R] i32 class (0 background, −1 empty). */
  labels: Tensor;
  /** [R] u32 1 = sampled. */
  valid: Tensor;
  /** [R] u32 1 = sampled foreground. */
  positive: Tensor;
  /** [R, 4] encoded with (10, 10, 5, 5). */
  regressionTargets: Tensor;
}

/** The two box-head losses ([1] f32 each) and their gradients w.r.t. the head's outputs. */
export interface BoxLosses {
  classifier: Tensor;
  boxReg: Tensor;
  /** [R, numClasses] d classifier / d classLogits. */
  gradLogits: Tensor;
  /** [R, 4·numClasses] d boxReg / d boxDeltas. */
  gradDeltas: Tensor;
}

/**
 * torchvision's `fastrcnn_loss`: cross-entropy over the sampled RoIs and smooth L1 (beta 1/9) of the true
 * class's deltas of the positives, both divided by `sampledCount` (the sampled RoIs of the batch;
 * data-parallel ranks pass the sum over all ranks).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { fastRcnnLoss } from "./roi_heads.ts";
 * await getGpu();
 * // Two sampled RoIs with all-zero logits over 4 classes: a foreground of class 2 and a background.
 * const head = { classLogits: fill([2, 4], 0), boxDeltas: fill([2, 16], 0) };
 * const losses = fastRcnnLoss(head, {
 *   labels: tensorFromArray(new Int32Array([2, 0]), [2]),
 *   valid: tensorFromArray(new Uint32Array([1, 1]), [2]),
 *   positive: tensorFromArray(new Uint32Array([1, 0]), [2]),
 *   regressionTargets: tensorFromArray(new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]), [2, 4]),
 * }, 2);
 * const [ce] = await losses.classifier.read();
 * assert.ok(Math.abs(ce - Math.log(4)) < 1e-6); // uniform over 4 classes
 * const [box] = await losses.boxReg.read();
 * assert.ok(Math.abs(box - (1 - 0.5 / 9) / 2) < 1e-6); // |d| = 1 ≥ beta: |d| − beta/2, over 2 sampled
 * ```
 */
export function fastRcnnLoss(
  head: BoxHeadOutput,
  targets: BoxLossTargets,
  sampledCount: Normaliser,
): BoxLosses {
  const ce = softmaxCrossEntropy(head.classLogits, targets.labels, targets.valid, sampledCount);
  const box = smoothL1ClassSelected(
    head.boxDeltas,
    targets.labels,
    targets.regressionTargets,
    targets.positive,
    1 / 9,
    sampledCount,
  );
  return { classifier: ce.loss, boxReg: box.loss, gradLogits: ce.grad, gradDeltas: box.grad };
}

/**
 * proposals → {@link Detections}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { boxBranch } from "./roi_heads.ts";
 * import { rpnForward } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const mode = { preNmsTopN: 50, postNmsTopN: 10 };
 * const proposals = rpnForward(params, model.config, pyramid, [[64, 64]], [64, 64], model.anchorCache, mode);
 * const detections = boxBranch(params, model.config, pyramid, proposals, [[64, 64]]);
 * assert.ok(detections.perImage <= model.config.boxDetectionsPerImg); // ≤ proposals × foreground classes
 * assert.deepStrictEqual(detections.boxes.shape, [detections.perImage, 4]);
 * const [count] = await detections.count.read();
 * const labels = await detections.labels.read();
 * assert.ok(labels.subarray(0, count).every((l) => l >= 1 && l < 4)); // foreground classes only
 * ```
 */
export function boxBranch(
  params: ModelParams,
  config: MaskRcnnConfig,
  pyramid: readonly Tensor[],
  proposals: Proposals,
  imageSizes: readonly (readonly [number, number])[],
): Detections {
  const batch = imageSizes.length;
  return tidy(() => {
    const rois = proposals.rois;
    // Only the proposal slots in use are pooled and classified: the rest are invalid, so the stale values
    // they hold never pass boxCandidates' validity test.
    const { classLogits, boxDeltas } = boxHead(params, pyramid, rois, imageSizes, {
      occupied: { counts: proposals.count, segments: batch, stride: proposals.perImage },
    });
    const classes = classLogits.shape[1];
    const probs = softmax(classLogits);
    const boxes = decodeBoxes(boxDeltas, proposals.boxes, ROI_BOX_WEIGHTS, BBOX_XFORM_CLIP, imageSizes);
    const candidates = boxCandidates(probs, boxes, proposals.valid, {
      scoreThresh: config.boxScoreThresh,
      minSize: 1e-2,
    });
    const kept = batchedNms(
      candidates.boxes,
      candidates.scores,
      candidates.labels,
      config.boxNmsThresh,
      classes,
      {
        valid: candidates.valid,
        maxOut: config.boxDetectionsPerImg,
        imageLengths: Array(batch).fill(proposals.perImage * (classes - 1)),
        maxPerSegment: proposals.perImage,
      },
    );
    const perImage = kept.keep.shape[kept.keep.rank - 1];
    const slots = gatherSlots(candidates.boxes, kept.keep.reshape([kept.keep.size]), perImage, {
      labels: candidates.labels,
    });
    return {
      boxes: slots.boxes,
      rois: slots.rois,
      scores: kept.scores.reshape([kept.scores.size]),
      labels: slots.labels!,
      count: kept.count.reshape([batch]),
      perImage,
    };
  });
}
