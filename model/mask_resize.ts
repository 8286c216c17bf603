/**
 * Nearest-neighbour resize of byte masks on the CPU with torch 1.13's `mode="nearest"` index rule
 * (`nearest_idx`: `min(floor(dst · f32(in/out)), in − 1)` in f32): the ground-truth masks' resize of
 * torchvision's transform, used by the data transforms and by training's target rescaling. Plain
 * TypeScript with no GPU, so data/ and model/ share it without importing ops/.
 * @module
 */

/**
 * torch's nearest source index for one axis: the rule of `ops/upsample.ts`'s shader (FPN top-down) and of
 * {@link resizeMasksNearest}, in f32 as torch computes it.
 *
 * @example
 * ```ts
 * import { nearestSourceIndex } from "./mask_resize.ts";
 * console.log(nearestSourceIndex(4, 13, 25)); // 2
 * ```
 */
export function nearestSourceIndex(dst: number, inSize: number, outSize: number): number {
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

/**
 * Nearest-neighbour resize of an `n × inH × inW` stack of byte masks on the CPU, with torch's
 * `mode="nearest"` index rule ({@link nearestSourceIndex}): the ground-truth masks' resize in torchvision's
 * transform, shared by the data transforms and `trainStep`.
 *
 * @example
 * ```ts
 * import { resizeMasksNearest } from "./mask_resize.ts";
 * console.log(resizeMasksNearest(new Uint8Array([1, 0, 0, 1]), 1, 2, 2, 4, 4)); // two 2×2 blocks
 * ```
 */
export function resizeMasksNearest(
  masks: Uint8Array,
  n: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
): Uint8Array {
  if (inH === outH && inW === outW) return masks.slice(0, n * inH * inW);
  const out = new Uint8Array(n * outH * outW);
  const iy = Int32Array.from({ length: outH }, (_, y) => nearestSourceIndex(y, inH, outH));
  const ix = Int32Array.from({ length: outW }, (_, x) => nearestSourceIndex(x, inW, outW));
  for (let k = 0; k < n; k++) {
    const s = k * inH * inW, o = k * outH * outW;
    for (let y = 0; y < outH; y++) {
      const orow = o + y * outW;
      if (y > 0 && iy[y] === iy[y - 1]) {
        out.copyWithin(orow, orow - outW, orow); // the same source row again
        continue;
      }
      const row = s + iy[y] * inW;
      for (let x = 0; x < outW; x++) out[orow + x] = masks[row + ix[x]];
    }
  }
  return out;
}
