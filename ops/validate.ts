/**
 * Argument checks shared by the op wrappers; each throws a typed error naming the op and the tensors.
 * @module
 */
import { DTypeError, ShapeError } from "./errors.ts";
import type { DType, Tensor } from "./tensor.ts";

/**
 * Throws unless `a` and `b` have identical shapes.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { ShapeError } from "./errors.ts";
 * import { assertSameShape } from "./validate.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array(6), [2, 3]);
 * const b = tensorFromArray(new Float32Array(6), [3, 2]);
 * assertSameShape("add", ["a", a], ["a2", a]); // fine
 * assert.throws(() => assertSameShape("add", ["a", a], ["b", b]), ShapeError);
 * ```
 */
export function assertSameShape(
  op: string,
  [nameA, a]: [string, Tensor],
  [nameB, b]: [string, Tensor],
): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(
      op,
      `${nameA} ${a.describe()} and ${nameB} ${b.describe()} must have the same shape`,
    );
  }
}

/**
 * Throws unless the tensor's dtype is one of `allowed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { DTypeError } from "./errors.ts";
 * import { assertDType } from "./validate.ts";
 * await getGpu();
 * const labels = tensorFromArray(new Int32Array([1, 2]), [2]);
 * assertDType("gather", "labels", labels, ["i32", "u32"]); // fine
 * assert.throws(() => assertDType("relu", "x", labels, ["f32"]), DTypeError);
 * ```
 */
export function assertDType(op: string, name: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new DTypeError(
      op,
      `${name} ${t.describe()} has dtype ${t.dtype}, expected ${allowed.join(" or ")}`,
    );
  }
}

/**
 * Throws unless the tensor has the given rank; `dims` names the axes for the message (e.g. "N,C,H,W").
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { ShapeError } from "./errors.ts";
 * import { assertRank } from "./validate.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(12), [1, 2, 2, 3]);
 * assertRank("conv2d", "x", x, 4, "N,H,W,C"); // fine
 * assert.throws(() => assertRank("linear", "x", x, 2, "rows,features"), (e) => e instanceof ShapeError && /rows,features/.test(e.message));
 * ```
 */
export function assertRank(op: string, name: string, t: Tensor, rank: number, dims = ""): void {
  if (t.rank !== rank) {
    throw new ShapeError(
      op,
      `${name} must have rank ${rank}${dims ? ` [${dims}]` : ""}, got ${t.describe()}`,
    );
  }
}
