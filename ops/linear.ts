/**
 * Fully connected layer `x · Wᵀ + b` (optional fused ReLU), run as a 1×1 convolution over a 1×R "image"
 * on the implicit-GEMM kernel of ops/conv2d.ts (same tiles, vec4 loads, epilogue): M = R, K = in,
 * columns = out. The box head's fc6 (1000 × 12544 · 12544 × 1024) is the large case.
 *
 * Weights are packed once from torch's `[out, in]` into `[in, out4·4]`. When the input is a flattened NHWC
 * feature map (the box head flattens RoI features `[R, 7, 7, 256]`), `nchwInput: [C, H, W]` reorders
 * torch's input features from (c, h, w) to (h, w, c) at packing time, so that flattening NHWC is a free
 * reshape and the results equal torch's flatten of NCHW.
 * @module
 */
import { CONV_STORE } from "../shaders/conv2d.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { padTo, runImplicitGemm } from "./conv2d.ts";
import {
  accumulateParamGrads,
  checkBackwardOperands,
  type GemmBackwardOptions,
  type GemmBackwardResult,
  type GemmParamGrads,
  preActivationGrad,
  transposePackedWeight,
} from "./gemm_backward.ts";
import type { OccupiedRows } from "./kernel.ts";
import { emptyTensor, type Tensor, tensorFromArray } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/** Linear weights packed by {@link packLinearWeights}. */
export interface PackedLinear {
  /** `[in, out4·4]` f32: input-major, outputs innermost, zero-padded columns. */
  weight: Tensor;
  /** `[out4·4]` f32 (zero-padded), or null. */
  bias: Tensor | null;
  in: number;
  out: number;
}

/** Options of {@link packLinearWeights}. */
export interface PackLinearOptions {
  /** The torch input is a flattened NCHW map of this [C, H, W]; reorder to the NHWC flatten order. */
  nchwInput?: readonly [c: number, h: number, w: number];
}

/**
 * Packs torch linear weights `[out, in]` (and bias `[out]`) for {@link linear}. Call once at load time.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { packLinearWeights } from "./linear.ts";
 * await getGpu();
 * const packed = packLinearWeights(new Float32Array(6 * 5).fill(0.5), [6, 5], new Float32Array(6));
 * console.log(packed.weight.shape); // [5, 8]
 * ```
 */
export function packLinearWeights(
  torchWeight: Float32Array, // [out, in]
  shape: readonly [out: number, inFeatures: number],
  bias?: Float32Array, // [out]
  options: PackLinearOptions = {},
): PackedLinear {
  const op = "packLinearWeights";
  const [out, inF] = shape;
  if (torchWeight.length !== out * inF) {
    throw new ShapeError(op, `weight has ${torchWeight.length} elements, not [${shape}]`);
  }
  if (bias && bias.length !== out) {
    throw new ShapeError(op, `bias [${bias.length}] does not match out ${out}`);
  }
  const nchw = options.nchwInput;
  if (nchw && nchw[0] * nchw[1] * nchw[2] !== inF) {
    throw new ShapeError(op, `nchwInput [${nchw}] does not have ${inF} features`);
  }
  // source feature (torch order) of each packed input row
  const source = new Int32Array(inF).map((_, i) => i);
  if (nchw) {
    const [c, h, w] = nchw;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) source[(y * w + x) * c + ch] = (ch * h + y) * w + x;
      }
    }
  }
  const cols = Math.ceil(out / 4) * 4;
  const packed = new Float32Array(inF * cols);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inF; i++) packed[i * cols + o] = torchWeight[o * inF + source[i]];
  }
  return {
    weight: tensorFromArray(packed, [inF, cols]),
    bias: bias ? tensorFromArray(padTo(bias, cols), [cols]) : null,
    in: inF,
    out,
  };
}

/**
 * `relu?(x · Wᵀ + b)`. x: [R, in] f32 → [R, out].
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { linear, packLinearWeights } from "./linear.ts";
 * await getGpu();
 * const packed = packLinearWeights(new Float32Array([1, 2, 3, 4]), [2, 2], new Float32Array([0.5, -10]));
 * const x = tensorFromArray(new Float32Array([1, 1]), [1, 2]);
 * console.log(await linear(x, packed, { relu: true }).read()); // [3.5, 0]
 * ```
 */
