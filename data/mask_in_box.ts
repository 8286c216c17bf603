/**
 * Mask targets from polygons inside a RoI, as Detectron's `polys_to_mask_wrt_box` and PaddlePaddle's
 * `generate_mask_labels`: shift the polygons by the box corner, scale by M/w and M/h (float32 arithmetic,
 * w and h at least 1), rasterise each with the COCO polygon rasteriser at M×M, and take the union.
 * @module
 */

import { polygonsToRle } from "./polygon.ts";
import { rleDecode, rleMerge } from "./rle.ts";

const f32 = Math.fround;

/**
 * Rasterises `polygons` (flat `[x0, y0, x1, y1, …]` lists in image pixels) relative to `box`
 * (`[x1, y1, x2, y2]`) into an `M × M` row-major 0/1 mask.
 * @example
 * ```ts
 * // A triangle covering the lower-left half of the box [10, 10, 30, 30], as a 28×28 mask target.
 * const mask = polygonsToMaskInBox([[10, 10, 10, 30, 30, 30]], [10, 10, 30, 30], 28);
 * mask.length; // 784
 * ```
 */
export function polygonsToMaskInBox(
  polygons: readonly number[][],
  box: ArrayLike<number>,
  M: number,
): Uint8Array {
  if (!Number.isInteger(M) || M < 1) {
    throw new RangeError(`mask_in_box.ts: M must be a positive integer, got ${M}`);
  }
  if (polygons.length === 0) return new Uint8Array(M * M);
  const bx = f32(box[0]), by = f32(box[1]);
  const w = Math.max(f32(f32(box[2]) - bx), 1);
  const h = Math.max(f32(f32(box[3]) - by), 1);
  const scaled = polygons.map((poly) => {
    const p = new Array<number>(poly.length);
    for (let i = 0; i < poly.length; i += 2) {
      p[i] = f32(f32(f32(f32(poly[i]) - bx) * M) / w);
      p[i + 1] = f32(f32(f32(f32(poly[i + 1]) - by) * M) / h);
    }
    return p;
  });
  const rles = polygonsToRle(scaled, M, M);
  return rleDecode(rles.length === 1 ? rles[0] : rleMerge(rles, false));
}

/**
 * Rasterises the polygons of one object at full image size (union of the parts), row-major `height × width`.
 * @example
 * ```ts
 * const mask = polygonsToMask([[1, 1, 3, 1, 3, 3, 1, 3]], 4, 4); // 2×2 square of ones
 * ```
 */
export function polygonsToMask(polygons: readonly number[][], height: number, width: number): Uint8Array {
  if (polygons.length === 0) return new Uint8Array(height * width);
  const rles = polygonsToRle(polygons, height, width);
  return rleDecode(rles.length === 1 ? rles[0] : rleMerge(rles, false));
}
