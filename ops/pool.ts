/**
 * 2-D max pooling over NHWC activations, with torch's `F.max_pool2d` semantics (dilation 1,
 * `ceil_mode=False`): output size `floor((H + 2·pad − k) / stride) + 1`, padding acts as −inf (padded
 * positions never win). Used by the ResNet stem (3×3, stride 2, pad 1) and the FPN's extra "pool" level
 * (1×1, stride 2, pad 0, torchvision's `LastLevelMaxPool`). NaN propagation is not guaranteed (WGSL `max`).
 * @module
 */
import { maxPool2dWgsl } from "../shaders/pool.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/** A size per spatial axis: one number for both, or `[h, w]`. */
export type Pair = number | readonly [number, number];

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: Pair;
  /** Step between windows; default = kernel (as torch). */
  stride?: Pair;
  /** Implicit −inf padding on each side; default 0; at most half the kernel (as torch). */
  padding?: Pair;
}

function pair(v: Pair): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/**
 * Output spatial size of a max pool, torch's floor rule: `floor((in + 2·pad − k) / stride) + 1`.
 *
 * @example
 * ```ts
 * import { maxPool2dOutputSize } from "./pool.ts";
 * console.log(maxPool2dOutputSize(37, 3, 2, 1)); // 19
 * ```
 */
export function maxPool2dOutputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/**
 * Max pooling of an NHWC tensor.
 * x: [N, H, W, C] f32 → [N, Ho, Wo, C] f32, Ho = floor((H + 2·ph − kh) / sh) + 1 (same for W).
 *
 * @example ResNet stem pool and the FPN extra level
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { maxPool2d } from "./pool.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(2 * 9 * 9 * 4).fill(1), [2, 9, 9, 4]);
 * console.log(maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }).shape); // [2, 5, 5, 4]
 * console.log(maxPool2d(x, { kernel: 1, stride: 2 }).shape); // [2, 5, 5, 4]
 * ```
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const op = "maxPool2d";
  x.check(op, "x");
  assertRank(op, "x", x, 4, "N,H,W,C");
  assertDType(op, "x", x, ["f32"]);
  const [kh, kw] = pair(options.kernel);
  const [sh, sw] = pair(options.stride ?? options.kernel);
  const [ph, pw] = pair(options.padding ?? 0);
  for (
    const [name, v, min] of [["kernel", kh, 1], ["kernel", kw, 1], ["stride", sh, 1], [
      "stride",
      sw,
      1,
    ]] as const
  ) {
    if (!Number.isInteger(v) || v < min) {
      throw new ShapeError(op, `${name} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(ph) || !Number.isInteger(pw) || ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw) {
    throw new ShapeError(op, `padding [${ph},${pw}] must be ≥ 0 and at most half of kernel [${kh},${kw}]`);
  }
  const [n, h, w, c] = x.shape;
  const ho = maxPool2dOutputSize(h, kh, sh, ph);
  const wo = maxPool2dOutputSize(w, kw, sw, pw);
  if (ho < 1 || wo < 1) {
    throw new ShapeError(
      op,
      `x ${x.describe()} is too small for kernel [${kh},${kw}] with padding [${ph},${pw}]`,
    );
  }
  const out = emptyTensor([n, ho, wo, c], "f32");
  const vec4 = c % 4 === 0;
  const cUnits = vec4 ? c / 4 : c;
  const total = n * ho * wo * cUnits;
  if (total === 0) return out;
  dispatch({ key: `pool/max2d/${vec4 ? "v4" : "s"}`, source: maxPool2dWgsl(vec4) }, {
    op,
    tensors: [["x", x], ["out", out]],
    params: params(
      ["u32", total],
      ["u32", h],
      ["u32", w],
      ["u32", cUnits],
      ["u32", ho],
      ["u32", wo],
      ["u32", kh],
      ["u32", kw],
      ["u32", sh],
      ["u32", sw],
      ["u32", ph],
      ["u32", pw],
    ),
    workgroups: Math.ceil(total / WORKGROUP_1D),
  });
  return out;
}
