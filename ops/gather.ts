/**
 * Gathering rows by index (with -1 padding) and concatenating along the last axis. Used to follow top-k
 * and NMS keep lists on the GPU without reading them back.
 * @module
 */
import { COPY_INTO_COLUMNS_WGSL, GATHER_ROWS_WGSL, SLICE_COLUMNS_WGSL } from "../shaders/gather.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { DTypeError, ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { DTYPE_BYTES, emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/** Options of {@link gatherRows}. */
export interface GatherRowsOptions {
  /**
   * Indices are relative to groups: index row m reads source row `idx[m] + ⌊m / idxGroup⌋ · srcGroup`
   * (e.g. per-image top-k indices into a batch). Default: absolute indices.
   */
  idxGroup?: number;
  /** Source rows per group (0 = every group reads the same rows, e.g. shared anchors). */
  srcGroup?: number;
}

/**
 * Rows of `x` at `indices`; rows whose index is negative (padding) or out of range are zeros.
 * x: [N, ...rest] (32-bit dtype), indices: [M] (or any shape of M elements) i32 → [M, ...rest].
 *
 * @example
 * ```ts
 * import { gatherRows, getGpu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
 * const idx = tensorFromArray(new Int32Array([2, -1, 0]), [3]);
 * console.log(await gatherRows(x, idx).read()); // [5, 6, 0, 0, 1, 2]
 * ```
 */
export function gatherRows(x: Tensor, indices: Tensor, options: GatherRowsOptions = {}): Tensor {
  const op = "gatherRows";
  x.check(op, "x");
  indices.check(op, "indices");
  assertDType(op, "indices", indices, ["i32"]);
  if (DTYPE_BYTES[x.dtype] !== 4) throw new DTypeError(op, `x ${x.describe()} must have a 32-bit dtype`);
  if (x.rank < 1) throw new ShapeError(op, `x ${x.describe()} must have rank ≥ 1`);
  const width = x.shape.slice(1).reduce((p, d) => p * d, 1);
  const rows = indices.size;
  const out = emptyTensor([rows, ...x.shape.slice(1)], x.dtype);
  const total = rows * width;
  if (total === 0) return out;
  const idxGroup = options.idxGroup ?? rows;
  const srcGroup = options.srcGroup ?? 0;
  if (!(idxGroup >= 1) || !(srcGroup >= 0)) {
    throw new ShapeError(op, `idxGroup ${idxGroup} must be ≥ 1 and srcGroup ${srcGroup} ≥ 0`);
  }
  dispatch({ key: "gather/rows", source: GATHER_ROWS_WGSL }, {
    op,
    tensors: [["x", x], ["indices", indices], ["out", out]],
    params: params(["u32", total], ["u32", width], ["u32", x.shape[0]], ["u32", idxGroup], ["u32", srcGroup]),
    workgroups: Math.ceil(total / WORKGROUP_1D),
  });
  return out;
}

/**
 * Concatenates tensors along their last axis; all leading axes must match.
 * parts: [..., L_i] (same 32-bit dtype) → [..., ΣL_i].
 *
 * @example
 * ```ts
 * import { concatLastAxis, getGpu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const b = tensorFromArray(new Float32Array([5, 6]), [2, 1]);
 * console.log(await concatLastAxis([a, b]).read()); // [1, 2, 5, 3, 4, 6]
 * ```
 */
export function concatLastAxis(parts: readonly Tensor[]): Tensor {
  const op = "concatLastAxis";
  if (parts.length === 0) throw new ShapeError(op, "needs at least one tensor");
  const first = parts[0];
  const lead = first.shape.slice(0, -1);
  parts.forEach((t, i) => {
    t.check(op, `parts[${i}]`);
    if (t.dtype !== first.dtype || DTYPE_BYTES[t.dtype] !== 4) {
      throw new DTypeError(
        op,
        `parts[${i}] ${t.describe()} must share the 32-bit dtype of parts[0] ${first.describe()}`,
      );
    }
    if (t.rank !== first.rank || t.shape.slice(0, -1).some((d, k) => d !== lead[k])) {
      throw new ShapeError(
        op,
        `parts[${i}] ${t.describe()} does not match the leading axes of ${first.describe()}`,
      );
    }
  });
  const outWidth = parts.reduce((s, t) => s + t.shape[t.rank - 1], 0);
  const out = emptyTensor([...lead, outWidth], first.dtype);
  let offset = 0;
  for (const t of parts) {
    const inWidth = t.shape[t.rank - 1];
    if (t.size > 0) {
      dispatch({ key: "gather/copy_into_columns", source: COPY_INTO_COLUMNS_WGSL }, {
        op,
        tensors: [["part", t], ["out", out]],
        params: params(["u32", t.size], ["u32", inWidth], ["u32", outWidth], ["u32", offset]),
        workgroups: Math.ceil(t.size / WORKGROUP_1D),
      });
    }
    offset += inWidth;
  }
  return out;
}

/**
 * Splits `x` along its last axis into parts of the given widths (the inverse of {@link concatLastAxis}).
 * x: [..., ΣW_i] (32-bit dtype) → [[..., W_0], [..., W_1], …].
 *
 * @example
 * ```ts
 * import { getGpu, splitLastAxis, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([1, 2, 5, 3, 4, 6]), [2, 3]);
 * const [a, b] = splitLastAxis(x, [2, 1]);
 * console.log(await a.read(), await b.read()); // [1, 2, 3, 4] [5, 6]
 * ```
 */
export function splitLastAxis(x: Tensor, widths: readonly number[]): Tensor[] {
  const op = "splitLastAxis";
  x.check(op, "x");
  if (DTYPE_BYTES[x.dtype] !== 4) throw new DTypeError(op, `x ${x.describe()} must have a 32-bit dtype`);
  const inWidth = x.shape[x.rank - 1];
  if (widths.reduce((a, b) => a + b, 0) !== inWidth || widths.some((w) => !(w >= 0))) {
    throw new ShapeError(op, `widths [${widths}] must sum to the last axis of x ${x.describe()}`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((p, d) => p * d, 1);
  let offset = 0;
  return widths.map((width) => {
    const out = emptyTensor([...lead, width], x.dtype);
    if (rows * width > 0) {
      dispatch({ key: "gather/slice_columns", source: SLICE_COLUMNS_WGSL }, {
        op,
        tensors: [["x", x], ["out", out]],
        params: params(["u32", rows * width], ["u32", inWidth], ["u32", width], ["u32", offset]),
        workgroups: Math.ceil((rows * width) / WORKGROUP_1D),
      });
    }
    offset += width;
    return out;
  });
}
