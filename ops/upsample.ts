/**
 * Nearest-neighbour resize of NHWC activations to an explicit output size, as torchvision's FPN top-down
 * path calls it: `F.interpolate(x, size=(outH, outW), mode="nearest")`. The source index is torch 1.13's
 * `nearest_idx`: `min(floor(dst · f32(in/out)), in − 1)` in f32 (the identity and ×2 shortcuts that torch
 * takes agree with this formula), so odd sizes match torch exactly.
 * @module
 */
import { upsampleNearestWgsl } from "../shaders/upsample.wgsl.ts";
import { upsampleNearestBackwardWgsl } from "../shaders/upsample_backward.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * Nearest resize to `[outH, outW]`. x: [N, H, W, C] f32 → [N, outH, outW, C] f32.
 *
 * @example FPN top-down: bring a 13×17 map to the 25×34 lateral's size
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
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

/**
 * Gradient of {@link upsampleNearest} w.r.t. its input: each input element receives the sum of the output
 * gradients that copied it (same f32 index rule as the forward, {@link nearestSourceIndex}). A
 * deterministic gather (no atomics): one invocation per input element walks its run of outputs.
 * gradOut: [N, outH, outW, C] f32 → gradX: [N, inH, inW, C] f32.
 *
 * @example FPN top-down: the gradient of a 13×17 → 25×34 resize
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { upsampleNearestBackward } from "./upsample.ts";
 * await getGpu();
 * const g = tensorFromArray(new Float32Array(25 * 34 * 8).fill(1), [1, 25, 34, 8]);
 * console.log(upsampleNearestBackward(g, 13, 17).shape); // [1, 13, 17, 8]
 * ```
 */
export function upsampleNearestBackward(gradOut: Tensor, inH: number, inW: number): Tensor {
  const op = "upsampleNearestBackward";
  gradOut.check(op, "gradOut");
  assertRank(op, "gradOut", gradOut, 4, "N,outH,outW,C");
  assertDType(op, "gradOut", gradOut, ["f32"]);
  const [n, outH, outW, c] = gradOut.shape;
  if (!Number.isInteger(inH) || !Number.isInteger(inW) || inH < 1 || inW < 1 || outH < 1 || outW < 1) {
    throw new ShapeError(
      op,
      `input size [${inH},${inW}] must be positive integers and gradOut ${gradOut.describe()} non-empty`,
    );
  }
  const gradX = emptyTensor([n, inH, inW, c], "f32");
  const vec4 = c % 4 === 0;
  const cUnits = vec4 ? c / 4 : c;
  const total = n * inH * inW * cUnits;
  if (total === 0) return gradX;
  dispatch({
    key: `upsample/nearest_backward/${vec4 ? "v4" : "s"}`,
    source: upsampleNearestBackwardWgsl(vec4),
  }, {
    op,
    tensors: [["gradOut", gradOut], ["gradX", gradX]],
    params: params(
      ["u32", total],
      ["u32", inH],
      ["u32", inW],
      ["u32", cUnits],
      ["u32", outH],
      ["u32", outW],
      ["f32", Math.fround(inH / outH)],
      ["f32", Math.fround(inW / outW)],
    ),
    workgroups: Math.ceil(total / WORKGROUP_1D),
  });
  return gradX;
}
