/**
 * matterport Mask R-CNN's mini-masks (`utils.minimize_mask` / `expand_mask`): each instance mask is cropped to
 * its box and resized to a small fixed shape (e.g. 56×56) to save memory, and expanded back into the image.
 * Boxes are snapped outward to whole pixels (floor x1/y1, ceil x2/y2, clipped to the image); the resize is
 * bilinear (align_corners=False) and values above 0.5 become 1 (numpy's `around`, halves to even, gives 0
 * for exactly 0.5).
 * @module
 */

import { resizeBilinear } from "./transforms_resize.ts";

function pixelBox(boxes: ArrayLike<number>, k: number, width: number, height: number): number[] {
  const x1 = Math.max(0, Math.floor(boxes[4 * k])), y1 = Math.max(0, Math.floor(boxes[4 * k + 1]));
  const x2 = Math.min(width, Math.ceil(boxes[4 * k + 2])), y2 = Math.min(height, Math.ceil(boxes[4 * k + 3]));
  if (x2 <= x1 || y2 <= y1) {
    throw new RangeError(
      `transforms_minimask.ts: box ${k} [${Array.from(boxes).slice(4 * k, 4 * k + 4)}] is empty`,
    );
  }
  return [x1, y1, x2, y2];
}

/**
 * Crops each of the n masks (n×H×W) to its box and resizes it to `miniH × miniW` (n×miniH×miniW out).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { minimizeMasks } from "./transforms_minimask.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const { image, target } = new ShapesDataset({ count: 1, width: 64, height: 64 }).item(0);
 * const n = target.labels.length;
 * const mini = minimizeMasks(target.boxes, target.masks!, n, image.width, image.height, 56, 56);
 * assert.strictEqual(mini.length, n * 56 * 56);
 * ```
 */
export function minimizeMasks(
  boxes: ArrayLike<number>,
  masks: Uint8Array,
  n: number,
  width: number,
  height: number,
  miniH = 56,
  miniW = 56,
): Uint8Array {
  const out = new Uint8Array(n * miniH * miniW);
  for (let k = 0; k < n; k++) {
    const [x1, y1, x2, y2] = pixelBox(boxes, k, width, height);
    const cw = x2 - x1, ch = y2 - y1;
    const crop = new Uint8Array(cw * ch);
    for (let y = 0; y < ch; y++) {
      const src = (k * height + y1 + y) * width + x1;
      crop.set(masks.subarray(src, src + cw), y * cw);
    }
    const resized = resizeBilinear(crop, ch, cw, 1, miniH, miniW);
    for (let i = 0; i < resized.length; i++) out[k * miniH * miniW + i] = resized[i] > 0.5 ? 1 : 0;
  }
  return out;
}

/**
 * Expands mini-masks (n×miniH×miniW) back into full n×H×W masks inside their boxes.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { expandMasks, minimizeMasks } from "./transforms_minimask.ts";
 * // One 16×16 square mask in a 32×32 image survives the round trip through a 56×56 mini-mask.
 * const boxes = new Float32Array([8, 8, 24, 24]);
 * const masks = new Uint8Array(32 * 32);
 * for (let y = 8; y < 24; y++) masks.fill(1, y * 32 + 8, y * 32 + 24);
 * const mini = minimizeMasks(boxes, masks, 1, 32, 32, 56, 56);
 * const full = expandMasks(boxes, mini, 1, 56, 56, 32, 32);
 * assert.deepStrictEqual(full, masks);
 * ```
 */
export function expandMasks(
  boxes: ArrayLike<number>,
  miniMasks: Uint8Array,
  n: number,
  miniH: number,
  miniW: number,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(n * height * width);
  for (let k = 0; k < n; k++) {
    const [x1, y1, x2, y2] = pixelBox(boxes, k, width, height);
    const cw = x2 - x1, ch = y2 - y1;
    const mini = miniMasks.subarray(k * miniH * miniW, (k + 1) * miniH * miniW);
    const resized = resizeBilinear(mini, miniH, miniW, 1, ch, cw);
    for (let y = 0; y < ch; y++) {
      const dst = (k * height + y1 + y) * width + x1;
      for (let x = 0; x < cw; x++) out[dst + x] = resized[y * cw + x] > 0.5 ? 1 : 0;
    }
  }
  return out;
}
