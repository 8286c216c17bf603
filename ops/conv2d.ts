/**
 * 2-D convolution on NHWC activations as an implicit GEMM (shaders/conv2d.wgsl.ts), with a fused epilogue
 * (bias, residual add, ReLU), weight packing at load time and torchvision FrozenBatchNorm2d folding.
 *
 * Decisions:
 * - Weights are packed ONCE from torch's `[Cout, Cin, kh, kw]` into `[kh, kw, Cin, Cout4·4]` (K-major,
 *   output channels innermost, zero-padded to a multiple of 4) so the kernel reads vec4 along Cout; the
 *   bias is padded the same way. Cin/Cout that are not multiples of 4 (the 3-channel stem, odd test
 *   channels) take the scalar-input / scalar-store variants of the same kernel.
 * - Runtime sizes (batch, map size, channels, kernel size, stride, padding) are params: one pipeline per
 *   (vector widths, epilogue flags), never per shape.
 * - Register-blocked implicit GEMM without workgroup memory (shaders/conv2d.wgsl.ts): each invocation owns
 *   TM rows × TN4 vec4 columns; 8 lanes along x share rows and read consecutive weight vec4s. The tile is
 *   chosen per adapter ({@link GEMM_TILES}) and narrowed for few output channels ({@link gemmTile}).
 * - Batches whose tensors exceed `maxStorageBufferBindingSize` throw LimitError (not split yet).
 *
 * Experiments (lavapipe, 2 cores shared with other jobs, so besides wall-clock GFLOP/s the process CPU time
 * was used: "cpu" = FLOP / (CPU seconds / 2)). Small shape 3×3 256→256 at 50×76 unless noted;
 * tiles written rows×channels per invocation, workgroup x×y:
 * 1. 4×16, 1×64 (weights uniform per workgroup, meant as scalar loads): 1.4–1.8 wall, 6.5 cpu; at the
 *    full 200×304 shape 4.9 GFLOP/s.
 * 2. 4×16, 8×8: 11.0 wall on a quiet moment, 18.7 cpu. 4×8: 17.4 cpu; 2×16: 10.4; 2×8: 9.9; 4×32: 23.
 * 3. 8×16, 8×8: 26–31 cpu (best); 8×16 at 16×4: 30.9; at 8×16: 30.4; 16×16: 29.9; 8×32: 24.2;
 *    16×8: 23.9. Kept 8×16 at 8×8 for lavapipe; real GPUs get 4×16 at 8×8 (64 accumulators).
 * 4. 8×16 with the channel loop unrolled ×2: 20–21 cpu (worse; reverted).
 * 5. Full shape with 3: 10.95 GFLOP/s wall (load average 5.6), 1×1 1024→256 at 50×76: 9.6, 3×3 s2
 *    128→128: 10.4, 7×7 s2 stem: 3.5.
 * 6. Narrow tile for ≤ 64 output channels (x 8→4, y 8→16): stem 3.5 → 4.5 GFLOP/s.
 * 7. Row tiles along grid x instead of column tiles (consecutive workgroups share weight columns): 1×1
 *    1024→256 10.8 → 9.7, fc6 linear (1000×12544 → 1024) 5.1 → 3.7 GFLOP/s (worse; reverted).
 * @module
 */
import {
  CONV_STORE,
  type GemmTile,
  type ImplicitGemmOptions,
  implicitGemmWgsl,
} from "../shaders/conv2d.wgsl.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { currentGpu, softwareGemmTiles } from "./gpu.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tensorFromArray } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * GEMM tiles, chosen per adapter (tile sizes are constants of the source; runtime sizes are params).
 * `hardware`: 4 rows × 16 channels per invocation, 8×8 invocations (a 32×128 output tile per workgroup):
 * lanes along x share their rows (one broadcast A load) and read consecutive vec4 weight columns
 * (coalesced), 64 accumulator floats per thread. `software` (lavapipe, AVX2 8-lane SIMD across
 * invocations): 8 rows × 16 channels (a 64×128 tile), which halves the loads per FMA; see the header.
 */
/**
 * @example
 * ```ts
 * import { GEMM_TILES } from "./conv2d.ts";
 * console.log(GEMM_TILES.software.tm * GEMM_TILES.software.wy); // 64 rows per workgroup
 * ```
 */
