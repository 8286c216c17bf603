/**
 * Composable per-item transforms for the loader: each takes an item and a seeded `Rng` (so augmentation is
 * reproducible per epoch and item) and returns a new item.
 * @module
 */

import type { Rng } from "./prng.ts";
import { randomFlipItem } from "./transforms_flip.ts";
import { resizeMinMax } from "./transforms_resize.ts";
import type { TrainItem } from "./types.ts";

/** A per-item transform. */
export type ItemTransform<T extends TrainItem = TrainItem> = (item: T, rng: Rng) => T;

/**
 * Chains transforms left to right.
 * @example
 * ```ts
 * const transform = composeTransforms(minMaxResizeTransform(800, 1333), randomFlipTransform(0.5));
 * ```
 */
export function composeTransforms<T extends TrainItem>(...transforms: ItemTransform<T>[]): ItemTransform<T> {
  return (item, rng) => transforms.reduce((acc, t) => t(acc, rng), item);
}

/**
 * torchvision-style min/max resize as a transform.
 * @example
 * ```ts
 * const t = minMaxResizeTransform(800, 1333);
 * ```
 */
export function minMaxResizeTransform<T extends TrainItem>(
  minSize: number,
  maxSize: number,
): ItemTransform<T> {
  return (item) => resizeMinMax(item, minSize, maxSize);
}

/**
 * Random horizontal flip with probability `p`.
 * @example
 * ```ts
 * const t = randomFlipTransform(0.5);
 * ```
 */
export function randomFlipTransform<T extends TrainItem>(p = 0.5): ItemTransform<T> {
  return (item, rng) => randomFlipItem(item, rng, p);
}
