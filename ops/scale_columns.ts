/**
 * Per-column scaling of a [rows, cols] tensor: used in training to map between a conv's master weights and
 * the frozen-batch-norm-folded weights the forward uses (folded = master · scale per output channel) and to
 * turn the gradient of the folded weights into the gradient of the master (g_master = g_folded · scale).
 * @module
 */
import { SCALE_COLUMNS_IN_PLACE_WGSL, SCALE_COLUMNS_WGSL } from "../shaders/scale_columns.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import type { Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/**
 * x: [rows, cols] f32, scale: [cols] f32 → writes x·scale (per column) into `out` (same shape; `out` may be
 * `x` itself for an in-place update) and returns it.
 *
 * @example
 * ```ts
 * import { emptyTensor, getGpu, scaleColumns, tensorFromArray } from "../mod.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * scaleColumns(x, tensorFromArray(new Float32Array([10, -1]), [2]), x);
 * console.log(await x.read()); // [10, -2, 30, -4]
 * ```
 */
export function scaleColumns(x: Tensor, scale: Tensor, out: Tensor): Tensor {
  const op = "scaleColumns";
  for (const [name, t] of [["x", x], ["scale", scale], ["out", out]] as const) {
    assertDType(op, name, t.check(op, name), ["f32"]);
  }
  const cols = x.shape[x.rank - 1];
  if (x.rank !== 2 || scale.size !== cols || out.size !== x.size) {
    throw new ShapeError(
      op,
      `x ${x.describe()} [rows, cols], scale ${scale.describe()} [cols], out ${out.describe()}`,
    );
  }
  if (x.size === 0) return out;
  const inPlace = out.buffer === x.buffer && out.byteOffset === x.byteOffset;
  dispatch(
    inPlace
      ? { key: "scale_columns/in_place", source: SCALE_COLUMNS_IN_PLACE_WGSL }
      : { key: "scale_columns/out", source: SCALE_COLUMNS_WGSL },
    {
      op,
      tensors: inPlace ? [["x", x], ["scale", scale]] : [["x", x], ["scale", scale], ["out", out]],
      params: params(["u32", x.size], ["u32", cols]),
      workgroups: Math.ceil(x.size / WORKGROUP_1D),
    },
  );
  return out;
}