export const GEMM_TILES: { software: GemmTile; hardware: GemmTile } = {
  software: { tm: 8, tn4: 4, wx: 8, wy: 8 },
  hardware: { tm: 4, tn4: 4, wx: 8, wy: 8 },
};

/**
 * The tile for the current adapter and a GEMM of `cols4` vec4 columns: narrow outputs (the 64-channel
 * stem, 3-anchor RPN logits) trade workgroup width for height, so fewer lanes compute clamped duplicate
 * columns (x stays ≥ 2: one-lane-wide workgroups measured 4× slower on lavapipe).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { gemmTile } from "./conv2d.ts";
 * await getGpu();
 * console.log(gemmTile(16)); // the stem's 64 channels
 * ```
 */
export function gemmTile(cols4: number): GemmTile {
  const t = { ...(softwareGemmTiles() ? GEMM_TILES.software : GEMM_TILES.hardware) };
  while (t.wx > 2 && t.tn4 * t.wx > cols4) {
    t.wx /= 2;
    t.wy *= 2;
  }
  return t;
}

/** Conv weights packed for {@link conv2d} by {@link packConv2dWeights}. */
export interface PackedConv2d {
  /** `[kh·kw·Cin, Cout4·4]` f32: K-major, output channels innermost, zero-padded columns. */
  weight: Tensor;
  /** `[Cout4·4]` f32 (zero-padded), or null when the conv has no bias. */
  bias: Tensor | null;
  cout: number;
  cin: number;
  kh: number;
  kw: number;
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride along both axes (default 1). */
  stride?: number;
  /** Zero padding on every side (default 0). */
  padding?: number;
  /** Added after the bias, before ReLU; shaped like the output `[N, Ho, Wo, Cout]`. */
  residual?: Tensor;
  /** Apply ReLU last (default false). */
  relu?: boolean;
}

/**
 * Packs torch conv weights `[Cout, Cin, kh, kw]` (and an optional bias `[Cout]`) into GPU tensors for
 * {@link conv2d}. Call once at load time; dispose `weight` and `bias` when done.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { packConv2dWeights } from "./conv2d.ts";
 * await getGpu();
 * const packed = packConv2dWeights(new Float32Array(8 * 3 * 3 * 3).fill(0.1), [8, 3, 3, 3]);
 * console.log(packed.weight.shape); // [27, 8]
 * ```
 */
export function packConv2dWeights(
  torchWeight: Float32Array, // [Cout, Cin, kh, kw]
  shape: readonly [cout: number, cin: number, kh: number, kw: number],
  bias?: Float32Array, // [Cout]
): PackedConv2d {
  const [cout, cin, kh, kw] = shape;
  if (torchWeight.length !== cout * cin * kh * kw) {
    throw new ShapeError("packConv2dWeights", `weight has ${torchWeight.length} elements, not [${shape}]`);
  }
  if (bias && bias.length !== cout) {
    throw new ShapeError("packConv2dWeights", `bias [${bias.length}] does not match Cout ${cout}`);
  }
  const cols = Math.ceil(cout / 4) * 4;
  const packed = new Float32Array(kh * kw * cin * cols);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          packed[((y * kw + x) * cin + ci) * cols + co] = torchWeight[((co * cin + ci) * kh + y) * kw + x];
        }
      }
    }
  }
  return {
    weight: tensorFromArray(packed, [kh * kw * cin, cols]),
    bias: bias ? tensorFromArray(padTo(bias, cols), [cols]) : null,
    cout,
    cin,
    kh,
    kw,
  };
}

/**
 * `values` copied into a zero-filled array of `length`.
 *
 * @example
 * ```ts
 * import { padTo } from "./conv2d.ts";
 * console.log(padTo(new Float32Array([1, 2, 3]), 4)); // [1, 2, 3, 0]
 * ```
 */
export function padTo(values: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(values);
  return out;
}

/**
 * Folds torchvision's `FrozenBatchNorm2d` into the preceding conv: with `scale = bnWeight / sqrt(runningVar
 * + eps)`, weight'[co] = weight[co]·scale[co] and bias' = (bias − runningMean)·scale + bnBias. Weights are
 * torch-layout `[Cout, ...]`; returns new arrays (pack them with {@link packConv2dWeights}).
 *
 * @example
 * ```ts
 * import { foldFrozenBatchNorm } from "./conv2d.ts";
 * const one = new Float32Array([1]);
 * const f = foldFrozenBatchNorm(new Float32Array([2]), undefined, one, new Float32Array([0.5]),
 *   new Float32Array([1]), new Float32Array([3]), 1);
 * console.log(f.weight[0], f.bias[0]); // 1 0
 * ```
 */
