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
 * import { assertSameShape } from "./validate.ts";
 * // assertSameShape("add", ["a", a], ["b", b]);
 * console.log(typeof assertSameShape);
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
 * import { assertDType } from "./validate.ts";
 * console.log(typeof assertDType);
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
 * import { assertRank } from "./validate.ts";
 * console.log(typeof assertRank);
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
