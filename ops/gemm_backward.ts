/**
 * Machinery shared by the backward passes of the implicit-GEMM ops (conv2d, linear, conv_transpose2d):
 * the ReLU gradient mask, the per-tap weight transpose used by the input gradients, and the split-K
 * weight and bias gradients (shaders/gemm_backward.wgsl.ts), which accumulate (`+=`) into caller-owned
 * gradients in the packed layout.
 *
 * Decisions:
 * - Weight gradients reduce over M = the forward's output pixels (e.g. 2·200·304 rows), so M is split into
 *   chunks across grid z until the grid has ~{@link WGRAD_SPLIT}.targetWorkgroups workgroups (bounded by a
 *   minimum chunk and a cap on the partials' bytes); partials are summed in a fixed order by a second pass.
 *   Results are deterministic (same split for the same shape and adapter; no atomics). A single chunk adds
 *   directly into the gradient (fc6: K·cols = 12.8 M floats would make partials too large).
 * - Tiles are per adapter ({@link WGRAD_TILES}); register-blocked without workgroup memory like the forward.
 * @module
 */
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import type { GemmTile, StoreLayout } from "../shaders/conv2d.wgsl.ts";
import { reluMaskWgsl, TRANSPOSE_WEIGHTS_WGSL } from "../shaders/conv2d_backward.wgsl.ts";
import {
  BIAS_REDUCE_WGSL,
  biasPartialWgsl,
  WGRAD_REDUCE_WGSL,
  wgradWgsl,
} from "../shaders/gemm_backward.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { currentGpu, softwareGemmTiles } from "./gpu.ts";
import { subgroupTile } from "./conv2d.ts";
import { boundedDispatchEnabled, dispatch, type OccupiedRows, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * Weight-gradient tiles per adapter: tm k-groups (4 consecutive k when Cin % 4 == 0, else tm·4 single k)
 * × tn4 vec4 columns per invocation, wx × wy invocations.
 *
 * @example
 * ```ts
 * import { WGRAD_TILES } from "./gemm_backward.ts";
 * console.log(WGRAD_TILES.hardware.tn4 * 4 * WGRAD_TILES.hardware.wx); // 128 columns per workgroup
 * ```
 */
export const WGRAD_TILES: { software: GemmTile; subgroup: GemmTile; hardware: GemmTile } = {
  software: { tm: 2, tn4: 4, wx: 8, wy: 8 },
  subgroup: { tm: 4, tn4: 2, wx: 8, wy: 4 },
  hardware: { tm: 1, tn4: 4, wx: 8, wy: 8 },
};

/**
 * Split-K policy of the weight gradient (mutable, so tests can force either path).
 *
 * @example
 * ```ts
 * import { WGRAD_SPLIT } from "./gemm_backward.ts";
 * console.log(WGRAD_SPLIT.minChunk);
 * ```
 */
export const WGRAD_SPLIT = {
  /** Aim for about this many workgroups (real GPUs); the software adapter uses {@link softwareTarget}. */
  targetWorkgroups: 1024,
  softwareTarget: 32,
  /** Rows per chunk at least. */
  minChunk: 64,
  /**
   * Rows per chunk at most, so that a chunk's rows of x and G stay in cache while every invocation of the
   * workgroup walks them (lavapipe runs a workgroup's SIMD groups one after another: 3×3 256→256 at
   * 100×152 went from 6.6 to 29 GFLOP/s of CPU time with chunks of ~500 rows instead of one of 15200).
   */
  maxChunk: 512,
  /** Partials at most this many bytes (else fewer chunks). */
  maxPartialBytes: 64 * 1024 * 1024,
};

/**
 * What every GEMM backward (`conv2dBackward`, `linearBackward`, `convTranspose2dBackward`) is told
 * about its forward and what it should compute.
 *
 * @example
 * ```ts
 * import type { GemmBackwardOptions } from "./gemm_backward.ts";
 * const options: GemmBackwardOptions = { relu: true, out: null, needInputGrad: false };
 * console.log(options.relu);
 * ```
 */
export interface GemmBackwardOptions {
  /** The forward fused ReLU: `out` is then required to mask the gradient. Default false. */
  relu?: boolean;
  /** The forward's output (needed when `relu`). */
  out?: Tensor | null;
  /** Compute the input gradient (default true); false returns `gradInput: null`. */
  needInputGrad?: boolean;
}

/** Parameter gradients to accumulate into (`+=`), shaped like the packed weight / bias. */
export interface GemmParamGrads {
  /** Like the packed weight. */
  weight?: Tensor;
  /** Like the packed bias. */
  bias?: Tensor;
}

/** What the backward passes return. */
export interface GemmBackwardResult {
  /** Gradient w.r.t. the input (new tensor), or null when not requested. */
  gradInput: Tensor | null;
  /**
   * Gradient w.r.t. the pre-activation output (= the residual's gradient); `gradOut` itself (not a copy)
   * when the forward had no ReLU.
   */
  gradPreActivation: Tensor;
}

/** The GEMM sizes of a forward pass (the 16 words of shaders/conv2d.wgsl.ts's params, less cinv). */
export interface GemmSizes {
  batch: number;
  h: number;
  w: number;
  cin: number;
  ho: number;
  wo: number;
  cols: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  m: number;
  cout: number;
}

/**
 * grad_pre = gradOut · (out > 0) for a fused ReLU (a new tensor), else `gradOut` itself. With `occupied`,
 * only the occupied rows of the leading axis are masked (a bounded dispatch; the rows after the last
 * occupied one are left stale, as in every op that takes `occupied`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { reluGrad } from "./gemm_backward.ts";
 * await getGpu();
 * const g = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const y = tensorFromArray(new Float32Array([0, 1, -1]), [3]);
 * assert.deepStrictEqual(await reluGrad("demo", g, { relu: true, out: y }).read(), new Float32Array([0, 2, 0]));
 * ```
 */
export function reluGrad(
  op: string,
  gradOut: Tensor,
  options: { relu?: boolean; out?: Tensor | null; occupied?: OccupiedRows },
): Tensor {
  const { relu = false, out, occupied } = options;
  if (!relu) return gradOut;
  if (!out) throw new ShapeError(op, `relu needs the forward output (gradOut ${gradOut.describe()})`);
  out.check(op, "out");
  assertDType(op, "out", out, ["f32"]);
  if (out.shape.length !== gradOut.shape.length || out.shape.some((d, i) => d !== gradOut.shape[i])) {
    throw new ShapeError(op, `out ${out.describe()} must match gradOut ${gradOut.describe()}`);
  }
  const gPre = emptyTensor(gradOut.shape);
  const vec4 = gradOut.size % 4 === 0;
  const n = vec4 ? gradOut.size / 4 : gradOut.size;
  if (n === 0) return gPre;
  const rows = gradOut.shape[0];
  const unitsPerRow = n / rows; // vec4 (or scalar) units of one row; whole rows only
  dispatch({ key: `gemm_backward/relu_mask/${vec4 ? "v4" : "s"}`, source: reluMaskWgsl(vec4) }, {
    op,
    tensors: [["gradOut", gradOut], ["out", out], ["gradPre", gPre]],
    params: params(["u32", n]),
    workgroups: Math.ceil(n / WORKGROUP_1D),
    bound: occupied && Number.isInteger(unitsPerRow)
      ? { ...occupied, unitsPerRow, unitsPerWorkgroup: WORKGROUP_1D }
      : undefined,
  });
  return gPre;
}

/**
 * Transposes a packed weight per tap: w `[taps·r1, colsW]` → `[taps·r2, ⌈r1/4⌉·4]` (new tensor).
 *
 * @example Linear weights [in 3, out 4] → [out 4, in 4] (zero-padded column)
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { transposePackedWeight } from "./gemm_backward.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array(12).map((_, i) => i), [3, 4]);
 * console.log((await transposePackedWeight("demo", w, 1, 3, 4).read()).slice(0, 4)); // [0, 4, 8, 0]
 * ```
 */
export function transposePackedWeight(op: string, w: Tensor, taps: number, r1: number, r2: number): Tensor {
  const c2 = Math.ceil(r1 / 4) * 4;
  const colsW = w.shape[1];
  if (colsW % 4 !== 0 || r2 > colsW || w.shape[0] !== taps * r1) {
    throw new ShapeError(op, `packed weight ${w.describe()} is not [${taps}·${r1}, ≥ ${r2} padded to 4]`);
  }
  const wt = emptyTensor([taps * r2, c2]);
  const blocks = taps * Math.ceil(r2 / 4) * (c2 / 4);
  dispatch({ key: "gemm_backward/transpose_weights/4x4", source: TRANSPOSE_WEIGHTS_WGSL }, {
    op,
    tensors: [["weight", w], ["weightT", wt]],
    params: params(["u32", blocks], ["u32", r1], ["u32", r2], ["u32", c2], ["u32", colsW]),
    workgroups: Math.ceil(blocks / WORKGROUP_1D),
  });
  return wt;
}

/**
 * The operand checks every GEMM backward starts with: `x` and `gradOut` live f32 tensors, the packed weight
 * alive, `x` of rank `layout.length` (e.g. "N,H,W,Cin"). Throws typed errors naming `op`.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { checkBackwardOperands } from "./gemm_backward.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(6), [3, 2]);
 * checkBackwardOperands("demo", x, x, x, "R,in"); // passes
 * ```
 */
export function checkBackwardOperands(
  op: string,
  x: Tensor,
  gradOut: Tensor,
  weight: Tensor,
  layout: string,
): void {
  x.check(op, "x");
  gradOut.check(op, "gradOut");
  weight.check(op, "weight");
  assertDType(op, "x", x, ["f32"]);
  assertDType(op, "gradOut", gradOut, ["f32"]);
  assertRank(op, "x", x, layout.split(",").length, layout);
}

/**
 * The step every GEMM backward takes once its shapes are checked: the caller's gradients checked against the
 * packed parameters ({@link checkGrad}), then grad_pre ({@link reluGrad}).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { preActivationGrad } from "./gemm_backward.ts";
 * await getGpu();
 * const g = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const y = tensorFromArray(new Float32Array([1, -1]), [2]);
 * const packed = { weight: tensorFromArray(new Float32Array(4), [4]), bias: null };
 * console.log(await preActivationGrad("demo", g, packed, {}, { relu: true, out: y }).read()); // [1, 0]
 * ```
 */
export function preActivationGrad(
  op: string,
  gradOut: Tensor,
  packed: { weight: Tensor; bias: Tensor | null },
  grads: GemmParamGrads,
  // `occupied` only from the backward passes whose reductions honour it too (conv2d, conv_transpose2d)
  options: GemmBackwardOptions & { occupied?: OccupiedRows },
): Tensor {
  checkGrad(op, "grads.weight", grads.weight, packed.weight);
  checkGrad(op, "grads.bias", grads.bias, packed.bias);
  return reluGrad(op, gradOut, options);
}

/**
 * Checks a caller-provided gradient against the packed parameter it belongs to (ShapeError naming `op`).
 *
 * @example
 * ```ts
 * import { getGpu, emptyTensor } from "./mod.ts";
 * import { checkGrad } from "./gemm_backward.ts";
 * await getGpu();
 * checkGrad("demo", "grads.bias", emptyTensor([8]), emptyTensor([8])); // passes
 * ```
 */
export function checkGrad(op: string, name: string, grad: Tensor | undefined, param: Tensor | null): void {
  if (!grad) return;
  grad.check(op, name);
  assertDType(op, name, grad, ["f32"]);
  if (!param) throw new ShapeError(op, `${name} ${grad.describe()} given but the layer has no bias`);
  if (grad.shape.length !== param.shape.length || grad.shape.some((d, i) => d !== param.shape[i])) {
    throw new ShapeError(op, `${name} ${grad.describe()} must have the packed shape [${param.shape}]`);
  }
}

/**
 * Which weight gradients take the subgroup tile where `SUBGROUP_GEMM` (ops/conv2d.ts) allows it (mutable
 * for tests): GEMMs over at least `minRows` rows that have more than one tap, at most `maxNarrowCols4` vec4
 * columns, or at least `manyRows` rows. Measured on the demo step's shapes (Zen 3, Mesa 25.0.7, GFLOP/s plain →
 * subgroup): 3×3 64→64 @24×24 ×4 7.5 → 10.6, 3×3 64→32 @7×7 ×128 9.1 → 10.0, the 4-column mask predictor
 * over 25,088 rows 32 → 8 ms, the 3- and 12-column RPN heads 5.9 / 4.2 → 0.9 / 1.2 ms, the 2×2 transposed
 * conv over 6,272 rows 14.5 → 7.8 ms; but the wide 1×1 convs lose (256→512 @12×12 ×4 13.6 → 10.1,
 * 64→256 @24×24 ×4 12.7 → 11.3, 16→256 3.8 → 3.1).
 *
 * @example
 * ```ts
 * import { WGRAD_SUBGROUP } from "./gemm_backward.ts";
 * console.log(WGRAD_SUBGROUP.maxNarrowCols4); // 4
 * ```
 */
export const WGRAD_SUBGROUP = { minRows: 256, maxNarrowCols4: 4, manyRows: 4096 };

/**
 * The weight-gradient tile: the `subgroup` tile (rows shared through broadcasts, width = the subgroup size,
 * narrowed by vec4 columns: {@link subgroupTile}) where `SUBGROUP_GEMM` is on for this adapter class, the
 * subgroup size is fixed and {@link WGRAD_SUBGROUP} picks the shape; otherwise the adapter's tile, narrowed
 * by width for few columns.
 */
function wgradTile(cols4: number, m: number, taps: number, subgroups = true): GemmTile {
  const software = softwareGemmTiles();
  const shapeWins = taps > 1 || cols4 <= WGRAD_SUBGROUP.maxNarrowCols4 || m >= WGRAD_SUBGROUP.manyRows;
  if (subgroups && m >= WGRAD_SUBGROUP.minRows && shapeWins) {
    const t = subgroupTile(software ? WGRAD_TILES.subgroup : WGRAD_TILES.hardware, cols4);
    if (t) return t;
  }
  const t = { ...(software ? WGRAD_TILES.software : WGRAD_TILES.hardware) };
  while (t.wx > 2 && t.tn4 * t.wx > cols4) {
    t.wx /= 2;
    t.wy *= 2;
  }
  return t;
}

/**
 * Only the first `count[0]` slots (RoIs) of a batch hold real rows, `slotRows` GEMM rows each (compacted
 * rows: e.g. the positives of the mask head): the parameter-gradient reductions stop there.
 */
export interface RowLimit {
  /** u32 [1] occupied slots, counted on the GPU. */
  count: Tensor;
  /** GEMM rows per slot (Ho·Wo of a conv, H·W of the transposed conv's input). */
  slotRows: number;
}

/**
 * The {@link RowLimit} of a backward pass's occupied rows: one count of compacted rows (the first
 * `counts[0]` slots), `slotRows` GEMM rows per slot; undefined without `occupied`.
 *
 * @example
 * ```ts
 * import { rowLimitOf } from "./gemm_backward.ts";
 * console.log(rowLimitOf("demo", undefined, 196)); // undefined
 * ```
 */
export function rowLimitOf(
  op: string,
  occupied: OccupiedRows | undefined,
  slotRows: number,
): RowLimit | undefined {
  if (!occupied) return undefined;
  if ((occupied.segments ?? 1) !== 1 || (occupied.index ?? 0) !== 0) {
    throw new ShapeError(op, "the occupied rows of a backward pass must be one count of compacted rows");
  }
  return { count: occupied.counts, slotRows };
}

/**
 * Accumulates the weight gradient (Aᵀ·G, A = im2col(x) of the forward GEMM) into `gradWeight`
 * `[kh·kw·cin, cols4·4]` and the column sums of G into `gradBias` (its `repeats` copies of `cout` columns
 * each receive the sum over copies). G is `gPre` read through the forward's store `layout`.
 *
 * @example See ops/conv2d_backward.ts, ops/linear.ts and ops/conv_transpose2d.ts.
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "./gpu.ts";
 * import { emptyTensor, tensorFromArray } from "./tensor.ts";
 * import { fillInPlace } from "./elementwise.ts";
 * import { CONV_STORE } from "../shaders/conv2d.wgsl.ts";
 * import { accumulateParamGrads } from "./gemm_backward.ts";
 * await getGpu();
 * // A linear layer's GEMM: x [2 rows, 3 in], G [2, 4 out] → gradWeight += xᵀ·G [3, 4], gradBias += Σ rows G.
 * const xs = [1, 2, 3, -1, 0.5, 2], gs = [1, 0, -1, 2, 0.5, 1, 1, -2];
 * const x = tensorFromArray(new Float32Array(xs), [2, 3]);
 * const g = tensorFromArray(new Float32Array(gs), [2, 4]);
 * const grads = { weight: fillInPlace(emptyTensor([3, 4]), 0), bias: fillInPlace(emptyTensor([4]), 0) };
 * const sizes = { batch: 1, h: 1, w: 2, ho: 1, wo: 2, kh: 1, kw: 1, stride: 1, pad: 0, m: 2, cin: 3, cols: 4, cout: 4 };
 * accumulateParamGrads("demo", CONV_STORE, x, g, sizes, grads);
 * const w = await grads.weight.read(), b = await grads.bias.read();
 * for (let i = 0; i < 3; i++) {
 *   for (let j = 0; j < 4; j++) {
 *     assert.ok(Math.abs(w[i * 4 + j] - (xs[i] * gs[j] + xs[3 + i] * gs[4 + j])) < 1e-5);
 *   }
 * }
 * assert.deepStrictEqual(b, new Float32Array([1.5, 1, 0, 0]));
 * ```
 */
export function accumulateParamGrads(
  op: string,
  layout: StoreLayout,
  x: Tensor,
  gPre: Tensor,
  s: GemmSizes,
  grads: { weight?: Tensor; bias?: Tensor },
  repeats = 1,
  rowLimit?: RowLimit,
): void {
  if (s.m === 0) return;
  const limit = rowLimit && boundedDispatchEnabled() ? rowLimit : undefined;
  const cols4 = Math.ceil(s.cols / 4);
  const vecX = s.cin % 4 === 0;
  const vecG = s.cols % 4 === 0 && s.cout % 4 === 0;
  const krows = s.kh * s.kw * s.cin;
  const words = (kgroups: number, chunk: number, nsplit: number) =>
    params(
      ...([s.batch, s.h, s.w, s.cin, s.ho, s.wo, s.cols, cols4, s.kh, s.kw, s.stride, s.pad, s.m] as const)
        .map((v) => ["u32", v] as const),
      ["u32", vecX ? s.cin / 4 : 0],
      ["u32", s.cout],
      ["u32", krows],
      ["u32", kgroups],
      ["u32", chunk],
      ["u32", nsplit],
      ["u32", repeats],
      ["u32", limit?.slotRows ?? 0],
    );
  const vname = `${vecX ? "v" : "s"}${vecG ? "v" : "s"}/${layout.name}`;
  if (grads.weight) {
    const kgroups = vecX ? krows / 4 : krows;
    // a tile row is one k-group: 4 consecutive k with vec4 x, else a single k (4× the rows per invocation)
    const sized = (base: GemmTile): GemmTile => ({ ...base, tm: vecX ? base.tm : base.tm * 4 });
    const tilesOf = (t: GemmTile) => [Math.ceil(cols4 / (t.tn4 * t.wx)), Math.ceil(kgroups / (t.tm * t.wy))];
    const tile = sized(wgradTile(cols4, s.m, s.kh * s.kw));
    const [colTiles, rowTiles] = tilesOf(tile);
    const target = currentGpu().info.isFallbackAdapter
      ? WGRAD_SPLIT.softwareTarget
      : WGRAD_SPLIT.targetWorkgroups;
    const maxChunks = Math.min(
      Math.ceil(s.m / WGRAD_SPLIT.minChunk),
      Math.floor(
        Math.min(WGRAD_SPLIT.maxPartialBytes, currentGpu().limits.maxStorageBufferBindingSize) /
          (krows * cols4 * 16),
      ),
      currentGpu().limits.maxComputeWorkgroupsPerDimension,
    );
    // The chunk count (which fixes the order of the sums) comes from the plain tile even where the subgroup
    // tile runs, so the tile choice never changes the result's bits.
    const [plainCols, plainRows] = tilesOf(sized(wgradTile(cols4, s.m, s.kh * s.kw, false)));
    const want = Math.max(Math.ceil(target / (plainCols * plainRows)), Math.ceil(s.m / WGRAD_SPLIT.maxChunk));
    let nsplit = Math.max(1, Math.min(want, maxChunks));
    const chunk = Math.ceil(s.m / nsplit);
    nsplit = Math.ceil(s.m / chunk);
    const direct = nsplit === 1;
    const key = `gemm_backward/wgrad/${
      tile.lanes ? `sg${tile.lanes}/` : ""
    }${tile.tm}x${tile.tn4}/${tile.wx}x${tile.wy}/${vname}/${direct ? "d" : "p"}${limit ? "/limit" : ""}`;
    const partial = direct ? grads.weight : emptyTensor([nsplit, krows, cols4 * 4]);
    dispatch({ key, source: () => wgradWgsl({ tile, vecX, vecG, direct, layout, rowLimit: !!limit }) }, {
      op,
      tensors: [
        ["x", x],
        ["gradOut", gPre],
        [direct ? "gradWeight" : "partial", partial],
        ...(limit ? [["rowLimit", limit.count] as const] : []),
      ],
      params: words(kgroups, chunk, nsplit),
      workgroups: [colTiles, rowTiles, nsplit],
    });
    if (!direct) {
      const n = krows * cols4;
      dispatch({ key: "gemm_backward/wgrad_reduce", source: WGRAD_REDUCE_WGSL }, {
        op,
        tensors: [["partial", partial], ["gradWeight", grads.weight]],
        params: params(["u32", n], ["u32", nsplit]),
        workgroups: Math.ceil(n / WORKGROUP_1D),
      });
      partial.dispose();
    }
  }
  if (grads.bias) {
    let nsplit = Math.max(1, Math.min(Math.ceil(8192 / cols4), Math.ceil(s.m / 16)));
    const chunk = Math.ceil(s.m / nsplit);
    nsplit = Math.ceil(s.m / chunk);
    const partial = emptyTensor([nsplit, cols4 * 4]);
    const p = words(0, chunk, nsplit);
    dispatch({
      key: `gemm_backward/bias_partial/${vname}${limit ? "/limit" : ""}`,
      source: biasPartialWgsl(vecG, layout, !!limit),
    }, {
      op,
      tensors: [
        ["gradOut", gPre],
        ["partial", partial],
        ...(limit ? [["rowLimit", limit.count] as const] : []),
      ],
      params: p,
      workgroups: Math.ceil((nsplit * cols4) / WORKGROUP_1D),
    });
    dispatch({ key: "gemm_backward/bias_reduce", source: BIAS_REDUCE_WGSL }, {
      op,
      tensors: [["partial", partial], ["gradBias", grads.bias]],
      params: p,
      workgroups: Math.ceil(s.cols / WORKGROUP_1D),
    });
    partial.dispose();
  }
}
