/**
 * Batch collation: images of different sizes are zero-padded (bottom/right) to a common size rounded up to a
 * multiple of `sizeDivisible` (32 by default, as torchvision/Detectron), with the original sizes returned.
 * @module
 */

import type { Batch, Image, Target, TrainItem } from "./types.ts";

/** A collated batch: every image has the padded size; `imageSizes` keeps the sizes before padding. */
export interface PaddedBatch extends Batch {
  /** `batch × height × width × 3` RGB bytes; `images[i].data` are views into it. */
  pixels: Uint8Array;
  /** Padded height (a multiple of `sizeDivisible`). */
  height: number;
  /** Padded width (a multiple of `sizeDivisible`). */
  width: number;
  /** Per-image `[height, width]` before padding (the valid region, top-left aligned). */
  imageSizes: [number, number][];
}

/** Options of `collateBatch`. */
export interface CollateOptions {
  /** Padded sizes are rounded up to a multiple of this (default 32). */
  sizeDivisible?: number;
  /** Pad masks to the padded image size too (default true), keeping `masks` as n×H×W of the image. */
  padMasks?: boolean;
}

function padMasks(masks: Uint8Array, n: number, h: number, w: number, H: number, W: number): Uint8Array {
  if (h === H && w === W) return masks;
  const out = new Uint8Array(n * H * W);
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < h; y++) {
      out.set(masks.subarray((k * h + y) * w, (k * h + y + 1) * w), (k * H + y) * W);
    }
  }
  return out;
}

/**
 * Collates items into a padded batch.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { collateBatch } from "./collate.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const itemA = new ShapesDataset({ count: 1, width: 70, height: 50 }).item(0);
 * const itemB = new ShapesDataset({ count: 1, width: 40, height: 64 }).item(0);
 * const batch = collateBatch([itemA, itemB]);
 * assert.deepStrictEqual([batch.height, batch.width], [64, 96]); // rounded up to multiples of 32
 * assert.deepStrictEqual(batch.imageSizes, [[50, 70], [64, 40]]);
 * ```
 */
export function collateBatch(items: readonly TrainItem[], options: CollateOptions = {}): PaddedBatch {
  const div = options.sizeDivisible ?? 32;
  if (items.length === 0) throw new RangeError("collate.ts: cannot collate an empty batch");
  const maxH = Math.max(...items.map((it) => it.image.height));
  const maxW = Math.max(...items.map((it) => it.image.width));
  const H = Math.ceil(maxH / div) * div, W = Math.ceil(maxW / div) * div;
  const plane = H * W * 3;
  const pixels = new Uint8Array(items.length * plane);
  const images: Image[] = [];
  const targets: Target[] = [];
  const imageSizes: [number, number][] = [];
  items.forEach((item, b) => {
    const { data, width: w, height: h } = item.image;
    for (let y = 0; y < h; y++) pixels.set(data.subarray(y * w * 3, (y + 1) * w * 3), b * plane + y * W * 3);
    images.push({ data: pixels.subarray(b * plane, (b + 1) * plane), width: W, height: H });
    imageSizes.push([h, w]);
    const t = item.target;
    const target: Target = { boxes: t.boxes, labels: t.labels };
    if (t.masks) {
      target.masks = options.padMasks === false ? t.masks : padMasks(t.masks, t.labels.length, h, w, H, W);
    }
    targets.push(target);
  });
  return { images, targets, pixels, height: H, width: W, imageSizes };
}
