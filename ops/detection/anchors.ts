/**
 * Anchor generation, on the CPU. Anchors depend only on the padded image size and the feature-map sizes,
 * never on pixel values, so they are computed once per input size here (microseconds to a few ms) and
 * uploaded with {@link anchorsTensor}; callers should cache the tensor per (image size, feature sizes).
 *
 * {@link torchvisionAnchors}: torchvision 0.14's `AnchorGenerator` exactly, with its f32 arithmetic: zero-centred cell
 * anchors `round([-w, -h, w, h] / 2)` (round half to even) for every (ratio, size) pair with
 * `h = sqrt(ratio)·size`, `w = size / sqrt(ratio)`, ratio-major order; per level the strides are
 * `padded size // feature size` (integer division, per axis) and the anchors are ordered
 * (y, x, cell anchor). Levels are concatenated; every image of a batch shares the same anchors. The sizes
 * and aspect ratios are arguments (Mask R-CNN's are `anchorSizes` / `aspectRatios` of `model/config.ts`).
 * @module
 */
import { ShapeError } from "../errors.ts";
import { type Tensor, tensorFromArray } from "../tensor.ts";

const f = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `AnchorGenerator.generate_anchors`: zero-centred anchors `[x1, y1, x2, y2]` for each
 * (ratio, size) pair, ratio-major. → [ratios·sizes · 4] f32.
 *
 * @example
 * ```ts
 * import { cellAnchors } from "./anchors.ts";
 * console.log(cellAnchors([32], [0.5, 1, 2])); // [-23,-11,23,11, -16,-16,16,16, -11,-23,11,23]
 * ```
 */
export function cellAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  const out = new Float32Array(sizes.length * aspectRatios.length * 4);
  let k = 0;
  for (const ratio of aspectRatios) {
    const hRatio = f(Math.sqrt(f(ratio)));
    const wRatio = f(1 / hRatio);
    for (const size of sizes) {
      const w = f(wRatio * f(size));
      const h = f(hRatio * f(size));
      for (const v of [-w, -h, w, h]) out[k++] = roundHalfEven(f(v / 2));
    }
  }
  return out;
}

/**
 * All anchors of a padded batch, as torchvision's `AnchorGenerator.forward` (one image's list).
 * imageSize [Hp, Wp], featureSizes [[h, w] per level], sizes and aspectRatios (h / w) [one tuple per level]
 * → [Σ h·w·A, 4] f32 (x1, y1, x2, y2).
 *
 * @example Mask R-CNN's anchors (sizes 32..512, ratios 0.5, 1, 2) for an 800×1088 batch
 * ```ts
 * import { torchvisionAnchors } from "./anchors.ts";
 * const sizes = [[32], [64], [128], [256], [512]];
 * const ratios = Array(5).fill([0.5, 1, 2]);
 * const a = torchvisionAnchors([800, 1088], [[200, 272], [100, 136], [50, 68], [25, 34], [13, 17]], sizes, ratios);
 * console.log(a.length / 4); // 217413
 * ```
 */
export function torchvisionAnchors(
  imageSize: readonly [number, number],
  featureSizes: readonly (readonly [number, number])[],
  sizes: readonly (readonly number[])[],
  aspectRatios: readonly (readonly number[])[],
): Float32Array {
  if (featureSizes.length !== sizes.length || sizes.length !== aspectRatios.length) {
    throw new ShapeError(
      "torchvisionAnchors",
      `${featureSizes.length} feature maps, ${sizes.length} size tuples and ${aspectRatios.length} ratio tuples must match`,
    );
  }
  const cells = sizes.map((s, i) => cellAnchors(s, aspectRatios[i]));
  let total = 0;
  featureSizes.forEach(([h, w], i) => {
    if (!(h >= 1 && w >= 1 && h <= imageSize[0] && w <= imageSize[1])) {
      throw new ShapeError(
        "torchvisionAnchors",
        `feature size [${h},${w}] is invalid for image [${imageSize}]`,
      );
    }
    total += h * w * cells[i].length;
  });
  const out = new Float32Array(total);
  let k = 0;
  featureSizes.forEach(([h, w], level) => {
    const strideY = Math.floor(imageSize[0] / h);
    const strideX = Math.floor(imageSize[1] / w);
    const cell = cells[level];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = x * strideX;
        const sy = y * strideY;
        for (let a = 0; a < cell.length; a += 4) {
          out[k++] = f(sx + cell[a]);
          out[k++] = f(sy + cell[a + 1]);
          out[k++] = f(sx + cell[a + 2]);
          out[k++] = f(sy + cell[a + 3]);
        }
      }
    }
  });
  return out;
}

/**
 * Uploads anchors computed by {@link torchvisionAnchors}.
 * anchors: Float32Array of 4·A → [A, 4] f32.
 *
 * @example
 * ```ts
 * import { getGpu } from "../mod.ts";
 * import { anchorsTensor, torchvisionAnchors } from "./anchors.ts";
 * await getGpu();
 * const features: [number, number][] = [[16, 16], [8, 8], [4, 4], [2, 2], [1, 1]];
 * const t = anchorsTensor(torchvisionAnchors([64, 64], features, [[32], [64], [128], [256], [512]], Array(5).fill([0.5, 1, 2])));
 * console.log(t.shape); // [1023, 4]
 * ```
 */
export function anchorsTensor(anchors: Float32Array): Tensor {
  if (anchors.length % 4 !== 0) {
    throw new ShapeError("anchorsTensor", `${anchors.length} values are not a whole number of boxes`);
  }
  return tensorFromArray(anchors, [anchors.length / 4, 4]);
}
