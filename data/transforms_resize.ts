/**
 * Resizing like PyTorch: bilinear with `align_corners=False` (`F.interpolate(..., mode="bilinear")`,
 * source index `(dst + 0.5) * in/out - 0.5` clamped at 0, float32 index arithmetic as torch's CPU kernel),
 * nearest for masks (`F.interpolate(..., mode="nearest")`: `min(floor(dst * in/out), in - 1)`), and
 * torchvision's min/max-size rule of `GeneralizedRCNNTransform`.
 * @module
 */

import type { Image, TrainItem } from "./types.ts";
import { resizeMasksNearest } from "../model/mask_resize.ts";

const f32 = Math.fround;

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float32Array;
}

function bilinearTaps(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), w1 = new Float32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let src = f32(f32(scale * f32(d + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const lo = Math.floor(src);
    i0[d] = lo;
    i1[d] = lo < inSize - 1 ? lo + 1 : lo;
    w1[d] = Math.min(Math.max(f32(src - lo), 0), 1);
  }
  return { i0, i1, w1 };
}

/**
 * Bilinear resize (align_corners=False) of an interleaved `inH × inW × channels` array to `outH × outW`.
 * @example
 * ```ts
 * const out = resizeBilinear(new Float32Array([0, 1, 2, 3]), 2, 2, 1, 4, 4); // 4×4, 1 channel
 * ```
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
): Float32Array {
  if (src.length !== inH * inW * channels) {
    throw new RangeError(
      `transforms_resize.ts: expected ${inH}×${inW}×${channels} values, got ${src.length}`,
    );
  }
  const out = new Float32Array(outH * outW * channels);
  const ty = bilinearTaps(inH, outH), tx = bilinearTaps(inW, outW);
  for (let y = 0; y < outH; y++) {
    const r0 = ty.i0[y] * inW, r1 = ty.i1[y] * inW, wy1 = ty.w1[y], wy0 = 1 - wy1;
    for (let x = 0; x < outW; x++) {
      const c0 = tx.i0[x], c1 = tx.i1[x], wx1 = tx.w1[x], wx0 = 1 - wx1;
      const a = (r0 + c0) * channels,
        b = (r0 + c1) * channels,
        c = (r1 + c0) * channels,
        d = (r1 + c1) * channels;
      const o = (y * outW + x) * channels;
      for (let ch = 0; ch < channels; ch++) {
        out[o + ch] = wy0 * (wx0 * src[a + ch] + wx1 * src[b + ch]) +
          wy1 * (wx0 * src[c + ch] + wx1 * src[d + ch]);
      }
    }
  }
  return out;
}

/**
 * Bilinear resize of an RGB image; values are rounded to the nearest byte.
 * @example
 * ```ts
 * const small = resizeImage({ data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 }, 2, 2);
 * ```
 */
export function resizeImage(image: Image, outH: number, outW: number): Image {
  const { width: inW, height: inH } = image;
  if (outH === inH && outW === inW) return { ...image, data: image.data.slice() };
  const src = image.data;
  const data = new Uint8Array(outH * outW * 3);
  const ty = bilinearTaps(inH, outH), tx = bilinearTaps(inW, outW);
  // Byte offsets and weights per output column, computed once.
  const c0 = new Int32Array(outW), c1 = new Int32Array(outW), wx = new Float64Array(outW);
  for (let x = 0; x < outW; x++) {
    c0[x] = tx.i0[x] * 3;
    c1[x] = tx.i1[x] * 3;
    wx[x] = tx.w1[x];
  }
  for (let y = 0; y < outH; y++) {
    const r0 = ty.i0[y] * inW * 3, r1 = ty.i1[y] * inW * 3, wy1 = ty.w1[y], wy0 = 1 - wy1;
    let o = y * outW * 3;
    for (let x = 0; x < outW; x++) {
      const a = r0 + c0[x], b = r0 + c1[x], c = r1 + c0[x], d = r1 + c1[x];
      const wx1 = wx[x], wx0 = 1 - wx1;
      for (let ch = 0; ch < 3; ch++) {
        const v = wy0 * (wx0 * src[a + ch] + wx1 * src[b + ch]) +
          wy1 * (wx0 * src[c + ch] + wx1 * src[d + ch]);
        data[o++] = v + 0.5; // values are within 0..255, so truncation of v + 0.5 rounds half up
      }
    }
  }
  return { data, width: outW, height: outH };
}

/** Nearest-neighbour resize of byte masks (torch `mode="nearest"`); lives with the GPU resize's index rule. */
export { resizeMasksNearest } from "../model/mask_resize.ts";

/**
 * torchvision's resize rule: `scale = min(minSize / shortSide, maxSize / longSide)`, output size
 * `floor(side * scale)`. The scale is computed as torch does for `python_float / float32_tensor`, i.e.
 * `float32(float32(1 / side) * size)` (`Tensor.__rtruediv__` multiplies by the reciprocal), which can differ
 * from the exact quotient by one ulp and so change the output size by one pixel (480 → 800, not 799).
 * @example
 * ```ts
 * minMaxResizeSize(480, 640, 800, 1333); // { scale: 1.6666666..., height: 800, width: 1066 }
 * ```
 */
export function minMaxResizeSize(
  height: number,
  width: number,
  minSize: number,
  maxSize: number,
): { scale: number; height: number; width: number } {
  const short = Math.min(height, width), long = Math.max(height, width);
  const scale = Math.min(f32(f32(1 / short) * minSize), f32(f32(1 / long) * maxSize));
  return { scale, height: Math.floor(height * scale), width: Math.floor(width * scale) };
}

/**
 * Resizes a training item to `outH × outW`: bilinear image, nearest masks, boxes scaled per axis by
 * `out / in`.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resizeItem } from "./transforms_resize.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 32, height: 16 }).item(0);
 * const resized = resizeItem(item, 32, 64); // 2× on both axes
 * assert.deepStrictEqual([resized.image.width, resized.image.height], [64, 32]);
 * assert.deepStrictEqual(resized.target.boxes, item.target.boxes.map((v) => 2 * v));
 * ```
 */
export function resizeItem<T extends TrainItem>(item: T, outH: number, outW: number): T {
  const { image, target } = item;
  const sx = outW / image.width, sy = outH / image.height;
  const boxes = new Float32Array(target.boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = target.boxes[i] * sx;
    boxes[i + 1] = target.boxes[i + 1] * sy;
    boxes[i + 2] = target.boxes[i + 2] * sx;
    boxes[i + 3] = target.boxes[i + 3] * sy;
  }
  const n = target.labels.length;
  const newTarget = { ...target, boxes };
  if (target.masks) {
    newTarget.masks = resizeMasksNearest(target.masks, n, image.height, image.width, outH, outW);
  }
  return { ...item, image: resizeImage(image, outH, outW), target: newTarget };
}

/**
 * Resizes a training item with torchvision's min/max rule (e.g. 800/1333).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resizeMinMax } from "./transforms_resize.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 40, height: 20 }).item(0);
 * const resized = resizeMinMax(item, 30, 50); // short side to 30 unless the long side exceeds 50
 * assert.deepStrictEqual([resized.image.height, resized.image.width], [25, 50]);
 * ```
 */
export function resizeMinMax<T extends TrainItem>(item: T, minSize: number, maxSize: number): T {
  const size = minMaxResizeSize(item.image.height, item.image.width, minSize, maxSize);
  return resizeItem(item, size.height, size.width);
}
