/**
 * Generated "shapes" dataset (after matterport's shapes sample): squares, circles and triangles in random
 * colours on a plain random background, with exact instance masks. Items are generated on demand from a
 * seed derived from the dataset seed and the item index, so any size and count is reproducible and
 * random-access.
 *
 * Occlusion: shapes are painted in order, a later shape covering earlier ones, and each mask keeps only its
 * visible pixels. A new shape is only placed when every earlier instance keeps at least
 * `minVisibleFraction` of its area and `minArea` pixels (up to 20 placement tries; otherwise the shape is
 * left out), so masks and image always agree exactly and no instance is a sliver.
 * @module
 */

import { masksToBoxes } from "./mask_boxes.ts";
import { deriveSeed, Rng } from "./prng.ts";
import type { Dataset, TrainItem } from "./types.ts";

/**
 * Class names by label: 0 is background.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { generateShapesItem, SHAPES_CLASS_NAMES } from "./shapes.ts";
 * const { target } = generateShapesItem(1, { width: 64, height: 64 });
 * const names = Array.from(target.labels, (label) => SHAPES_CLASS_NAMES[label]);
 * assert.ok(names.every((n) => n === "square" || n === "circle" || n === "triangle"));
 * ```
 */
export const SHAPES_CLASS_NAMES: readonly string[] = ["background", "square", "circle", "triangle"];

/** Options of the shapes dataset. */
export interface ShapesOptions {
  /** Number of items (default 100). */
  count?: number;
  /** Image width in pixels (default 128). */
  width?: number;
  /** Image height in pixels (default 128). */
  height?: number;
  /** Dataset seed (default 0). */
  seed?: number;
  /** Fewest instances per image (default 1). */
  minInstances?: number;
  /** Most instances per image (default 4). */
  maxInstances?: number;
  /** Smallest visible fraction of an occluded instance (default 0.5). */
  minVisibleFraction?: number;
  /** Smallest visible area in pixels (default 16). */
  minArea?: number;
}

/** One generated item; `shapes` describes what was drawn (label, centre, size, colour). */
export interface ShapesItem extends TrainItem {
  /** Index of the item in its dataset. */
  index: number;
  /** The placed shapes in drawing order, matching the targets. */
  shapes: ShapeSpec[];
}

/** A drawn shape: label 1 square (half side `size`), 2 circle (radius `size`), 3 triangle (`size` tall half). */
export interface ShapeSpec {
  label: number;
  cx: number;
  cy: number;
  size: number;
  color: [number, number, number];
}

function inside(spec: ShapeSpec, px: number, py: number): boolean {
  const { cx, cy, size: s } = spec;
  if (spec.label === 1) return Math.abs(px - cx) <= s && Math.abs(py - cy) <= s;
  if (spec.label === 2) return (px - cx) ** 2 + (py - cy) ** 2 <= s * s;
  // Upward triangle as in matterport: apex (cx, cy - s), base corners (cx ∓ s / sin 60°, cy + s).
  if (py < cy - s || py > cy + s) return false;
  const halfWidth = ((py - (cy - s)) / (2 * s)) * (s / Math.sin(Math.PI / 3));
  return Math.abs(px - cx) <= halfWidth;
}

function rasterise(spec: ShapeSpec, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const r = spec.label === 3 ? spec.size / Math.sin(Math.PI / 3) : spec.size;
  const x0 = Math.max(0, Math.floor(spec.cx - r)), x1 = Math.min(width - 1, Math.ceil(spec.cx + r));
  const y0 = Math.max(0, Math.floor(spec.cy - spec.size)),
    y1 = Math.min(height - 1, Math.ceil(spec.cy + spec.size));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) if (inside(spec, x + 0.5, y + 0.5)) mask[y * width + x] = 1;
  }
  return mask;
}

function randomColor(rng: Rng, avoid: [number, number, number]): [number, number, number] {
  for (;;) {
    const c: [number, number, number] = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    if (Math.abs(c[0] - avoid[0]) + Math.abs(c[1] - avoid[1]) + Math.abs(c[2] - avoid[2]) > 120) return c;
  }
}

function count(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/**
 * Generates one shapes image with exact masks from `seed`.
 * @example
 * ```ts
 * const item = generateShapesItem(42, { width: 128, height: 128 });
 * item.target.labels; // e.g. Int32Array [2, 1, 3]
 * ```
 */
export function generateShapesItem(seed: number, options: ShapesOptions = {}, index = 0): ShapesItem {
  const W = options.width ?? 128, H = options.height ?? 128;
  const minFraction = options.minVisibleFraction ?? 0.5, minArea = options.minArea ?? 16;
  const rng = new Rng(seed);
  const bg: [number, number, number] = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
  const wanted = rng.int(options.minInstances ?? 1, options.maxInstances ?? 4);
  const dim = Math.min(W, H);
  const specs: ShapeSpec[] = [];
  const masks: Uint8Array[] = [];
  const fullAreas: number[] = [];
  for (let k = 0; k < wanted; k++) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const label = rng.int(1, 3);
      const size = rng.uniform(Math.max(3, dim / 16), Math.max(4, dim / 5));
      const spec: ShapeSpec = {
        label,
        size,
        cx: rng.uniform(size, W - size),
        cy: rng.uniform(size, H - size),
        color: randomColor(rng, bg),
      };
      const mask = rasterise(spec, W, H);
      const area = count(mask);
      if (area < minArea) continue;
      const kept = masks.map((m) => m.map((v, i) => v & (mask[i] ^ 1)));
      if (kept.some((m, j) => count(m) < Math.max(minArea, minFraction * fullAreas[j]))) continue;
      kept.forEach((m, j) => (masks[j] = m));
      specs.push(spec);
      masks.push(mask);
      fullAreas.push(area);
      break;
    }
  }
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) data.set(bg, 3 * i);
  masks.forEach((m, k) => {
    for (let i = 0; i < W * H; i++) if (m[i]) data.set(specs[k].color, 3 * i);
  });
  const n = masks.length;
  const stack = new Uint8Array(n * W * H);
  masks.forEach((m, k) => stack.set(m, k * W * H));
  return {
    index,
    shapes: specs,
    image: { data, width: W, height: H },
    target: {
      boxes: masksToBoxes(stack, n, W, H, { pixelEdges: true }),
      labels: Int32Array.from(specs, (s) => s.label),
      masks: stack,
    },
  };
}

/**
 * A seeded, random-access shapes dataset.
 * @example
 * ```ts
 * const ds = new ShapesDataset({ count: 64, width: 128, height: 128, seed: 1 });
 * const { image, target } = await ds.get(0);
 * ```
 */
export class ShapesDataset implements Dataset<ShapesItem> {
  /** Class names by label (0 = background). */
  readonly classNames: readonly string[] = SHAPES_CLASS_NAMES;
  /** Number of items. */
  readonly length: number;
  readonly #options: ShapesOptions;
  readonly #seed: number;

  constructor(options: ShapesOptions = {}) {
    this.length = options.count ?? 100;
    this.#options = options;
    this.#seed = options.seed ?? 0;
  }

  /** Generates item `index` synchronously. */
  item(index: number): ShapesItem {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`shapes.ts: index ${index} out of range 0..${this.length - 1}`);
    }
    return generateShapesItem(deriveSeed(this.#seed, index), this.#options, index);
  }

  /** Generates item `index`. */
  get(index: number): Promise<ShapesItem> {
    return Promise.resolve().then(() => this.item(index));
  }
}
