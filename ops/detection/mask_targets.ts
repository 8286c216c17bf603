/**
 * Mask R-CNN's mask targets, torchvision's `project_masks_on_boxes`: for each positive RoI, RoIAlign of
 * its matched GT mask (as float) over the RoI to M × M (28) with spatial scale 1, adaptive sampling
 * (`sampling_ratio = -1`) and `aligned = False` — soft targets, not thresholded.
 *
 * Decision: not `roiAlign` on an `[G, H, W, 1]` f32 map but a dedicated kernel with the same arithmetic
 * that reads the masks as bytes with a per-GT size (`ops/detection/gt_batch.ts`): masks of different images have
 * different sizes (the border clamping depends on them, so padding to a common size would change the
 * targets at the edges), and f32 copies of 90 full-size masks would not fit one storage binding.
 * @module
 */
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { MASK_TARGETS_WGSL } from "../../shaders/detection/mask_targets.wgsl.ts";
import { ShapeError } from "../errors.ts";
import { bindable, checkGtBatch, type GtBatch } from "./gt_batch.ts";
import { dispatch, params } from "../kernel.ts";
import { checkRois } from "../roi_align.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";
import { assertDType } from "../validate.ts";

/**
 * rois: [R, 5] f32 (image, x1, y1, x2, y2 in resized-image pixels; image −1 = empty slot),
 * matched: [R] i32 (GT index within the RoI's image), gt: {@link GtBatch} with masks → [R, M, M] f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { maskTargets } from "./mask_targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{
 *   boxes: new Float32Array([0, 0, 4, 4]), labels: new Int32Array([1]),
 *   masks: new Uint8Array(16).fill(1), maskSize: [4, 4],
 * }]);
 * const rois = tensorFromArray(new Float32Array([0, 0, 0, 4, 4]), [1, 5]);
 * const t = maskTargets(gt, rois, tensorFromArray(new Int32Array([0]), [1]), 2);
 * console.log(await t.read()); // [1, 1, 1, 1]
 * ```
 */
export function maskTargets(
  gt: GtBatch,
  rois: Tensor,
  matched: Tensor,
  size = 28,
  samplingRatio = -1,
): Tensor {
  const op = "maskTargets";
  const images = checkGtBatch(op, gt);
  if (!gt.masks) throw new ShapeError(op, "gt has no masks (upload them with uploadGtBatch)");
  checkRois(op, rois);
  assertDType(op, "matched", matched.check(op, "matched"), ["i32"]);
  if (matched.size !== rois.shape[0]) {
    throw new ShapeError(
      op,
      `matched ${matched.describe()} must hold one index per RoI of ${rois.describe()}`,
    );
  }
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(samplingRatio)) {
    throw new ShapeError(
      op,
      `size ${size} must be a positive integer, samplingRatio ${samplingRatio} an integer`,
    );
  }
  const out = emptyTensor([rois.shape[0], size, size], "f32");
  if (out.size === 0) return out;
  dispatch({ key: "mask_targets/project", source: MASK_TARGETS_WGSL }, {
    op,
    tensors: [
      ["rois", rois],
      ["matched", matched],
      ["gt.table", gt.table],
      ["gt.masks.table", bindable(gt.masks.table)],
      ["gt.masks.words", gt.masks.words],
      ["out", out],
    ],
    params: params(["u32", out.size], ["u32", size], ["u32", images], ["i32", samplingRatio]),
    workgroups: Math.ceil(out.size / WORKGROUP_1D),
  });
  return out;
}
