/**
 * Nearest-neighbour resize of NHWC activations to an explicit output size, as torchvision's FPN top-down
 * path calls it: `F.interpolate(x, size=(outH, outW), mode="nearest")`. The source index is torch 1.13's
 * `nearest_idx`: `min(floor(dst · f32(in/out)), in − 1)` in f32 (the identity and ×2 shortcuts that torch
 * takes agree with this formula), so odd sizes match torch exactly.
 * @module
 */
import { upsampleNearestWgsl } from "../shaders/upsample.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * torch's nearest source index for one axis (CPU twin of the shader, for callers and tests).
 *
 * @example
 * ```ts
 * import { nearestSourceIndex } from "./upsample.ts";
 * console.log(nearestSourceIndex(4, 13, 25)); // 2
 * ```
 */
export function nearestSourceIndex(dst: number, inSize: number, outSize: number): number {
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

/**
 * Nearest resize to `[outH, outW]`. x: [N, H, W, C] f32 → [N, outH, outW, C] f32.
 *
 * @example FPN top-down: bring a 13×17 map to the 25×34 lateral's size
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { upsampleNearest } from "./upsample.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(13 * 17 * 8).fill(2), [1, 13, 17, 8]);
 * console.log(upsampleNearest(x, 25, 34).shape); // [1, 25, 34, 8]
 * ```
 */
export function upsampleNearest(x: Tensor, outH: number, outW: number): Tensor {
  const op = "upsampleNearest";
  x.check(op, "x");
  assertRank(op, "x", x, 4, "N,H,W,C");
  assertDType(op, "x", x, ["f32"]);
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) {
    throw new ShapeError(op, `output size [${outH},${outW}] must be positive integers (x ${x.describe()})`);
  }
  const [n, h, w, c] = x.shape;
  if (h < 1 || w < 1) throw new ShapeError(op, `x ${x.describe()} has an empty spatial size`);
  const out = emptyTensor([n, outH, outW, c], "f32");
  const vec4 = c % 4 === 0;
  const cUnits = vec4 ? c / 4 : c;
  const total = n * outH * outW * cUnits;
  if (total === 0) return out;
  dispatch({ key: `upsample/nearest/${vec4 ? "v4" : "s"}`, source: upsampleNearestWgsl(vec4) }, {
    op,
    tensors: [["x", x], ["out", out]],
    params: params(
      ["u32", total],
      ["u32", h],
      ["u32", w],
      ["u32", cUnits],
      ["u32", outH],
      ["u32", outW],
      ["f32", Math.fround(h / outH)],
      ["f32", Math.fround(w / outW)],
    ),
    workgroups: Math.ceil(total / WORKGROUP_1D),
  });
  return out;
}
