/**
 * Elementwise ops: add, mul, relu, fill, copy, and the training helpers reluBackward and addInto (in-place
 * gradient accumulation). Inputs must have the same shape (no broadcasting yet).
 * @module
 */
import { binaryWgsl, copyWgsl, FILL_WGSL, reluWgsl, type WgslScalar } from "../shaders/elementwise.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { dispatch, params } from "./kernel.ts";
import { type DType, emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertSameShape } from "./validate.ts";
import { currentGpu } from "./gpu.ts";
import { DTypeError, ShapeError } from "./errors.ts";
import { addIntoWgsl, reluBackwardWgsl } from "../shaders/elementwise_backward.wgsl.ts";

const NUMERIC: readonly DType[] = ["f32", "i32", "u32"];

function vectorised(n: number): boolean {
  return n % 4 === 0 && n > 0;
}

function groups(elements: number): number {
  return Math.ceil(elements / WORKGROUP_1D);
}

function binary(op: "add" | "mul", operator: "+" | "*", a: Tensor, b: Tensor): Tensor {
  a.check(op, "a");
  b.check(op, "b");
  assertDType(op, "a", a, NUMERIC);
  if (a.dtype !== b.dtype) {
    throw new DTypeError(op, `a ${a.describe()} and b ${b.describe()} differ in dtype`);
  }
  assertSameShape(op, ["a", a], ["b", b]);
  const out = emptyTensor(a.shape, a.dtype);
  const vec4 = vectorised(a.size);
  const n = vec4 ? a.size / 4 : a.size;
  const scalar = a.dtype as WgslScalar;
  dispatch({
    key: `elementwise/${op}/${scalar}/${vec4 ? "v4" : "s"}`,
    source: binaryWgsl(operator, scalar, vec4),
  }, {
    op,
    tensors: [["a", a], ["b", b], ["out", out]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return out;
}

/**
 * `a + b` elementwise. a, b: same shape and dtype (f32, i32, u32) → out: that shape.
 *
 * @example
 * ```ts
 * import { add, getGpu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2]), [2]);
 * console.log(await add(a, a).read()); // [2, 4]
 * ```
 */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", "+", a, b);
}

/**
 * `a * b` elementwise. a, b: same shape and dtype (f32, i32, u32) → out: that shape.
 *
 * @example
 * ```ts
 * import { getGpu, mul, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2]), [2]);
 * console.log(await mul(a, a).read()); // [1, 4]
 * ```
 */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", "*", a, b);
}

/**
 * `max(x, 0)` elementwise. x: any shape, f32 or i32 → out: same shape and dtype.
 *
 * @example
 * ```ts
 * import { getGpu, relu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * console.log(await relu(tensorFromArray(new Float32Array([-1, 2]), [2])).read()); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  x.check("relu", "x");
  assertDType("relu", "x", x, ["f32", "i32"]);
  const out = emptyTensor(x.shape, x.dtype);
  const vec4 = vectorised(x.size);
  const n = vec4 ? x.size / 4 : x.size;
  const scalar = x.dtype as WgslScalar;
  dispatch({ key: `elementwise/relu/${scalar}/${vec4 ? "v4" : "s"}`, source: reluWgsl(scalar, vec4) }, {
    op: "relu",
    tensors: [["x", x], ["out", out]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return out;
}

/**
 * How {@link fillInPlace} writes zeros (mutable, for tests and benchmarks): `clearBuffer` true uses the
 * command encoder's `clearBuffer` (no dispatch), false the fill kernel.
 *
 * @example
 * ```ts
 * import { ZERO_FILL } from "./elementwise.ts";
 * console.log(ZERO_FILL.clearBuffer); // true
 * ```
 */
export const ZERO_FILL = { clearBuffer: true };

/**
 * Writes `value` into every element of `target` (in place) and returns it. target: any shape, f32/i32/u32.
 *
 * @example
 * ```ts
 * import { emptyTensor, fillInPlace, getGpu } from "./mod.ts";
 * await getGpu();
 * console.log(await fillInPlace(emptyTensor([3], "i32"), -7).read()); // [-7, -7, -7]
 * ```
 */
export function fillInPlace<T extends Tensor>(target: T, value: number): T {
  target.check("fill", "target");
  assertDType("fill", "target", target, NUMERIC);
  const word = new Uint32Array(1);
  if (target.dtype === "f32") new Float32Array(word.buffer)[0] = value;
  else if (target.dtype === "i32") new Int32Array(word.buffer)[0] = value;
  else word[0] = value;
  if (target.size === 0) return target;
  if (word[0] === 0 && ZERO_FILL.clearBuffer) {
    // all-zero bits (0, +0.0): the queue's buffer clear, a memset on lavapipe, instead of a dispatch
    currentGpu().commandEncoder().clearBuffer(target.buffer, target.byteOffset, target.byteLength);
    return target;
  }
  dispatch({ key: "elementwise/fill", source: FILL_WGSL }, {
    op: "fill",
    tensors: [["target", target]],
    params: params(["u32", target.size], ["u32", word[0]]),
    workgroups: groups(target.size),
  });
  return target;
}

/**
 * A new tensor of `shape` with every element equal to `value`.
 *
 * @example
 * ```ts
 * import { fill, getGpu } from "./mod.ts";
 * await getGpu();
 * console.log(await fill([2, 2], 0.5).read()); // [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function fill(shape: readonly number[], value: number, dtype: DType = "f32"): Tensor {
  currentGpu();
  return fillInPlace(emptyTensor(shape, dtype), value);
}

/**
 * A copy of `x` in a new buffer (same shape and dtype; f16 copied bitwise).
 *
 * @example
 * ```ts
 * import { copy, getGpu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const x = tensorFromArray(new Int32Array([1, 2, 3]), [3]);
 * console.log(await copy(x).read()); // [1, 2, 3]
 * ```
 */
export function copy<T extends Tensor>(x: T): T {
  x.check("copy", "x");
  const out = emptyTensor(x.shape, x.dtype) as T;
  const words = Math.ceil(x.byteLength / 4);
  if (words === 0) return out;
  const vec4 = vectorised(words);
  const n = vec4 ? words / 4 : words;
  dispatch({ key: `elementwise/copy/${vec4 ? "v4" : "s"}`, source: copyWgsl(vec4) }, {
    op: "copy",
    tensors: [["x", x], ["out", out]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return out;
}

/**
 * ReLU backward from the forward's OUTPUT: `gradOut · (out > 0)`. out, gradOut: same shape, f32 →
 * gradIn: that shape, f32 (a new tensor).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { reluBackward } from "./elementwise.ts";
 * await getGpu();
 * const out = tensorFromArray(new Float32Array([0, 2]), [2]);
 * const g = tensorFromArray(new Float32Array([5, 7]), [2]);
 * console.log(await reluBackward(out, g).read()); // [0, 7]
 * ```
 */
export function reluBackward(out: Tensor, gradOut: Tensor): Tensor {
  const op = "reluBackward";
  out.check(op, "out");
  gradOut.check(op, "gradOut");
  assertDType(op, "out", out, ["f32"]);
  assertDType(op, "gradOut", gradOut, ["f32"]);
  assertSameShape(op, ["out", out], ["gradOut", gradOut]);
  const gradIn = emptyTensor(out.shape, "f32");
  const vec4 = vectorised(out.size);
  const n = vec4 ? out.size / 4 : out.size;
  if (n === 0) return gradIn;
  dispatch({ key: `elementwise/relu_backward/${vec4 ? "v4" : "s"}`, source: reluBackwardWgsl(vec4) }, {
    op,
    tensors: [["out", out], ["gradOut", gradOut], ["gradIn", gradIn]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return gradIn;
}

/**
 * `target += x` in place (gradient accumulation); returns `target`. target, x: same shape, f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { addInto } from "./elementwise.ts";
 * await getGpu();
 * const acc = tensorFromArray(new Float32Array([1, 2]), [2]);
 * addInto(acc, tensorFromArray(new Float32Array([10, 20]), [2]));
 * console.log(await acc.read()); // [11, 22]
 * ```
 */
export function addInto<T extends Tensor>(target: T, x: Tensor): T {
  const op = "addInto";
  target.check(op, "target");
  x.check(op, "x");
  assertDType(op, "target", target, ["f32"]);
  assertDType(op, "x", x, ["f32"]);
  assertSameShape(op, ["target", target], ["x", x]);
  if (target.buffer === x.buffer && target.byteOffset === x.byteOffset) {
    throw new ShapeError(op, `target ${target.describe()} and x must not be the same tensor`);
  }
  const vec4 = vectorised(target.size);
  const n = vec4 ? target.size / 4 : target.size;
  if (n === 0) return target;
  dispatch({ key: `elementwise/add_into/${vec4 ? "v4" : "s"}`, source: addIntoWgsl(vec4) }, {
    op,
    tensors: [["target", target], ["x", x]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return target;
}
