/**
 * torchvision's `transform.resize_boxes` for a batch: boxes back to each image's input size.
 * @module
 */
import { SCALE_BOXES_WGSL } from "../../shaders/detection/scale_boxes.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { LimitError, ShapeError } from "../errors.ts";
import { dispatch } from "../kernel.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/**
 * Most images one {@link scaleBoxes} call takes (their ratios live in one 256-byte uniform block).
 *
 * @example
 * ```ts
 * import { SCALE_MAX_IMAGES } from "./scale_boxes.ts";
 * console.log(SCALE_MAX_IMAGES); // 14
 * ```
 */
export const SCALE_MAX_IMAGES = 14;

/**
 * boxes: [B·K, 4] f32 (K per image) → the boxes times per-image ratios `[ratioH, ratioW]`
 * (torchvision's `resize_boxes`: ratio = original size / resized size, in f32).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { scaleBoxes } from "./scale_boxes.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([10, 10, 20, 20]), [1, 4]);
 * const scaled = await scaleBoxes(boxes, [[0.5, 2]]).read(); // [ratioH, ratioW]: x × 2, y × 0.5
 * assert.deepStrictEqual(scaled, new Float32Array([20, 5, 40, 10]));
 * ```
 */
export function scaleBoxes(boxes: Tensor, ratios: readonly (readonly [number, number])[]): Tensor {
  const op = "scaleBoxes";
  boxes.check(op, "boxes");
  if (ratios.length < 1 || ratios.length > SCALE_MAX_IMAGES) {
    throw new LimitError(op, `${ratios.length} images; 1 to ${SCALE_MAX_IMAGES} per call`);
  }
  const rows = boxes.size / 4;
  if (boxes.shape[boxes.rank - 1] !== 4 || rows % ratios.length !== 0) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [B·K, 4] for ${ratios.length} images`);
  }
  const out = emptyTensor(boxes.shape, "f32");
  if (rows === 0) return out;
  const block = new Uint32Array(4 + 4 * SCALE_MAX_IMAGES);
  block.set([rows, rows / ratios.length, ratios.length, 0]);
  const asF32 = new Float32Array(block.buffer);
  ratios.forEach(([rh, rw], k) => asF32.set([rh, rw, 0, 0], 4 + 4 * k));
  dispatch({ key: "detection/scale_boxes", source: SCALE_BOXES_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["out", out]],
    params: block,
    workgroups: groups(rows),
  });
  return out;
}
