/**
 * The box branch of torchvision's `RoIHeads` in eval mode: MultiScaleRoIAlign 7×7 (sampling 2) of the
 * proposals, TwoMLPHead (fc6, fc7 with ReLU), FastRCNNPredictor, then `postprocess_detections`: softmax,
 * per-class decode with weights (10, 10, 5, 5), clip, drop background, `score > boxScoreThresh`, drop boxes
 * smaller than 1e-2, NMS per class at `boxNmsThresh`, keep the best `boxDetectionsPerImg` per image.
 * @module
 */
import { softmax } from "../ops/activation.ts";
import { decodeBoxes } from "../ops/box_coder.ts";
import { boxCandidates } from "../ops/detection/candidates.ts";
import { gatherSlots } from "../ops/detection/rois.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { linear } from "../ops/linear.ts";
import { multiScaleRoiAlign } from "../ops/multiscale_roi_align.ts";
import { batchedNms } from "../ops/nms.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { BBOX_XFORM_CLIP, type MaskRcnnConfig, ROI_BOX_WEIGHTS } from "./config.ts";
import type { ModelParams } from "./params.ts";
import type { Proposals } from "./rpn.ts";
import { mapRoiChunks } from "./roi_chunks.ts";

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

/** The FPN levels the RoI heads pool from, as named for MultiScaleRoIAlign. */
export function poolerFeatures(pyramid: readonly Tensor[]): Record<string, Tensor> {
  return { p2: pyramid[0], p3: pyramid[1], p4: pyramid[2], p5: pyramid[3] };
}

/**
 * Box-head logits and deltas of RoIs (shared by inference and training).
 * rois: [R, 5] → { classLogits [R, C], boxDeltas [R, 4C] }; with `occupied`, only the occupied rows are
 * computed (the others hold stale values).
 */
export function boxHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  occupied?: OccupiedRows,
): { classLogits: Tensor; boxDeltas: Tensor } {
  const channels = pyramid[0].shape[3];
  return tidy(() => {
    const [classLogits, boxDeltas] = mapRoiChunks([rois], 7 * 7 * channels * 4, ([chunk], occ) => {
      const features = poolerFeatures(pyramid);
      const pooled = multiScaleRoiAlign(features, chunk, imageSizes, {
        outputSize: 7,
        samplingRatio: 2,
        occupied: occ,
      });
      const flat = pooled.reshape([pooled.shape[0], pooled.size / pooled.shape[0]]);
      const h6 = linear(flat, params.fc6, { relu: true, occupied: occ });
      const h7 = linear(h6, params.fc7, { relu: true, occupied: occ });
      // the predictors are too small to gain from a bound (it costs two extra dispatches)
      return [linear(h7, params.clsScore), linear(h7, params.bboxPred)];
    }, occupied);
    return { classLogits, boxDeltas };
  });
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
      counts: proposals.count,
      segments: batch,
      stride: proposals.perImage,
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
