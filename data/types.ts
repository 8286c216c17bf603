/**
 * Shared data types of the data pipeline: images, detection targets, training items and batches.
 *
 * These are the formats the `trainStep` API consumes: an interleaved RGB image and, per image, boxes in
 * pixel x1,y1,x2,y2, contiguous labels 1..C (0 is background) and optional n×H×W binary masks.
 * @module
 */

import type { DataError } from "./errors.ts";

/**
 * An 8-bit RGB image, interleaved (r,g,b per pixel) and row-major.
 * @example
 * ```ts
 * const image: Image = { data: new Uint8Array(2 * 2 * 3), width: 2, height: 2 };
 * ```
 */
export interface Image {
  /** Interleaved RGB bytes, `height × width × 3`. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Detection targets of one image.
 * @example
 * ```ts
 * const target: Target = {
 *   boxes: new Float32Array([10, 20, 30, 40]),
 *   labels: new Int32Array([1]),
 * };
 * ```
 */
export interface Target {
  /** `n × 4` boxes in pixels, x1, y1, x2, y2 (x2/y2 exclusive edges). */
  boxes: Float32Array;
  /** `n` contiguous class labels 1..C; 0 is background and never appears here. */
  labels: Int32Array;
  /** Optional `n × H × W` binary (0/1) instance masks, row-major, at the image's size. */
  masks?: Uint8Array;
}

/**
 * One training example: an image and its targets.
 * @example
 * ```ts
 * const item: TrainItem = {
 *   image: { data: new Uint8Array(12), width: 2, height: 2 },
 *   target: { boxes: new Float32Array(0), labels: new Int32Array(0) },
 * };
 * ```
 */
export interface TrainItem {
  /** The decoded image. */
  image: Image;
  /** Its detection targets. */
  target: Target;
}

/**
 * A batch of images with their targets, as consumed by `trainStep`.
 * @example
 * ```ts
 * const batch: Batch = { images: [], targets: [] };
 * ```
 */
export interface Batch {
  /** The images of the batch. */
  images: Image[];
  /** The targets, one per image. */
  targets: Target[];
}

/**
 * A random-access collection of training items.
 * @example
 * ```ts
 * const ds: Dataset = { length: 0, get: (i) => Promise.reject(new RangeError(String(i))) };
 * ```
 */
export interface Dataset<T extends TrainItem = TrainItem> {
  /** Number of items. */
  readonly length: number;
  /** Loads and decodes item `index` (0-based). Bad data is reported by throwing a `DataError`. */
  get(index: number): Promise<T>;
  /** Problems found and repaired while indexing (e.g. dropped annotations); absent when none are tracked. */
  readonly issues?: readonly DataError[];
}
