/**
 * Activations and layout helpers of the heads: `sigmoid` (mask logits, RPN objectness), `softmax` over the
 * last axis (box-head class scores), `flatten` (a free reshape view: tensors are always dense), and the
 * load-time permutation that makes the box head's fc6 accept our NHWC flatten order.
 *
 * fc6 and flatten order: torchvision flattens the pooled RoI features `[R, C, 7, 7]` in C·H·W order;
 * ours are NHWC `[R, 7, 7, C]` and flatten in H·W·C order. Rather than transposing activations at run
 * time, the fc6 weight's columns are permuted once at load time with {@link permuteFlattenedInputColumns}
 * (using {@link nchwFlattenOrderPermutation}), after which `flatten(x) @ W'ᵀ` equals torch's
 * `x.flatten(1) @ Wᵀ`.
 * @module
 */
import {
  sigmoidWgsl,
  SOFTMAX_ROW_PER_THREAD_WGSL,
  SOFTMAX_ROW_PER_WORKGROUP_WGSL,
  SOFTMAX_WORKGROUP,
} from "../shaders/activation.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/** Rows up to this length use one thread per row; longer rows one workgroup per row. */
export const SOFTMAX_THREAD_PER_ROW_MAX = 32;

/**
 * Logistic sigmoid, elementwise. x: any shape, f32 → same shape, f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { sigmoid } from "./activation.ts";
 * await getGpu();
 * console.log(await sigmoid(tensorFromArray(new Float32Array([0, 100, -100]), [3])).read()); // [0.5, 1, ~0]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  x.check("sigmoid", "x");
  assertDType("sigmoid", "x", x, ["f32"]);
  const out = emptyTensor(x.shape, "f32");
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  if (n === 0) return out;
  dispatch({ key: `activation/sigmoid/${vec4 ? "v4" : "s"}`, source: sigmoidWgsl(vec4) }, {
    op: "sigmoid",
    tensors: [["x", x], ["out", out]],
    params: params(["u32", n]),
    workgroups: Math.ceil(n / WORKGROUP_1D),
  });
  return out;
}

/**
 * Softmax over the last axis, `exp(x − max) / Σ exp(x − max)` per row.
 * x: [..., L] f32 (rank ≥ 1, L ≥ 1) → same shape, f32.
 *
 * @example Class probabilities of 2 RoIs over 3 classes
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { softmax } from "./activation.ts";
 * await getGpu();
 * const logits = tensorFromArray(new Float32Array([1, 2, 3, 1000, 1000, 1000]), [2, 3]);
 * console.log(await softmax(logits).read());
 * ```
 */
export function softmax(x: Tensor): Tensor {
  x.check("softmax", "x");
  assertDType("softmax", "x", x, ["f32"]);
  if (x.rank < 1 || x.shape[x.rank - 1] < 1) {
    throw new ShapeError("softmax", `x ${x.describe()} needs a non-empty last axis`);
  }
  const len = x.shape[x.rank - 1];
  const rows = x.size / len;
  const out = emptyTensor(x.shape, "f32");
  if (rows === 0) return out;
  const perThread = len <= SOFTMAX_THREAD_PER_ROW_MAX;
  dispatch(
    perThread
      ? { key: "activation/softmax/row-per-thread", source: SOFTMAX_ROW_PER_THREAD_WGSL }
      : { key: `activation/softmax/row-per-wg${SOFTMAX_WORKGROUP}`, source: SOFTMAX_ROW_PER_WORKGROUP_WGSL },
    {
      op: "softmax",
      tensors: [["x", x], ["out", out]],
      params: params(["u32", rows], ["u32", len]),
      workgroups: perThread ? Math.ceil(rows / WORKGROUP_1D) : rows,
    },
  );
  return out;
}

/**
 * Flattens axes `startDim..` into one (torch's `flatten(start_dim)`): a view, no copy. On NHWC tensors
 * the flattened order is H·W·C, not torch's C·H·W (see the module notes on fc6).
 * x: [d0, ..., dk] → [d0, ..., d(start−1), d(start)·…·dk].
 *
 * @example RoI features for fc6
 * ```ts
 * import { emptyTensor, getGpu } from "./mod.ts";
 * import { flatten } from "./activation.ts";
 * await getGpu();
 * console.log(flatten(emptyTensor([4, 7, 7, 256])).shape); // [4, 12544]
 * ```
 */
export function flatten(x: Tensor, startDim = 1): Tensor {
  x.check("flatten", "x");
  const start = startDim < 0 ? startDim + x.rank : startDim;
  if (!Number.isInteger(start) || start < 0 || start >= Math.max(x.rank, 1)) {
    throw new ShapeError("flatten", `startDim ${startDim} is out of range for x ${x.describe()}`);
  }
  const tail = x.shape.slice(start).reduce((p, d) => p * d, 1);
  return x.reshape([...x.shape.slice(0, start), tail]);
}

/**
 * The permutation from our NHWC flatten order to torch's NCHW one: `perm[(h·W + w)·C + c] = c·H·W +
 * h·W + w`, i.e. element j of our flattened vector is element `perm[j]` of torch's.
 *
 * @example
 * ```ts
 * import { nchwFlattenOrderPermutation } from "./activation.ts";
 * console.log(nchwFlattenOrderPermutation(2, 1, 2)); // Int32Array [0, 2, 1, 3]
 * ```
 */
export function nchwFlattenOrderPermutation(channels: number, height: number, width: number): Int32Array {
  for (const v of [channels, height, width]) {
    if (!Number.isInteger(v) || v < 1) {
      throw new ShapeError(
        "nchwFlattenOrderPermutation",
        `sizes [${channels},${height},${width}] must be ≥ 1`,
      );
    }
  }
  const perm = new Int32Array(channels * height * width);
  const hw = height * width;
  for (let p = 0; p < hw; p++) {
    for (let c = 0; c < channels; c++) perm[p * channels + c] = c * hw + p;
  }
  return perm;
}

/**
 * Permutes the input columns of a torch linear weight `[out, C·H·W]` (row-major) that follows a flatten of
 * NCHW features, so that it applies to our NHWC flatten: `W'[o, j] = W[o, perm[j]]`. CPU, at load time.
 *
 * @example fc6 of the box head: 1024 × (256·7·7)
 * ```ts
 * import { permuteFlattenedInputColumns } from "./activation.ts";
 * const w = new Float32Array([0, 1, 2, 3]); // out 1, C 2, H 1, W 2
 * console.log(permuteFlattenedInputColumns(w, 1, 2, 1, 2)); // Float32Array [0, 2, 1, 3]
 * ```
 */
export function permuteFlattenedInputColumns(
  weight: Float32Array,
  outFeatures: number,
  channels: number,
  height: number,
  width: number,
): Float32Array {
  const perm = nchwFlattenOrderPermutation(channels, height, width);
  const cols = perm.length;
  if (weight.length !== outFeatures * cols) {
    throw new ShapeError(
      "permuteFlattenedInputColumns",
      `weight has ${weight.length} elements, expected ${outFeatures}×${channels}·${height}·${width} = ${
        outFeatures * cols
      }`,
    );
  }
  const out = new Float32Array(weight.length);
  for (let o = 0; o < outFeatures; o++) {
    const row = o * cols;
    for (let j = 0; j < cols; j++) out[row + j] = weight[row + perm[j]];
  }
  return out;
}
