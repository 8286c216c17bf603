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
 * - Two kernels, chosen per adapter ({@link FORWARD_KERNEL}): hardware GPUs run the workgroup-memory tiled
 *   GEMM (shaders/conv2d_tiled.wgsl.ts); lavapipe runs the direct register-blocked GEMM without workgroup
 *   memory (shaders/conv2d.wgsl.ts): each invocation owns TM rows × TN4 vec4 columns; 8 lanes along x
 *   share rows and read consecutive weight vec4s. The tile is chosen per adapter ({@link GEMM_TILES}) and
 *   narrowed for few output channels ({@link gemmTile}); on lavapipe the weights are read from a texture
 *   ({@link WEIGHT_TEXTURE}).
 * - Why (Zen 3 AVX2, Mesa 25.0.7, GALLIVM_DEBUG=asm and tools/lavapipe_probe.ts): lavapipe runs 8
 *   invocations as the lanes of a 256-bit vector. Every storage-buffer or workgroup-memory load whose
 *   address is not a compile-time uniform (loop counters and workgroup ids do not count) becomes a loop
 *   over the 8 lanes, each lane an extract, an exec-mask test, a bounds compare and branch, a scalar load
 *   and an insert; `fma` compiles to vmulps + vaddps; accumulators beyond the 16 ymm registers spill to
 *   the stack. So reads per FMA decide the speed, workgroup-memory staging only adds copies (64×64 staged
 *   tiles took 1.5–2× the CPU time of the direct 8×16 tile), and `textureLoad` of rgba32float (vector
 *   texel-fetch code) is the cheapest read there is.
 * - Where the device has `subgroups` with a fixed size (lavapipe: Deno 2.9 grants it on request though the
 *   adapter does not list it; 8 lanes on AVX2), GEMMs with K ≥ 256 share the activations through
 *   `subgroupBroadcast` ({@link SUBGROUP_GEMM}, {@link GemmTile.lanes}): each of the 8 lanes of a row
 *   loads a different vec4 of channels, then every lane takes each from its owner, so one per-lane load
 *   loop fetches 8 useful vec4s instead of 8 copies of one. The weight gradient (ops/gemm_backward.ts)
 *   shares its rows the same way. Each kernel's sums are bit-identical to the plain kernel's, and the
 *   weight gradient's split-K chunks come from the plain tile, so a training step gives the same bits with
 *   or without subgroups (tests/model/training_test.ts).
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
 * Zen 3 (family 25, AVX2, 2 cores shared with other jobs), Mesa 25.0.7, GFLOP per CPU-second
 * (tools/lavapipe_probe.ts GEMM M 4096 K 1024 N 256, and the conv op at 50×76):
 * 8. Probe: 8×16 at 8×8 4.2; 16×16 at 8×4 5.0–5.4; 24×16 4.8; 32×16 4.1; 16×32 4.2; 8×32 4.1; 4×16 2.6.
 *    Lanes along rows with weights "uniform" per workgroup (4×16 at 64×1): 0.8–3.4 (the loads are not
 *    treated as uniform). Workgroup-memory tiles 64×64 (K 16, 4×4 … 8×4 per invocation): 2.0–2.9.
 * 9. Probe, operands through textureLoad: B from a texture 8×16 5.1, 16×16 6.7; A and B 8×16 5.8–7.4,
 *    16×16 7.7–9.0, 32×16 8.3.
 * 10. conv op 3×3 256→256 @50×76: 8×16 buffer 3.3, 16×16 buffer 3.5, 8×16 texture 5.1, 16×16 texture
 *    6.2 (kept); 1×1 1024→256: 3.0 / 2.8 / 4.3 / 4.3. Results bit-identical across these variants.
 * 11. Kept variant vs the previous 8×16 buffer kernel, interleaved in one process: conv 3×3 256→256
 *    @100×152 3.85 → 6.67; fc6 linear 250×12544 → 1024 3.07 → 3.87; conv input gradient 3×3 256→256
 *    @38×50 3.1 → 6.1. torch 1.13 runs the 3×3 conv at ~150 GFLOP/s on the same 2 cores. What is left
 *    (GALLIVM_DEBUG=asm of the probe's 16×16 texture kernel, ~18,600 instructions): vmulps + vaddps are
 *    11 %, accumulator spills and reloads (vmovaps) 18 %, and most of the rest is the per-lane A
 *    (activation) buffer loads: ~1,100 compare-and-branch pairs for 512 lane-elements, plus extracts,
 *    scalar loads and blends. Activations through a texture measured another +15–30 % in the probe (not
 *    done: needs a per-call copy into a 2-D array texture, Cin % 64 == 0).
 * @module
 */
import {
  CONV_STORE,
  GEMM_FLAGS,
  type GemmTile,
  type ImplicitGemmOptions,
  implicitGemmWgsl,
} from "../shaders/conv2d.wgsl.ts";
import { type TiledGemmTile, tiledGemmWgsl } from "../shaders/conv2d_tiled.wgsl.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { currentGpu, softwareGemmTiles } from "./gpu.ts";
import { dispatch, type DispatchSpec, type Kernel, type OccupiedRows, params } from "./kernel.ts";
import { emptyTensor, keep, type Tensor, tensorFromArray } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * Direct-kernel GEMM tiles, chosen per adapter (tile sizes are constants of the source; runtime sizes are
 * params); the conv input gradient uses them too. `hardware`: 4 rows × 16 channels per invocation, 8×8
 * invocations (a 32×128 output tile per workgroup): lanes along x share their rows (one broadcast A load)
 * and read consecutive vec4 weight columns (coalesced), 64 accumulator floats per thread. `software`
 * (lavapipe, AVX2 8-lane SIMD across invocations): 16 rows × 16 channels at 8×4 (a 64×128 tile), 0.125
 * loads per FMA; see the header.
 */
/**
 * @example
 * ```ts
 * import { GEMM_TILES } from "./conv2d.ts";
 * console.log(GEMM_TILES.software.tm * GEMM_TILES.software.wy); // 64 rows per workgroup
 * ```
 */
export const GEMM_TILES: { software: GemmTile; subgroup: GemmTile; hardware: GemmTile } = {
  software: { tm: 16, tn4: 4, wx: 8, wy: 4 },
  subgroup: { tm: 16, tn4: 2, wx: 8, wy: 4 },
  hardware: { tm: 4, tn4: 4, wx: 8, wy: 8 },
};

/**
 * Whether the direct GEMM kernels share A through subgroup broadcasts ({@link GemmTile.lanes}) where the
 * device has `subgroups` with a fixed size, per adapter class (mutable so tests run both paths). On
 * lavapipe (software) the `subgroup` tile then replaces the `software` one, its workgroup width set to the
 * subgroup size, for GEMMs whose reduction length K (taps × channels) is at least `minK`. Same sums bit for
 * bit as the plain kernels (see the header).
 * Measured (Zen 3, Mesa 25.0.7, GFLOP/s, plain 16×16 tile → subgroup 16×8): conv 3×3 256→256 @100×152
 * 14.7 → 19.1, its input gradient 14.6 → 20.1; 1×1 256→512 @12×12 ×4 7.3 → 8.4; 3×3 64→64 @24×24 ×4
 * 8.1 → 8.6, input gradient 7.9 → 9.9; but K = 64 (1×1 64→256 @48×48 ×4) 7.1 → 5.2, hence `minK`.
 * K = 128 gains (family 26 / AVX-512, Mesa 25.0.7, process CPU ms of the box head's fc6 input gradient,
 * 2048 × 128 → 3136, alternated: 175 / 156 plain → 131 / 140 subgroup), so `minK` is 128; K = 64 (1×1
 * 64→256 @40×14×14) was even there (33.5 / 30.7 → 32.3 / 33.2).
 *
 * @example
 * ```ts
 * import { SUBGROUP_GEMM } from "./conv2d.ts";
 * console.log(SUBGROUP_GEMM.software, SUBGROUP_GEMM.hardware); // true false
 * ```
 */
export const SUBGROUP_GEMM: { software: boolean; hardware: boolean; minK: number } = {
  software: true,
  hardware: false,
  minK: 128,
};

/**
 * The tile for the current adapter and a GEMM of `cols4` vec4 columns: narrow outputs (the 64-channel
 * stem, 3-anchor RPN logits) trade workgroup width for height, so fewer lanes compute clamped duplicate
 * columns (x stays ≥ 2: one-lane-wide workgroups measured 4× slower on lavapipe). With `k` (the reduction
 * length) at least {@link SUBGROUP_GEMM}`.minK` and a fixed subgroup size, the subgroup tile instead
 * (narrowed by vec4 columns, its width stays the subgroup).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { gemmTile } from "./conv2d.ts";
 * await getGpu();
 * console.log(gemmTile(16)); // the stem's 64 channels
 * ```
 */
export function gemmTile(cols4: number, options: { k?: number; rows?: number } = {}): GemmTile {
  const software = softwareGemmTiles();
  if ((options.k ?? Infinity) >= SUBGROUP_GEMM.minK) {
    const t = subgroupTile(software ? GEMM_TILES.subgroup : GEMM_TILES.hardware, cols4);
    if (t) return fitRows(t, options.rows);
  }
  const t = { ...(software ? GEMM_TILES.software : GEMM_TILES.hardware) };
  while (t.wx > 2 && t.tn4 * t.wx > cols4) {
    t.wx /= 2;
    t.wy *= 2;
  }
  // then fewer vec4 columns per invocation while half of them still cover the output (the RPN heads' 3 and
  // 12 columns ran at 41 % tile use with 4 vec4 columns × 2 lanes)
  while (t.tn4 > 1 && (t.tn4 / 2) * t.wx >= cols4) t.tn4 /= 2;
  return fitRows(t, options.rows);
}

/**
 * Whether {@link gemmTile} fits full-width tiles (8 lanes wide) to the GEMM's row count: one invocation row
 * fewer (`wy` − 1) where the default rows would leave at least a quarter of the launched rows clamped and
 * the shorter workgroup leaves fewer (layer4 of the demo model: 36 rows ran in a 64-row tile, 56 % tile use,
 * now 48; layer3's 144 rows in three of 64, now three of 48). One smaller height per tile only: each
 * variant is another kernel for lavapipe to compile on a machine's first run (5–40 s each on Zen 3; fitting
 * every tile to every row count added 18 kernels and ~2 minutes to the demo's cold start). Every output
 * element sums the same products in the same order, so the results are the same bits either way (mutable
 * so tests compare both).
 *
 * @example
 * ```ts
 * import { FIT_ROWS } from "./conv2d.ts";
 * console.log(FIT_ROWS.enabled); // true
 * ```
 */
export const FIT_ROWS: { enabled: boolean } = { enabled: true };

/** `t` fitted to `rows` output rows per {@link FIT_ROWS}. */
function fitRows(t: GemmTile, rows: number | undefined): GemmTile {
  if (!FIT_ROWS.enabled || rows === undefined || rows <= 0 || t.wx !== 8 || t.wy < 2) return t;
  const launched = (wy: number) => Math.ceil(rows / (t.tm * wy)) * t.tm * wy;
  if (launched(t.wy) * 3 < rows * 4) return t; // under a quarter clamped
  return launched(t.wy - 1) < launched(t.wy) ? { ...t, wy: t.wy - 1 } : t;
}

/**
 * `base` as a subgroup tile for a GEMM of `cols4` vec4 columns, or null where {@link SUBGROUP_GEMM} is off
 * for this adapter class or the device has no fixed subgroup size of 4–16 lanes. The subgroup must be one
 * workgroup row, so the width is the subgroup size; narrow outputs drop vec4 columns instead. Shared by
 * {@link gemmTile} and the weight gradient's tile (ops/gemm_backward.ts).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { GEMM_TILES, subgroupTile } from "./conv2d.ts";
 * await getGpu();
 * console.log(subgroupTile(GEMM_TILES.subgroup, 4)); // { tm: 16, tn4: 1, wx: 8, wy: 4, lanes: 8 } on lavapipe
 * ```
 */
export function subgroupTile(base: GemmTile, cols4: number): GemmTile | null {
  const lanes = currentGpu().info.subgroupSize;
  if (!SUBGROUP_GEMM[softwareGemmTiles() ? "software" : "hardware"] || lanes === null) return null;
  if (lanes < 4 || lanes > 16) return null;
  const t: GemmTile = { ...base, wx: lanes, lanes };
  while (t.tn4 > 1 && t.tn4 * t.wx > cols4) t.tn4 /= 2;
  return t;
}

/**
 * Which forward kernel each adapter runs: `direct` (register tiles fed straight from storage buffers,
 * {@link GEMM_TILES}) or `tiled` (workgroup-memory tiling, {@link TILED_GEMM_TILE}). lavapipe runs the
 * direct kernel: its workgroup-memory loads are scalarized per lane just like storage loads, so staging
 * only adds copies and barriers (tools/lavapipe_probe.ts: 64×64 staged tiles took 1.5–2× the CPU time of
 * the 8×16 direct tile). Hardware GPUs run the tiled kernel. Tests flip this to run both on any adapter.
 *
 * @example
 * ```ts
 * import { FORWARD_KERNEL } from "./conv2d.ts";
 * console.log(FORWARD_KERNEL.software, FORWARD_KERNEL.hardware); // direct tiled
 * ```
 */
export const FORWARD_KERNEL: { software: "direct" | "tiled"; hardware: "direct" | "tiled" } = {
  software: "direct",
  hardware: "tiled",
};

/**
 * The workgroup-memory tile: 16×16 invocations of 4 rows × 1 vec4 column (a 64×64 output tile, 16
 * accumulator floats per invocation), K staged 16 at a time: per K step every invocation copies one vec4
 * of A and one of B, then reads 4 + 16 vec4 of workgroup memory for 64 FMAs.
 *
 * @example
 * ```ts
 * import { TILED_GEMM_TILE } from "./conv2d.ts";
 * console.log(TILED_GEMM_TILE.tm * TILED_GEMM_TILE.wy); // 64 rows per workgroup
 * ```
 */
export const TILED_GEMM_TILE: TiledGemmTile = { tm: 4, tn4: 1, wx: 16, wy: 16, bk: 16 };

/**
 * The workgroup-memory tile for `cols4` vec4 columns: narrow outputs (the 3-anchor RPN logits) shrink the
 * workgroup width and grow its height up to 32 (at most 128 rows, so the A tile stays within 8 KiB).
 *
 * @example
 * ```ts
 * import { tiledTile } from "./conv2d.ts";
 * console.log(tiledTile(1)); // { tm: 4, tn4: 1, wx: 1, wy: 32, bk: 16 }
 * ```
 */
export function tiledTile(cols4: number): TiledGemmTile {
  const t = { ...TILED_GEMM_TILE };
  while (t.wx > 1 && t.tn4 * t.wx >= 2 * cols4) {
    t.wx /= 2;
    if (t.wy < 32) t.wy *= 2;
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
  /** Only these rows of the batch hold real work (RoI slots counted on the GPU); the rest are left stale. */
  occupied?: OccupiedRows;
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
 * Whether the GEMM kernels take their epilogue (bias, residual, ReLU) from the params' flags at run time
 * (one compiled kernel per tile, vector widths and store layout) instead of one kernel per combination
 * (mutable, so tests run both). lavapipe compiles each unrolled GEMM variant for 5–25 s on first use (Zen 3,
 * Mesa 25.0.7, an empty shader cache): the demo's first step compiled 17 forward variants of which 8
 * differed only in their epilogue. The flag tests are uniform branches after the K loop; the sums are the
 * same bits.
 *
 * @example
 * ```ts
 * import { RUNTIME_EPILOGUE } from "./conv2d.ts";
 * console.log(RUNTIME_EPILOGUE.enabled); // true
 * ```
 */
export const RUNTIME_EPILOGUE = { enabled: true };

const epilogueDummies = new WeakMap<object, Tensor>();

/** A 16-byte zero tensor bound where a runtime epilogue's bias or residual is unused. */
function epilogueDummy(): Tensor {
  const gpu = currentGpu();
  let t = epilogueDummies.get(gpu);
  if (!t || t.disposed) epilogueDummies.set(gpu, t = keep(tensorFromArray(new Float32Array(4), [4])));
  return t;
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
  occupied?: OccupiedRows,
  gemmRowsPerSlot = sizes.m / sizes.batch,
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
  const tiled = FORWARD_KERNEL[currentGpu().info.isFallbackAdapter ? "software" : "hardware"] === "tiled";
  const t: TiledGemmTile = tiled
    ? tiledTile(cols4)
    : { ...gemmTile(cols4, { k: s.kh * s.kw * s.cin, rows: s.m }), bk: 0 };
  const texture = tiled ? null : weightTexture(packedWeight, cols4);
  const runtimeEpilogue = RUNTIME_EPILOGUE.enabled;
  const opts: ImplicitGemmOptions = {
    ...variant,
    tile: t,
    vecIn,
    vecOut,
    texB: texture !== null,
    runtimeEpilogue,
  };
  const epilogueKey = runtimeEpilogue
    ? "e"
    : `${variant.bias ? "b" : ""}${variant.residual ? "r" : ""}${variant.relu ? "relu" : ""}`;
  const key =
    `conv2d/gemm/${tiled ? `tiled${t.bk}/` : ""}${texture ? "texB/" : ""}${
      t.lanes ? `sg${t.lanes}/` : ""
    }${t.tm}x${t.tn4}/${t.wx}x${t.wy}/${vecIn ? "v" : "s"}${vecOut ? "v" : "s"}/` +
    `${epilogueKey}/${variant.store.name}`;
  const colTiles = Math.ceil(cols4 / (t.tn4 * t.wx));
  const rowTiles = Math.ceil(s.m / (t.tm * t.wy));
  const maxDim = currentGpu().limits.maxComputeWorkgroupsPerDimension;
  const z = Math.ceil(rowTiles / maxDim);
  const tensors: [string, Tensor][] = [["x", x], ["weight", packedWeight]];
  if (bias && variant.bias) tensors.push(["bias", bias]);
  else if (runtimeEpilogue) tensors.push(["bias (unused)", epilogueDummy()]);
  if (residual && variant.residual) tensors.push(["residual", residual]);
  else if (runtimeEpilogue) tensors.push(["residual (unused)", epilogueDummy()]);
  tensors.push(["out", out]);
  const flags = (variant.bias ? GEMM_FLAGS.bias : 0) | (variant.residual ? GEMM_FLAGS.residual : 0) |
    (variant.relu ? GEMM_FLAGS.relu : 0);
  const kernel = {
    key,
    source: () => tiled ? tiledGemmWgsl({ ...opts, tile: t }) : implicitGemmWgsl(opts),
  };
  const spec = {
    op,
    tensors,
    params: params(
      ...([s.batch, s.h, s.w, s.cin, s.ho, s.wo, s.cols, cols4, s.kh, s.kw, s.stride, s.pad, s.m] as const)
        .map((v) => ["u32", v] as const),
      ["u32", vecIn ? s.cin / 4 : 0],
      ["u32", s.cout],
      ["u32", flags],
    ),
    workgroups: [colTiles, Math.ceil(rowTiles / z), z] as const,
    // occupied rows (RoI slots): only the row tiles up to the last occupied row run (grid y, unfolded)
    bound: occupied && z === 1
      ? { ...occupied, unitsPerRow: gemmRowsPerSlot, unitsPerWorkgroup: t.tm * t.wy, axis: 1 as const }
      : undefined,
  };
  if (texture) dispatchWithWeightTexture(kernel, spec, 1, texture);
  else dispatch(kernel, spec);
}

/**
 * Dispatches like `dispatch` (ops/kernel.ts), except that the tensor at `index` of `spec.tensors` (a
 * packed weight `[K, cols4·4]`) is first copied into `texture` (from {@link weightTexture}) and bound as
 * that texture. The copy is ordered before the dispatch in the same command stream, so one scratch
 * texture per shape can serve every layer of that shape, and weights updated by training are never stale.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { weightTexture } from "./conv2d.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array(9 * 64), [9, 64]);
 * console.log(weightTexture(w, 16) !== null); // true on lavapipe
 * ```
 */
export function dispatchWithWeightTexture(
  kernel: Kernel,
  spec: DispatchSpec,
  index: number,
  texture: GPUTexture,
): void {
  dispatch(kernel, { ...spec, weightTexture: { index, texture } });
}

/**
 * Whether the direct kernel reads the packed weights through an rgba32float texture, per adapter (mutable
 * so tests run both paths). On lavapipe `textureLoad` is fetched with vector code while every storage
 * load is a per-lane loop with a bounds check: tools/lavapipe_probe.ts measured the 8×16 GEMM at 4.2
 * GFLOP per CPU-second from buffers, 5.1 with B from a texture, 6.7 with B from a texture and a 16×16
 * register tile (Zen 3, Mesa 25.0.7). Hardware GPUs read buffers.
 *
 * @example
 * ```ts
 * import { WEIGHT_TEXTURE } from "./conv2d.ts";
 * console.log(WEIGHT_TEXTURE.software, WEIGHT_TEXTURE.hardware); // true false
 * ```
 */
export const WEIGHT_TEXTURE: { software: boolean; hardware: boolean } = { software: true, hardware: false };

const scratchTextures = new WeakMap<object, Map<string, GPUTexture>>();

/**
 * The scratch weight texture for a packed weight `[K, cols4·4]`, or null where the buffer path runs:
 * textures off for this adapter, rows not a multiple of 256 bytes (copies need it: cols % 64 != 0, e.g.
 * the RPN and predictor heads), or K beyond `maxTextureDimension2D`.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { weightTexture } from "./conv2d.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * console.log(weightTexture(tensorFromArray(new Float32Array(9 * 12), [9, 12]), 3)); // null: 12 columns
 * ```
 */
export function weightTexture(packedWeight: Tensor, cols4: number): GPUTexture | null {
  const gpu = currentGpu();
  // the "software" setting is lavapipe's (softwareGemmTiles); a browser's fallback adapter reads buffers
  if (!WEIGHT_TEXTURE[softwareGemmTiles() ? "software" : "hardware"]) return null;
  const [k, colsW] = packedWeight.shape;
  const maxDim = gpu.limits.maxTextureDimension2D;
  if (colsW !== cols4 * 4 || colsW % 64 !== 0 || k > maxDim || cols4 > maxDim) return null;
  if (packedWeight.byteOffset % 16 !== 0) return null;
  let cache = scratchTextures.get(gpu);
  if (!cache) scratchTextures.set(gpu, cache = new Map());
  const key = `${k}x${cols4}`;
  let texture = cache.get(key);
  if (!texture) {
    texture = gpu.device.createTexture({
      label: `conv2d weight texture ${key}`,
      size: [cols4, k],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
    });
    cache.set(key, texture);
  }
  return texture;
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
    options.occupied,
  );
  return out;
}
