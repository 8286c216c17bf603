/**
 * Horizontal flip of an image with its boxes (x1' = W - x2, x2' = W - x1) and masks.
 * @module
 */

import type { Rng } from "./prng.ts";
import type { Image, TrainItem } from "./types.ts";

/**
 * Mirrors an RGB image left-right.
 * @example
 * ```ts
 * flipImage({ data: new Uint8Array([1, 1, 1, 2, 2, 2]), width: 2, height: 1 }).data; // [2, 2, 2, 1, 1, 1]
 * ```
 */
export function flipImage(image: Image): Image {
  const { width: W, height: H } = image;
  const src = image.data;
  const data = new Uint8Array(src.length);
  for (let y = 0; y < H; y++) {
    const row = y * W * 3;
    for (let x = 0; x < W; x++) {
      const s = row + x * 3, d = row + (W - 1 - x) * 3;
      data[d] = src[s];
      data[d + 1] = src[s + 1];
      data[d + 2] = src[s + 2];
    }
  }
  return { data, width: W, height: H };
}

/**
 * Mirrors boxes (n×4 x1,y1,x2,y2) in an image of width `width`.
 * @example
 * ```ts
 * flipBoxes(new Float32Array([1, 0, 3, 2]), 10); // Float32Array [7, 0, 9, 2]
 * ```
 */
export function flipBoxes(boxes: Float32Array, width: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = width - boxes[i + 2];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = width - boxes[i];
    out[i + 3] = boxes[i + 3];
  }
  return out;
}

/**
 * Mirrors an n×H×W mask stack left-right.
 * @example
 * ```ts
 * flipMasks(new Uint8Array([1, 0, 0]), 1, 3, 1); // Uint8Array [0, 0, 1]
 * ```
 */
export function flipMasks(masks: Uint8Array, n: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(masks.length);
  out.set(masks.subarray(0, n * width * height));
  for (let r = 0; r < n * height; r++) out.subarray(r * width, (r + 1) * width).reverse();
  return out;
}

/**
 * Flips a training item horizontally (image, boxes and masks).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { flipItem } from "./transforms_flip.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 40, height: 30 }).item(0);
 * const mirrored = flipItem(item);
 * const [x1, , x2] = item.target.boxes, [m1, , m2] = mirrored.target.boxes;
 * assert.deepStrictEqual([m1, m2], [40 - x2, 40 - x1]); // boxes mirror about the image width
 * assert.deepStrictEqual(flipItem(mirrored).image.data, item.image.data); // flipping twice is the identity
 * ```
 */
export function flipItem<T extends TrainItem>(item: T): T {
  const { image, target } = item;
  const newTarget = { ...target, boxes: flipBoxes(target.boxes, image.width) };
  if (target.masks) {
    newTarget.masks = flipMasks(target.masks, target.labels.length, image.width, image.height);
  }
  return { ...item, image: flipImage(image), target: newTarget };
}

/**
 * Flips with probability `p` using `rng` (returns the item unchanged otherwise).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { randomFlipItem } from "./transforms_flip.ts";
 * import { Rng } from "./prng.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 32, height: 32 }).item(0);
 * assert.strictEqual(randomFlipItem(item, new Rng(1), 0), item); // p = 0: never flipped
 * assert.notStrictEqual(randomFlipItem(item, new Rng(1), 1), item); // p = 1: always flipped
 * const out = randomFlipItem(item, new Rng(1), 0.5);
 * assert.strictEqual(out.image.width, 32);
 * ```
 */
export function randomFlipItem<T extends TrainItem>(item: T, rng: Rng, p = 0.5): T {
  return rng.next() < p ? flipItem(item) : item;
}
