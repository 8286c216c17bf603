/**
 * The RoI pooler of the box and mask heads, torchvision's `MultiScaleRoIAlign` over P2..P5 (its featmap
 * names '0'..'3'; P6 only feeds the RPN) with sampling ratio 2: {@link roiPool} and its backward
 * {@link roiPoolBackward}, which adds into the pyramid's gradient.
 * @module
 */
import type { OccupiedRows } from "../ops/kernel.ts";
import { multiScaleRoiAlign } from "../ops/multiscale_roi_align.ts";
import { multiScaleRoiAlignBackward } from "../ops/roi_align_backward.ts";
import type { Tensor } from "../ops/tensor.ts";
import { addPyramidGrad, type PyramidGrads } from "./pyramid_grads.ts";

/** Options of {@link roiPool} and {@link roiPoolBackward}. */
export interface RoiPoolOptions {
  /** Side S of the pooled map: 7 for the box head, 14 for the mask head. */
  outputSize: number;
  /** Only these rows are computed (the others hold stale values). */
  occupied?: OccupiedRows;
}

const LEVELS = ["p2", "p3", "p4", "p5"] as const;

/** The FPN levels the RoI heads pool from, as named for MultiScaleRoIAlign. */
function poolerFeatures(pyramid: readonly Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(LEVELS.map((name, l) => [name, pyramid[l]]));
}

/**
 * pyramid [P2..P6] each [B, Hl, Wl, C], rois [R, 5] (image, x1, y1, x2, y2) → pooled [R, S, S, C], each RoI
 * from the level its size picks (torchvision's `LevelMapper`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { roiPool } from "./roi_pooler.ts";
 * await getGpu();
 * const pyramid = [16, 8, 4, 2, 1].map((s) => fill([1, s, s, 2], 1)); // P2..P6 of a 64×64 image
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40]), [1, 5]);
 * const pooled = roiPool(pyramid, rois, [[64, 64]], { outputSize: 7 });
 * assert.deepStrictEqual(pooled.shape, [1, 7, 7, 2]);
 * assert.ok((await pooled.read()).every((v) => Math.abs(v - 1) < 1e-6)); // the average of ones
 * ```
 */
export function roiPool(
  pyramid: readonly Tensor[],
  rois: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  options: RoiPoolOptions,
): Tensor {
  return multiScaleRoiAlign(poolerFeatures(pyramid), rois, imageSizes, {
    outputSize: options.outputSize,
    samplingRatio: 2,
    occupied: options.occupied,
  });
}

/**
 * Backward of {@link roiPool}: gradPooled [R, S, S, C] → adds each pooled level's input gradient into
 * `pyramidGrads` (P2..P5).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import type { PyramidGrads } from "./pyramid_grads.ts";
 * import { roiPool, roiPoolBackward } from "./roi_pooler.ts";
 * await getGpu();
 * const pyramid = [16, 8, 4, 2, 1].map((s) => fill([1, s, s, 2], 1)); // P2..P6 of a 64×64 image
 * const rois = tensorFromArray(new Float32Array([0, 8, 8, 40, 40]), [1, 5]);
 * const pooled = roiPool(pyramid, rois, [[64, 64]], { outputSize: 7 });
 * const pyramidGrads: PyramidGrads = pyramid.map(() => null);
 * roiPoolBackward(fill(pooled.shape, 1), rois, pyramid, [[64, 64]], { outputSize: 7 }, pyramidGrads);
 * let total = 0;
 * for (const g of pyramidGrads.slice(0, 4)) for (const v of await g!.read()) total += v;
 * assert.ok(Math.abs(total - 7 * 7 * 2) < 1e-3); // each pooled value spreads a total weight of 1
 * assert.strictEqual(pyramidGrads[4], null); // P6 is not pooled
 * ```
 */
export function roiPoolBackward(
  gradPooled: Tensor,
  rois: Tensor,
  pyramid: readonly Tensor[],
  imageSizes: readonly (readonly [number, number])[],
  options: RoiPoolOptions,
  pyramidGrads: PyramidGrads,
): void {
  const shapes = Object.fromEntries(LEVELS.map((name, l) => [name, pyramid[l].shape]));
  const levelGrads = multiScaleRoiAlignBackward(gradPooled, rois, shapes, imageSizes, {
    outputSize: options.outputSize,
    samplingRatio: 2,
    occupied: options.occupied,
  });
  LEVELS.forEach((name, l) => addPyramidGrad(pyramidGrads, l, levelGrads[name]));
}
