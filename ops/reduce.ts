/**
 * Sum reductions: over every element, or along one axis.
 * @module
 */
import { sumWgsl } from "../shaders/reduce.wgsl.ts";
import type { WgslScalar } from "../shaders/elementwise.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tidy } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/** Elements one workgroup sums in the first pass of a full reduction. */
const CHUNK = 4096;

function sumPass(x: Tensor, outer: number, len: number, inner: number, outShape: readonly number[]): Tensor {
  const out = emptyTensor(outShape, x.dtype);
  const scalar = x.dtype as WgslScalar;
  dispatch({ key: `reduce/sum/${scalar}`, source: sumWgsl(scalar) }, {
    op: "sum",
    tensors: [["x", x], ["out", out]],
    params: params(["u32", outer], ["u32", len], ["u32", inner], ["u32", x.size]),
    workgroups: outer * inner,
  });
  return out;
}

/**
 * Sums `x` over all elements (→ shape `[]`) or along `axis` (→ that axis removed; negative axes count from
 * the end). x: any shape, f32/i32/u32. f32 sums are accumulated in f32 by a tree (error grows like log n).
 *
 * @example
 * ```ts
 * import { getGpu, sum, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * console.log(await sum(x).read());      // [21]
 * console.log(await sum(x, 1).read());   // [6, 15]
 * ```
 */
export function sum(x: Tensor, axis?: number): Tensor {
  x.check("sum", "x");
  assertDType("sum", "x", x, ["f32", "i32", "u32"]);
  if (axis === undefined) return sumAll(x);
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) {
    throw new ShapeError("sum", `axis ${axis} is out of range for x ${x.describe()}`);
  }
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const outShape = [...x.shape.slice(0, a), ...x.shape.slice(a + 1)];
  return sumPass(x, outer, x.shape[a], inner, outShape);
}

function sumAll(x: Tensor): Tensor {
  if (x.size <= 2 * CHUNK) return sumPass(x, 1, x.size, 1, []);
  return tidy(() => {
    const groups = Math.ceil(x.size / CHUNK);
    const partials = sumPass(x, groups, CHUNK, 1, [groups]);
    return sumAll(partials);
  });
}