export function foldFrozenBatchNorm(
  weight: Float32Array, // [Cout, Cin, kh, kw]
  bias: Float32Array | undefined, // [Cout]
  bnWeight: Float32Array, // [Cout]
  bnBias: Float32Array, // [Cout]
  runningMean: Float32Array, // [Cout]
  runningVar: Float32Array, // [Cout]
  eps = 1e-5, // torchvision 0.14 FrozenBatchNorm2d default
): { weight: Float32Array; bias: Float32Array } {
  const cout = bnWeight.length;
  for (const [name, a] of [["bnBias", bnBias], ["runningMean", runningMean], ["runningVar", runningVar]]) {
    if ((a as Float32Array).length !== cout) {
      throw new ShapeError("foldFrozenBatchNorm", `${name} [${(a as Float32Array).length}] ≠ Cout ${cout}`);
    }
  }
  if (weight.length % cout !== 0 || (bias && bias.length !== cout)) {
    throw new ShapeError("foldFrozenBatchNorm", `weight [${weight.length}] / bias do not match Cout ${cout}`);
  }
  const per = weight.length / cout;
  const outW = new Float32Array(weight.length);
  const outB = new Float32Array(cout);
  for (let co = 0; co < cout; co++) {
    const scale = Math.fround(bnWeight[co] / Math.sqrt(Math.fround(runningVar[co] + eps)));
    for (let i = 0; i < per; i++) outW[co * per + i] = weight[co * per + i] * scale;
    outB[co] = ((bias ? bias[co] : 0) - runningMean[co]) * scale + bnBias[co];
  }
  return { weight: outW, bias: outB };
}

/**
 * Dispatches the implicit-GEMM kernel into `out`; shared by conv2d, linear and conv_transpose2d (which
 * check their arguments first). `sizes.cols` is the GEMM's column count, `ho`/`wo` the map the rows walk.
 *
 * @example A 1×1 conv written by hand (what `linear` does)
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { emptyTensor, tensorFromArray } from "./tensor.ts";
 * import { CONV_STORE } from "../shaders/conv2d.wgsl.ts";
 * import { runImplicitGemm } from "./conv2d.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([1, 2]), [1, 2]);
 * const w = tensorFromArray(new Float32Array([1, 0, 0, 0, 1, 0, 0, 0]), [2, 4]); // [K 2, cols 4]
 * const out = emptyTensor([1, 1]);
 * runImplicitGemm("demo", { bias: false, residual: false, relu: false, store: CONV_STORE }, x, w, null,
 *   undefined, out, { batch: 1, h: 1, w: 1, cin: 2, ho: 1, wo: 1, cols: 1, kh: 1, kw: 1, stride: 1,
 *   pad: 0, m: 1, cout: 1 });
 * console.log(await out.read()); // [3]
 * ```
 */
