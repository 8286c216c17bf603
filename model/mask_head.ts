/**
 * The mask branch of torchvision's `RoIHeads` in eval mode: MultiScaleRoIAlign 14×14 (sampling 2) of the
 * detected boxes, `MaskRCNNHeads` (3×3 convs + ReLU), `MaskRCNNPredictor` (2×2 stride-2 transposed conv +
 * ReLU, 1×1 logits), then `maskrcnn_inference`: the sigmoid of the predicted class's channel.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { convTranspose2d } from "../ops/conv_transpose2d.ts";
import { selectClassMask } from "../ops/detection/class_mask.ts";
import { boxesToRois } from "../ops/detection/rois.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { multiScaleRoiAlign } from "../ops/multiscale_roi_align.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { mapRoiChunks } from "./roi_chunks.ts";
import type { ModelParams } from "./params.ts";
import { poolerFeatures } from "./roi_heads.ts";
import { ConfigError } from "./config.ts";

/**
 * Mask logits of RoIs (shared by inference and training): rois [R, 5] → [R, 28, 28, numClasses]; with
 * `occupied`, only the occupied rows are computed (the others hold stale values).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { maskLogits } from "./mask_head.ts";
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
 * const logits = maskLogits(params, pyramid, rois, [[64, 64]]);
 * assert.deepStrictEqual(logits.shape, [2, 28, 28, 4]); // one 28×28 map per class
 * ```
 */
export function maskLogits(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  occupied?: OccupiedRows,
): Tensor {
  const mask = params.mask;
  if (!mask) throw new ConfigError("maskHead", false, "true (maskLogits: this model has no mask head)");
  return tidy(() => {
    let x = multiScaleRoiAlign(poolerFeatures(pyramid), rois, imageSizes, {
      outputSize: 14,
      samplingRatio: 2,
      occupied,
    });
    for (const layer of mask.convs) x = conv2d(x, layer, { padding: 1, relu: true, occupied });
    return conv2d(convTranspose2d(x, mask.upsample, { relu: true, occupied }), mask.logits, { occupied });
  });
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
      selectClassMask(maskLogits(params, pyramid, roiChunk, imageSizes, occ), labelChunk),
    ], occupied);
    return probs;
  });
}
