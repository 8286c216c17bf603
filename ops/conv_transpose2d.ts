/**
 * ConvTranspose2d with a 2×2 kernel and stride 2 (no padding), as torchvision's mask head upsampler
 * `MaskRCNNPredictor.conv5_mask`, with optional fused ReLU. NHWC.
 *
 * With kernel = stride = 2 the output pixels never overlap: out[n, 2y+dy, 2x+dx, co] = b[co] +
 * Σ_ci x[n, y, x, ci] · W[ci, co, dy, dx]. That is one GEMM, M = N·H·W input pixels, K = Cin, columns =
 * (dy, dx, co) = 4·Cout, whose result is scattered to the 2×2 output block of each pixel. It runs on the
 * implicit-GEMM kernel of ops/conv2d.ts with the `transpose2x2` store (shaders/conv_transpose2d.wgsl.ts
 * documents the layout). The weights `[Cin, Cout, 2, 2]` are packed once into `[Cin, 2, 2, Cout]`.
 *
 * Backward ({@link convTranspose2dBackward}): grad_x[n, y, x, ci] = Σ_{dy, dx, co} g[n, 2y+dy, 2x+dx, co] ·
 * W[ci, co, dy, dx] is a plain 2×2 stride-2 conv2d of grad_pre with the packed weight transposed to
 * `[(dy, dx, co), Cin4·4]` (forward GEMM kernel); grad_W += xᵀ · G and the bias sums read grad_pre
 * through the same 2×2 scatter layout as the forward's store (ops/gemm_backward.ts); the summed bias
 * gradient goes into all 4 packed copies.
 * @module
 */
import { TRANSPOSE_2X2_STORE } from "../shaders/conv_transpose2d.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { runImplicitGemm } from "./conv2d.ts";
import { CONV_STORE } from "../shaders/conv2d.wgsl.ts";
import {
  accumulateParamGrads,
  checkBackwardOperands,
  type GemmBackwardOptions,
  type GemmBackwardResult,
  type GemmParamGrads,
  preActivationGrad,
  rowLimitOf,
  transposePackedWeight,
} from "./gemm_backward.ts";
import type { OccupiedRows } from "./kernel.ts";
import { emptyTensor, type Tensor, tensorFromArray } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/** ConvTranspose2d weights packed by {@link packConvTranspose2dWeights}. */
export interface PackedConvTranspose2d {
  /** `[Cin, 4·Cout]` f32, columns ordered (dy, dx, co). */
  weight: Tensor;
  /** `[4·Cout]` f32 (the bias repeated for each (dy, dx)), or null. */
  bias: Tensor | null;
  cin: number;
  cout: number;
}

/**
 * Packs torch ConvTranspose2d weights `[Cin, Cout, 2, 2]` (and bias `[Cout]`). Call once at load time.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { packConvTranspose2dWeights } from "./conv_transpose2d.ts";
 * await getGpu();
 * const packed = packConvTranspose2dWeights(new Float32Array(8 * 4 * 4).fill(0.1), [8, 4]);
 * console.log(packed.weight.shape); // [8, 16]
 * ```
 */
export function packConvTranspose2dWeights(
  torchWeight: Float32Array, // [Cin, Cout, 2, 2]
  shape: readonly [cin: number, cout: number],
  bias?: Float32Array, // [Cout]
): PackedConvTranspose2d {
  const op = "packConvTranspose2dWeights";
  const [cin, cout] = shape;
  if (torchWeight.length !== cin * cout * 4) {
    throw new ShapeError(op, `weight has ${torchWeight.length} elements, not [${cin},${cout},2,2]`);
  }
  if (bias && bias.length !== cout) {
    throw new ShapeError(op, `bias [${bias.length}] does not match Cout ${cout}`);
  }
  const cols = 4 * cout;
  const packed = new Float32Array(cin * cols);
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      for (let q = 0; q < 4; q++) packed[ci * cols + q * cout + co] = torchWeight[(ci * cout + co) * 4 + q];
    }
  }
  let packedBias: Tensor | null = null;
  if (bias) {
    const b = new Float32Array(cols);
    for (let q = 0; q < 4; q++) b.set(bias, q * cout);
    packedBias = tensorFromArray(b, [cols]);
  }
  return { weight: tensorFromArray(packed, [cin, cols]), bias: packedBias, cin, cout };
}

/**
 * `relu?(conv_transpose2d(x, W, b, stride=2))` with a 2×2 kernel. x: [N, H, W, Cin] f32 → [N, 2H, 2W, Cout].
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { convTranspose2d, packConvTranspose2dWeights } from "./conv_transpose2d.ts";
 * await getGpu();
 * const packed = packConvTranspose2dWeights(new Float32Array(4 * 4 * 4).fill(0.25), [4, 4]);
 * const x = tensorFromArray(new Float32Array(2 * 3 * 4).fill(1), [1, 2, 3, 4]);
 * console.log(convTranspose2d(x, packed, { relu: true }).shape); // [1, 4, 6, 4]
 * ```
 */
