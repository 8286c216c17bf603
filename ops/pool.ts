/**
 * 2-D max pooling over NHWC activations, with torch's `F.max_pool2d` semantics (dilation 1,
 * `ceil_mode=False`): output size `floor((H + 2·pad − k) / stride) + 1`, padding acts as −inf (padded
 * positions never win). Used by the ResNet stem (3×3, stride 2, pad 1) and the FPN's extra "pool" level
 * (1×1, stride 2, pad 0, torchvision's `LastLevelMaxPool`). NaN propagation is not guaranteed (WGSL `max`).
 * @module
 */
import { maxPool2dWgsl } from "../shaders/pool.wgsl.ts";
import { maxPool2dArgmaxWgsl, maxPool2dGatherWgsl } from "../shaders/pool_backward.wgsl.ts";
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

interface PoolGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** Checks `x` and the options (shared by the forward and backward passes) and derives the output size. */
function poolGeometry(op: string, x: Tensor, options: MaxPool2dOptions): PoolGeometry {
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
  return { n, h, w, c, ho, wo, kh, kw, sh, sw, ph, pw };
}

function poolParams(g: PoolGeometry, total: number, cUnits: number): Uint32Array {
  return params(
    ["u32", total],
    ["u32", g.h],
    ["u32", g.w],
    ["u32", cUnits],
    ["u32", g.ho],
    ["u32", g.wo],
    ["u32", g.kh],
    ["u32", g.kw],
    ["u32", g.sh],
    ["u32", g.sw],
    ["u32", g.ph],
    ["u32", g.pw],
  );
}

/**
 * Max pooling of an NHWC tensor.
 * x: [N, H, W, C] f32 → [N, Ho, Wo, C] f32, Ho = floor((H + 2·ph − kh) / sh) + 1 (same for W).
 *
 * @example ResNet stem pool and the FPN extra level
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { maxPool2d } from "./pool.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(2 * 9 * 9 * 4).fill(1), [2, 9, 9, 4]);
 * console.log(maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }).shape); // [2, 5, 5, 4]
 * console.log(maxPool2d(x, { kernel: 1, stride: 2 }).shape); // [2, 5, 5, 4]
 * ```
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const g = poolGeometry("maxPool2d", x, options);
  const { n, c, ho, wo } = g;
  const out = emptyTensor([n, ho, wo, c], "f32");
  const vec4 = c % 4 === 0;
  const cUnits = vec4 ? c / 4 : c;
  const total = n * ho * wo * cUnits;
  if (total === 0) return out;
  dispatch({ key: `pool/max2d/${vec4 ? "v4" : "s"}`, source: maxPool2dWgsl(vec4) }, {
    op: "maxPool2d",
    tensors: [["x", x], ["out", out]],
    params: poolParams(g, total, cUnits),
    workgroups: Math.ceil(total / WORKGROUP_1D),
  });
  return out;
}

/**
 * Gradient of {@link maxPool2d} w.r.t. its input, torch semantics: each window's gradient goes to the
 * FIRST maximal element in (ky, kx) scan order (ties included), as torch's CPU kernel records it.
 * Deterministic: an argmax pass, then a gather in which every input element sums the outputs it won.
 * x: [N, H, W, C] f32 (the forward's input), gradOut: [N, Ho, Wo, C] f32 → gradX: [N, H, W, C] f32.
 *
 * @example Backward of the ResNet stem pool
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { maxPool2dBackward } from "./pool.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(9 * 9 * 4).map((_, i) => i % 7), [1, 9, 9, 4]);
 * const g = tensorFromArray(new Float32Array(5 * 5 * 4).fill(1), [1, 5, 5, 4]);
 * console.log(maxPool2dBackward(x, g, { kernel: 3, stride: 2, padding: 1 }).shape); // [1, 9, 9, 4]
 * ```
 */
export function maxPool2dBackward(x: Tensor, gradOut: Tensor, options: MaxPool2dOptions): Tensor {
  const op = "maxPool2dBackward";
  const g = poolGeometry(op, x, options);
  gradOut.check(op, "gradOut");
  assertDType(op, "gradOut", gradOut, ["f32"]);
  const expected = [g.n, g.ho, g.wo, g.c];
  if (gradOut.rank !== 4 || gradOut.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(op, `gradOut ${gradOut.describe()} must be [${expected}] for x ${x.describe()}`);
  }
  const gradX = emptyTensor(x.shape, "f32");
  const vec4 = g.c % 4 === 0;
  const cUnits = vec4 ? g.c / 4 : g.c;
  const outTotal = g.n * g.ho * g.wo * cUnits;
  const inTotal = g.n * g.h * g.w * cUnits;
  if (inTotal === 0) return gradX;
  const v = vec4 ? "v4" : "s";
  const idx = emptyTensor(gradOut.shape, "u32");
  dispatch({ key: `pool/max2d_argmax/${v}`, source: maxPool2dArgmaxWgsl(vec4) }, {
    op,
    tensors: [["x", x], ["argmax", idx]],
    params: poolParams(g, outTotal, cUnits),
    workgroups: Math.ceil(outTotal / WORKGROUP_1D),
  });
  dispatch({ key: `pool/max2d_gather/${v}`, source: maxPool2dGatherWgsl(vec4) }, {
    op,
    tensors: [["gradOut", gradOut], ["argmax", idx], ["gradX", gradX]],
    params: poolParams(g, inTotal, cUnits),
    workgroups: Math.ceil(inTotal / WORKGROUP_1D),
  });
  idx.dispose(); // returned to the pool; later writes are ordered after these dispatches
  return gradX;
}
