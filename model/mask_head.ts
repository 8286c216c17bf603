/**
 * The mask branch of torchvision's `RoIHeads` in eval mode: MultiScaleRoIAlign 14×14 (sampling 2) of the
 * detected boxes, `MaskRCNNHeads` (3×3 convs + ReLU), `MaskRCNNPredictor` (2×2 stride-2 transposed conv +
 * ReLU, 1×1 logits), then `maskrcnn_inference`: the sigmoid of the predicted class's channel.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { convTranspose2d } from "../ops/conv_transpose2d.ts";
import { boxesToRois, selectClassMask } from "../ops/detection.ts";
import { multiScaleRoiAlign } from "../ops/multiscale_roi_align.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { mapRoiChunks } from "./roi_chunks.ts";
import type { ModelParams } from "./params.ts";
import { poolerFeatures } from "./roi_heads.ts";
import { ConfigError } from "./config.ts";

/**
 * Mask logits of RoIs (shared by inference and training): rois [R, 5] → [R, 28, 28, numClasses].
 *
 * @example
 * ```ts
 * import { maskLogits } from "./mask_head.ts";
 * console.log(typeof maskLogits);
 * ```
 */
export function maskLogits(
  params: ModelParams,
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
): Tensor {
  const mask = params.mask;
  if (!mask) throw new ConfigError("maskHead", false, "true (maskLogits: this model has no mask head)");
  return tidy(() => {
    let x = multiScaleRoiAlign(poolerFeatures(pyramid), rois, imageSizes, {
      outputSize: 14,
      samplingRatio: 2,
    });
    for (const layer of mask.convs) x = conv2d(x, layer, { padding: 1, relu: true });
    return conv2d(convTranspose2d(x, mask.upsample, { relu: true }), mask.logits);
  });
}

/**
 * boxes: [B·K, 4] (resized-image pixels), labels: [B·K] i32 → mask probabilities [B·K, 28, 28].
 *
 * @example
 * ```ts
 * import { maskBranch } from "./mask_head.ts";
 * console.log(typeof maskBranch);
 * ```
 */
export function maskBranch(
  params: ModelParams,
  pyramid: readonly Tensor[],
  boxes: Tensor,
  labels: Tensor,
  perImage: number,
  imageSizes: readonly (readonly [number, number])[],
): Tensor {
  const mask = params.mask!;
  const channels = Math.max(mask.upsample.cout, mask.logits.cout, ...mask.convs.map((c) => c.cout));
  return tidy(() => {
    const rois = boxesToRois(boxes, perImage);
    const [probs] = mapRoiChunks([rois, labels], 28 * 28 * channels * 4, ([roiChunk, labelChunk]) => [
      selectClassMask(maskLogits(params, pyramid, roiChunk, imageSizes), labelChunk),
    ]);
    return probs;
  });
}