export function linear(
  x: Tensor,
  packed: PackedLinear,
  options: { relu?: boolean; occupied?: OccupiedRows } = {},
): Tensor {
  const op = "linear";
  x.check(op, "x");
  packed.weight.check(op, "weight");
  assertDType(op, "x", x, ["f32"]);
  assertRank(op, "x", x, 2, "R,in");
  const [rows, inF] = x.shape;
  if (inF !== packed.in) {
    throw new ShapeError(
      op,
      `x ${x.describe()} has ${inF} features but weight is [out ${packed.out}, in ${packed.in}]`,
    );
  }
  const out = emptyTensor([rows, packed.out]);
  runImplicitGemm(
    op,
    { bias: packed.bias !== null, residual: false, relu: options.relu ?? false, store: CONV_STORE },
    x,
    packed.weight,
    packed.bias,
    undefined,
    out,
    {
      batch: 1,
      h: 1,
      w: rows,
      cin: inF,
      ho: 1,
      wo: rows,
      cols: packed.out,
      kh: 1,
      kw: 1,
      stride: 1,
      pad: 0,
      m: rows,
      cout: packed.out,
    },
    options.occupied,
    1,
  );
  return out;
}

/**
 * Gradients of `out = relu?(x · Wᵀ + b)`. x: [R, in], out / gradOut: [R, out] → gradInput [R, in];
 * accumulates grads.weight `[in, out4·4]` and grads.bias `[out4·4]` (packed layouts, `+=`). With
 * `nchwInput` packing, gradInput is in x's (NHWC flatten) order like x.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { linear, linearBackward, packLinearWeights } from "./linear.ts";
 * await getGpu();
 * const packed = packLinearWeights(new Float32Array([1, 2, 3, 4]), [2, 2], new Float32Array([0.5, -10]));
 * const x = tensorFromArray(new Float32Array([1, 1]), [1, 2]);
 * const out = linear(x, packed, { relu: true });
 * const gb = tensorFromArray(new Float32Array(4), [4]);
 * const g = tensorFromArray(new Float32Array([1, 1]), [1, 2]);
 * const { gradInput } = linearBackward(x, packed, g, { bias: gb }, { relu: true, out });
 * console.log(await gradInput!.read(), await gb.read()); // [1, 2] [1, 0, 0, 0]
 * ```
 */
export function linearBackward(
  x: Tensor, // [R, in]
  packed: PackedLinear,
  gradOut: Tensor, // [R, out]
  grads: GemmParamGrads,
  options: GemmBackwardOptions = {}, // options.out: [R, out], the forward output (needed when relu)
): GemmBackwardResult {
  const op = "linearBackward";
  const { needInputGrad = true } = options;
  checkBackwardOperands(op, x, gradOut, packed.weight, "R,in");
  const [rows, inF] = x.shape;
  const wdesc = `weight [out ${packed.out}, in ${packed.in}]`;
  if (inF !== packed.in) throw new ShapeError(op, `x ${x.describe()} has ${inF} features but ${wdesc}`);
  if (gradOut.shape.length !== 2 || gradOut.shape[0] !== rows || gradOut.shape[1] !== packed.out) {
    throw new ShapeError(
      op,
      `gradOut ${gradOut.describe()} must be [${rows},${packed.out}] (x ${x.describe()}, ${wdesc})`,
    );
  }
  const gPre = preActivationGrad(op, gradOut, packed, grads, options);
  const gemm = { batch: 1, h: 1, w: rows, ho: 1, wo: rows, kh: 1, kw: 1, stride: 1, pad: 0, m: rows };
  accumulateParamGrads(
    op,
    CONV_STORE,
    x,
    gPre,
    { ...gemm, cin: inF, cols: packed.out, cout: packed.out },
    grads,
  );
  if (!needInputGrad) return { gradInput: null, gradPreActivation: gPre };
  const gradInput = emptyTensor([rows, inF]);
  const wt = transposePackedWeight(op, packed.weight, 1, inF, packed.out);
  const variant = { bias: false, residual: false, relu: false, store: CONV_STORE };
  runImplicitGemm(op, variant, gPre, wt, null, undefined, gradInput, {
    ...gemm,
    cin: packed.out,
    cols: inF,
    cout: inF,
  });
  wt.dispose();
  return { gradInput, gradPreActivation: gPre };
}
