/**
 * Backward pass of {@link conv2d} (NHWC, packed weights, fused bias / residual / ReLU epilogue) for
 * training: the input gradient, and the weight and bias gradients accumulated into caller-owned tensors in
 * the packed layout.
 *
 * Design:
 * - grad_pre = gradOut · (out > 0) when the forward fused ReLU (else gradOut itself); it is also the
 *   gradient of the fused residual.
 * - Input gradient: an implicit GEMM per stride phase (shaders/conv2d_backward.wgsl.ts): input pixels with
 *   the same (iy mod s, ix mod s) receive the same taps, so each phase is a dense gather of grad_pre with
 *   ⌈k/s⌉² taps (3×3 s2: 1, 2 or 4 taps) and no zero insertion; the weights are transposed once per call to
 *   `[kh·kw·Cout, Cin4·4]` so the GEMM's B rows are vec4 along Cin as in the forward kernel.
 * - Weight / bias gradients: split-K GEMM Aᵀ·grad_pre over the M = N·Ho·Wo rows and column sums
 *   (ops/gemm_backward.ts), deterministic.
 * @module
 */
import { CONV_STORE } from "../shaders/conv2d.wgsl.ts";
import { dgradWgsl } from "../shaders/conv2d_backward.wgsl.ts";
import { dispatchWithWeightTexture, gemmTile, type PackedConv2d, weightTexture } from "./conv2d.ts";
import { ShapeError } from "./errors.ts";
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
import { currentGpu } from "./gpu.ts";
import { dispatch, type OccupiedRows, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";

/** Options of {@link conv2dBackward}: the forward's stride, padding and epilogue (ReLU, its output). */
export interface Conv2dBackwardOptions extends GemmBackwardOptions {
  stride?: number;
  padding?: number;
  /**
   * Only the first `counts[0]` images (compacted RoI slots, counted on the GPU) hold real work, as in the
   * forward: the reductions and the input gradient cover only them (its other rows are left stale).
   */
  occupied?: OccupiedRows;
  /** The forward added a residual (its gradient is `gradPreActivation`). */
  hasResidual?: boolean;
}

/**
 * Gradients of `out = relu?(conv2d(x, W) + b + residual)`.
 * x: [N, H, W, Cin], gradOut (and `options.out`): [N, Ho, Wo, Cout] → gradInput [N, H, W, Cin]; accumulates
 * grads.weight `[kh·kw·Cin, Cout4·4]` and grads.bias `[Cout4·4]`.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray, emptyTensor } from "./mod.ts";
 * import { conv2d, packConv2dWeights } from "./conv2d.ts";
 * import { conv2dBackward } from "./conv2d_backward.ts";
 * await getGpu();
 * const packed = packConv2dWeights(new Float32Array(4 * 3 * 9).fill(0.1), [4, 3, 3, 3], new Float32Array(4));
 * const x = tensorFromArray(new Float32Array(2 * 5 * 5 * 3).fill(1), [2, 5, 5, 3]);
 * const out = conv2d(x, packed, { padding: 1, relu: true });
 * const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
 * const gradOut = out; // any [2, 5, 5, 4] gradient
 * const { gradInput } = conv2dBackward(x, packed, gradOut, { weight: gw }, { padding: 1, relu: true, out });
 * console.log(gradInput?.shape); // [2, 5, 5, 3]
 * ```
 */
export function conv2dBackward(
  x: Tensor,
  packed: PackedConv2d,
  gradOut: Tensor,
  grads: GemmParamGrads,
  options: Conv2dBackwardOptions = {},
): GemmBackwardResult {
  const op = "conv2dBackward";
  const { stride = 1, padding = 0, needInputGrad = true } = options;
  checkBackwardOperands(op, x, gradOut, packed.weight, "N,H,W,Cin");
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
  if (gradOut.shape.length !== 4 || gradOut.shape.some((d, i) => d !== outShape[i])) {
    throw new ShapeError(
      op,
      `gradOut ${gradOut.describe()} must match the output [${outShape}] (x ${x.describe()}, ${wdesc})`,
    );
  }
  const gPre = preActivationGrad(op, gradOut, packed, grads, options);
  accumulateParamGrads(
    op,
    CONV_STORE,
    x,
    gPre,
    {
      batch,
      h,
      w,
      cin,
      ho,
      wo,
      cols: cout,
      kh,
      kw,
      stride,
      pad: padding,
      m: batch * ho * wo,
      cout,
    },
    grads,
    1,
    rowLimitOf(op, options.occupied, ho * wo),
  );
  if (!needInputGrad) return { gradInput: null, gradPreActivation: gPre };
  const gradInput = emptyTensor([batch, h, w, cin]);
  const wt = transposePackedWeight(op, packed.weight, kh * kw, cin, cout);
  const cols4 = Math.ceil(cin / 4);
  const tile = gemmTile(cols4, {
    k: kh * kw * cout,
    rows: batch * Math.ceil(h / stride) * Math.ceil(w / stride),
  });
  const vecIn = cout % 4 === 0;
  const vecOut = cin % 4 === 0;
  const texture = weightTexture(wt, cols4);
  const key = `conv2d_backward/dgrad/${texture ? "texB/" : ""}${
    tile.lanes ? `sg${tile.lanes}/` : ""
  }${tile.tm}x${tile.tn4}/${tile.wx}x${tile.wy}/${vecIn ? "v" : "s"}${vecOut ? "v" : "s"}`;
  const source = () => dgradWgsl({ tile, vecIn, vecOut, texB: texture !== null });
  const maxDim = currentGpu().limits.maxComputeWorkgroupsPerDimension;
  for (let py = 0; py < stride; py++) {
    for (let px = 0; px < stride; px++) {
      const hq = Math.ceil((h - py) / stride);
      const wq = Math.ceil((w - px) / stride);
      const mq = batch * hq * wq;
      if (mq <= 0) continue;
      const ky0 = (py + padding) % stride;
      const kx0 = (px + padding) % stride;
      const kjy = ky0 < kh ? Math.ceil((kh - ky0) / stride) : 0;
      const kjx = kx0 < kw ? Math.ceil((kw - kx0) / stride) : 0;
      const rowTiles = Math.ceil(mq / (tile.tm * tile.wy));
      const z = Math.ceil(rowTiles / maxDim);
      const spec = {
        op,
        tensors: [["gradPre", gPre], ["weightT", wt], ["gradInput", gradInput]] as const,
        params: params(
          ...([
            batch,
            h,
            w,
            cin,
            ho,
            wo,
            cout,
            vecIn ? cout / 4 : 0,
            kw,
            stride,
            cols4,
            mq,
            hq,
            wq,
            py,
            px,
            ky0,
            kx0,
            kjy,
            kjx,
            Math.floor((py + padding) / stride),
            Math.floor((px + padding) / stride),
          ] as const).map((v) => ["u32", v] as const),
        ),
        workgroups: [Math.ceil(cols4 / (tile.tn4 * tile.wx)), Math.ceil(rowTiles / z), z] as const,
        bound: options.occupied && z === 1
          ? {
            ...options.occupied,
            unitsPerRow: hq * wq,
            unitsPerWorkgroup: tile.tm * tile.wy,
            axis: 1 as const,
          }
          : undefined,
      };
      if (texture) dispatchWithWeightTexture({ key, source }, spec, 1, texture);
      else dispatch({ key, source }, spec);
    }
  }
  wt.dispose();
  return { gradInput, gradPreActivation: gPre };
}
