/**
 * ConvTranspose2d with a 2×2 kernel and stride 2 (no padding), as torchvision's mask head upsampler
 * `MaskRCNNPredictor.conv5_mask`, with optional fused ReLU. NHWC.
 *
 * With kernel = stride = 2 the output pixels never overlap: out[n, 2y+dy, 2x+dx, co] = b[co] +
 * Σ_ci x[n, y, x, ci] · W[ci, co, dy, dx]. That is one GEMM, M = N·H·W input pixels, K = Cin, columns =
 * (dy, dx, co) = 4·Cout, whose result is scattered to the 2×2 output block of each pixel. It runs on the
 * implicit-GEMM kernel of ops/conv2d.ts with the `transpose2x2` store (shaders/conv_transpose2d.wgsl.ts
 * documents the layout). The weights `[Cin, Cout, 2, 2]` are packed once into `[Cin, 2, 2, Cout]`.
 * @module
 */
import { TRANSPOSE_2X2_STORE } from "../shaders/conv_transpose2d.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { runImplicitGemm } from "./conv2d.ts";
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
  options: { relu?: boolean } = {},
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
  );
  return out;
}