export function convTranspose2d(
  x: Tensor,
  packed: PackedConvTranspose2d,
  options: { relu?: boolean; occupied?: OccupiedRows } = {},
): Tensor {
  const op = "convTranspose2d";
  x.check(op, "x");
  packed.weight.check(op, "weight");
  assertDType(op, "x", x, ["f32"]);
  assertRank(op, "x", x, 4, "N,H,W,Cin");
  const [batch, h, w, cin] = x.shape;
  if (cin !== packed.cin) {
    throw new ShapeError(
      op,
      `x ${x.describe()} has Cin ${cin} but weight is [Cin ${packed.cin}, Cout ${packed.cout}, 2, 2]`,
    );
  }
  const out = emptyTensor([batch, 2 * h, 2 * w, packed.cout]);
  runImplicitGemm(
    op,
    { bias: packed.bias !== null, residual: false, relu: options.relu ?? false, store: TRANSPOSE_2X2_STORE },
    x,
    packed.weight,
    packed.bias,
    undefined,
    out,
    {
      batch,
      h,
      w,
      cin,
      ho: h, // rows are input pixels: the gather walks the h×w input with a 1×1 tap
      wo: w,
      cols: 4 * packed.cout,
      kh: 1,
      kw: 1,
      stride: 1,
      pad: 0,
      m: batch * h * w,
      cout: packed.cout,
    },
    options.occupied,
  );
  return out;
}

/** Options of {@link convTranspose2dBackward}: the forward's epilogue and occupied slots. */
export interface ConvTranspose2dBackwardOptions extends GemmBackwardOptions {
  /** Compacted RoI slots in use, as in the forward (see `conv2dBackward`). */
  occupied?: OccupiedRows;
}

/**
 * Gradients of `out = relu?(conv_transpose2d(x, W, b, stride=2))`, 2×2 kernel.
 * x: [N, H, W, Cin], gradOut (and `options.out`): [N, 2H, 2W, Cout] → gradInput [N, H, W, Cin]; accumulates
 * grads.weight `[Cin, 4·Cout]` and grads.bias `[4·Cout]` (each of the 4 copies gets the summed gradient).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { convTranspose2dBackward, packConvTranspose2dWeights } from "./conv_transpose2d.ts";
 * await getGpu();
 * const packed = packConvTranspose2dWeights(new Float32Array(4 * 4 * 4).fill(0.25), [4, 4], new Float32Array(4));
 * const x = tensorFromArray(new Float32Array(2 * 3 * 4).fill(1), [1, 2, 3, 4]);
 * const g = tensorFromArray(new Float32Array(4 * 6 * 4).fill(1), [1, 4, 6, 4]);
 * const gb = tensorFromArray(new Float32Array(16), [16]);
 * const { gradInput } = convTranspose2dBackward(x, packed, g, { bias: gb });
 * console.log(gradInput!.shape, (await gb.read())[0]); // [1, 2, 3, 4] 24
 * ```
 */
export function convTranspose2dBackward(
  x: Tensor, // [N, H, W, Cin]
  packed: PackedConvTranspose2d,
  gradOut: Tensor, // [N, 2H, 2W, Cout]
  grads: GemmParamGrads,
  options: ConvTranspose2dBackwardOptions = {},
): GemmBackwardResult {
  const op = "convTranspose2dBackward";
  const { needInputGrad = true, occupied } = options;
  checkBackwardOperands(op, x, gradOut, packed.weight, "N,H,W,Cin");
  const [batch, h, w, cin] = x.shape;
  const { cout } = packed;
  const wdesc = `weight [Cin ${packed.cin}, Cout ${cout}, 2, 2]`;
  if (cin !== packed.cin) throw new ShapeError(op, `x ${x.describe()} has Cin ${cin} but ${wdesc}`);
  const outShape = [batch, 2 * h, 2 * w, cout];
  if (gradOut.shape.length !== 4 || gradOut.shape.some((d, i) => d !== outShape[i])) {
    throw new ShapeError(
      op,
      `gradOut ${gradOut.describe()} must match the output [${outShape}] (x ${x.describe()}, ${wdesc})`,
    );
  }
  const gPre = preActivationGrad(op, gradOut, packed, grads, options);
  const m = batch * h * w;
  accumulateParamGrads(
    op,
    TRANSPOSE_2X2_STORE,
    x,
    gPre,
    {
      batch,
      h,
      w,
      cin,
      ho: h,
      wo: w,
      cols: 4 * cout,
      kh: 1,
      kw: 1,
      stride: 1,
      pad: 0,
      m,
      cout,
    },
    grads,
    4,
    rowLimitOf(op, occupied, h * w),
  );
  if (!needInputGrad) return { gradInput: null, gradPreActivation: gPre };
  const gradInput = emptyTensor([batch, h, w, cin]);
  const wt = transposePackedWeight(op, packed.weight, 1, cin, 4 * cout);
  const variant = { bias: false, residual: false, relu: false, store: CONV_STORE };
  runImplicitGemm(op, variant, gPre, wt, null, undefined, gradInput, {
    batch,
    h: 2 * h,
    w: 2 * w,
    cin: cout,
    ho: h,
    wo: w,
    cols: cin,
    kh: 2,
    kw: 2,
    stride: 2,
    pad: 0,
    m,
    cout: cin,
  }, occupied);
  wt.dispose();
  return { gradInput, gradPreActivation: gPre };
}