export function runImplicitGemm(
  op: string,
  variant: Omit<ImplicitGemmOptions, "tile" | "vecIn" | "vecOut">,
  x: Tensor,
  packedWeight: Tensor,
  bias: Tensor | null,
  residual: Tensor | undefined,
  out: Tensor,
  sizes: {
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
  },
): void {
  const s = sizes;
  if (s.m === 0 || s.cols === 0) return;
  const limit = currentGpu().limits.maxStorageBufferBindingSize;
  for (
    const [name, t] of [["x", x], ["weight", packedWeight], ["residual", residual], ["out", out]] as const
  ) {
    if (t && t.byteLength > limit) {
      throw new LimitError(
        op,
        `${name} ${t.describe()} is ${t.byteLength} bytes > maxStorageBufferBindingSize ${limit} ` +
          `(x ${x.describe()}, weight ${packedWeight.describe()}, out ${out.describe()}); split the batch`,
      );
    }
  }
  const vecIn = s.cin % 4 === 0;
  const vecOut = s.cols % 4 === 0 && s.cout % 4 === 0;
  const cols4 = Math.ceil(s.cols / 4);
  const t = gemmTile(cols4);
  const opts: ImplicitGemmOptions = { ...variant, tile: t, vecIn, vecOut };
  const key = `conv2d/gemm/${t.tm}x${t.tn4}/${t.wx}x${t.wy}/${vecIn ? "v" : "s"}${vecOut ? "v" : "s"}/` +
    `${variant.bias ? "b" : ""}${variant.residual ? "r" : ""}${
      variant.relu ? "relu" : ""
    }/${variant.store.name}`;
  const colTiles = Math.ceil(cols4 / (t.tn4 * t.wx));
  const rowTiles = Math.ceil(s.m / (t.tm * t.wy));
  const maxDim = currentGpu().limits.maxComputeWorkgroupsPerDimension;
  const z = Math.ceil(rowTiles / maxDim);
  const tensors: [string, Tensor][] = [["x", x], ["weight", packedWeight]];
  if (bias) tensors.push(["bias", bias]);
  if (residual) tensors.push(["residual", residual]);
  tensors.push(["out", out]);
  dispatch({ key, source: implicitGemmWgsl(opts) }, {
    op,
    tensors,
    params: params(
      ...([s.batch, s.h, s.w, s.cin, s.ho, s.wo, s.cols, cols4, s.kh, s.kw, s.stride, s.pad, s.m] as const)
        .map((v) => ["u32", v] as const),
      ["u32", vecIn ? s.cin / 4 : 0],
      ["u32", s.cout],
    ),
    workgroups: [colTiles, Math.ceil(rowTiles / z), z],
  });
}

/**
 * Convolution with zero padding, dilation 1, groups 1, and the fused epilogue
 * `relu?((conv(x) + bias) + residual)`.
 * x: [N, H, W, Cin] f32 → [N, Ho, Wo, Cout], Ho = ⌊(H + 2·pad − kh) / stride⌋ + 1.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { conv2d, packConv2dWeights } from "./conv2d.ts";
 * await getGpu();
 * const w = packConv2dWeights(new Float32Array(4 * 3 * 9).fill(0.1), [4, 3, 3, 3]);
 * const x = tensorFromArray(new Float32Array(1 * 5 * 5 * 3).fill(1), [1, 5, 5, 3]);
 * console.log(conv2d(x, w, { padding: 1, relu: true }).shape); // [1, 5, 5, 4]
 * ```
 */
export function conv2d(x: Tensor, packed: PackedConv2d, options: Conv2dOptions = {}): Tensor {
  const op = "conv2d";
  const { stride = 1, padding = 0, residual, relu = false } = options;
  x.check(op, "x");
  packed.weight.check(op, "weight");
  assertDType(op, "x", x, ["f32"]);
  assertRank(op, "x", x, 4, "N,H,W,Cin");
  const [batch, h, w, cin] = x.shape;
  const { cout, kh, kw } = packed;
  const wdesc = `weight [Cout ${cout}, Cin ${packed.cin}, ${kh}, ${kw}]`;
  if (cin !== packed.cin) throw new ShapeError(op, `x ${x.describe()} has Cin ${cin} but ${wdesc}`);
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(padding) || padding < 0) {
    throw new ShapeError(op, `invalid stride ${stride} / padding ${padding}`);
  }
  const ho = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const wo = Math.floor((w + 2 * padding - kw) / stride) + 1;
  if (ho < 1 || wo < 1) throw new ShapeError(op, `x ${x.describe()} is smaller than the ${kh}×${kw} kernel`);
  const outShape = [batch, ho, wo, cout];
  if (residual) {
    residual.check(op, "residual");
    assertDType(op, "residual", residual, ["f32"]);
    if (residual.shape.length !== 4 || residual.shape.some((d, i) => d !== outShape[i])) {
      throw new ShapeError(
        op,
        `residual ${residual.describe()} must match the output [${outShape}] (x ${x.describe()}, ${wdesc})`,
      );
    }
  }
  const out = emptyTensor(outShape);
  runImplicitGemm(
    op,
    { bias: packed.bias !== null, residual: residual !== undefined, relu, store: CONV_STORE },
    x,
    packed.weight,
    packed.bias,
    residual,
    out,
    { batch, h, w, cin, ho, wo, cols: cout, kh, kw, stride, pad: padding, m: batch * ho * wo, cout },
  );
  return out;
}
