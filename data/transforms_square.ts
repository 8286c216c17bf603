/**
 * matterport Mask R-CNN's `square` resize mode (`utils.resize_image` / `resize_mask`): scale so the short
 * side reaches `minDim` (never shrinking for it), cap the long side at `maxDim`, then zero-pad to
 * `maxDim × maxDim` with the image centred. Returns the window (y1, x1, y2, x2) of the image in the padded
 * result, the scale and the padding. The image is resized bilinearly (align_corners=False) and masks with
 * nearest neighbours (matterport uses `scipy.ndimage.zoom(order=0)`; edge pixels may differ by one).
 * @module
 */

import { resizeItem } from "./transforms_resize.ts";
import type { TrainItem } from "./types.ts";

/** Options of `resizeSquare`, named like matterport's config. */
export interface SquareResizeOptions {
  /** IMAGE_MIN_DIM: the short side is scaled up to at least this (no downscaling because of it). */
  minDim?: number;
  /** IMAGE_MAX_DIM: the long side is capped at this and the output is `maxDim × maxDim`. */
  maxDim: number;
  /** IMAGE_MIN_SCALE: lower bound of the scale. */
  minScale?: number;
}

/** Result of `resizeSquare`. */
export interface SquareResizeResult<T extends TrainItem> {
  /** The resized and padded item (boxes shifted into the padded frame). */
  item: T;
  /** The image area in the padded output: `[y1, x1, y2, x2]`. */
  window: [number, number, number, number];
  /** Scale applied before padding. */
  scale: number;
  /** Padding `[[top, bottom], [left, right]]`. */
  padding: [[number, number], [number, number]];
}

/** Python 3's `round` (half to even). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * matterport's square-mode scale and resized size for an `h × w` image.
 * @example
 * ```ts
 * squareScale(480, 640, { minDim: 800, maxDim: 1024 }); // { scale: 1.6, height: 768, width: 1024 }
 * ```
 */
export function squareScale(
  h: number,
  w: number,
  { minDim, maxDim, minScale }: SquareResizeOptions,
): { scale: number; height: number; width: number } {
  let scale = 1;
  if (minDim) scale = Math.max(1, minDim / Math.min(h, w));
  if (minScale && scale < minScale) scale = minScale;
  const imageMax = Math.max(h, w);
  if (roundHalfEven(imageMax * scale) > maxDim) scale = maxDim / imageMax;
  if (scale === 1) return { scale, height: h, width: w };
  return { scale, height: roundHalfEven(h * scale), width: roundHalfEven(w * scale) };
}

/**
 * Resizes and pads an item into a `maxDim × maxDim` square (matterport `square` mode).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resizeSquare } from "./transforms_square.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 32, height: 16 }).item(0);
 * const { item: square, window, scale } = resizeSquare(item, { minDim: 32, maxDim: 64 });
 * assert.strictEqual(scale, 2);
 * assert.deepStrictEqual([square.image.width, square.image.height], [64, 64]);
 * assert.deepStrictEqual(window, [16, 0, 48, 64]); // [y1, x1, y2, x2] of the image inside the padding
 * ```
 */
export function resizeSquare<T extends TrainItem>(
  item: T,
  options: SquareResizeOptions,
): SquareResizeResult<T> {
  const { maxDim } = options;
  const size = squareScale(item.image.height, item.image.width, options);
  const resized = resizeItem(item, size.height, size.width);
  const top = Math.floor((maxDim - size.height) / 2), left = Math.floor((maxDim - size.width) / 2);
  const bottom = maxDim - size.height - top, right = maxDim - size.width - left;
  const data = new Uint8Array(maxDim * maxDim * 3);
  for (let y = 0; y < size.height; y++) {
    data.set(
      resized.image.data.subarray(y * size.width * 3, (y + 1) * size.width * 3),
      ((y + top) * maxDim + left) * 3,
    );
  }
  const target = { ...resized.target, boxes: resized.target.boxes.slice() };
  for (let i = 0; i < target.boxes.length; i += 4) {
    target.boxes[i] += left;
    target.boxes[i + 1] += top;
    target.boxes[i + 2] += left;
    target.boxes[i + 3] += top;
  }
  if (resized.target.masks) {
    const n = target.labels.length;
    const masks = new Uint8Array(n * maxDim * maxDim);
    for (let k = 0; k < n; k++) {
      for (let y = 0; y < size.height; y++) {
        const src = resized.target.masks.subarray(
          (k * size.height + y) * size.width,
          (k * size.height + y + 1) * size.width,
        );
        masks.set(src, (k * maxDim + y + top) * maxDim + left);
      }
    }
    target.masks = masks;
  }
  return {
    item: { ...resized, image: { data, width: maxDim, height: maxDim }, target },
    window: [top, left, top + size.height, left + size.width],
    scale: size.scale,
    padding: [[top, bottom], [left, right]],
  };
}
