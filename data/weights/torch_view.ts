/**
 * Strided views of torch storages: the bounds and overlap check a checkpoint's `(offset, shape, stride)`
 * must pass before anything is allocated, and the copy of a checked view into a contiguous array.
 *
 * Decisions: a view must lie inside its storage (offset ≥ 0, last element < storage size, computed so
 * that no intermediate exceeds the storage size, hence no float rounding), so every value it yields is a
 * real storage element (no `undefined` → NaN reads). Its non-zero strides must not overlap (sorted by
 * stride, each must exceed the reach of the smaller ones), so without broadcasting it has at most as many
 * elements as its storage. Stride-0 dimensions are broadcasts (`expand`, which torch saves as such); they
 * may repeat elements, up to {@link MAX_BROADCAST_ELEMENTS} elements in all (or the storage size if larger).
 * @module
 */
import { WeightsFormatError } from "./errors.ts";

/** A tensor's view of its storage, in elements. */
export interface TensorView {
  offset: number;
  shape: readonly number[];
  stride: readonly number[];
}

/**
 * Most elements a broadcast (stride-0) view may expand to when its storage is smaller: 16 Mi (64 MiB as
 * f32), far above any expanded buffer of a detection model.
 *
 * @example
 * ```ts
 * import { MAX_BROADCAST_ELEMENTS } from "./torch_view.ts";
 * console.log(MAX_BROADCAST_ELEMENTS); // 16777216
 * ```
 */
export const MAX_BROADCAST_ELEMENTS = 1 << 24;

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/**
 * Checks that `view` lies inside a storage of `storageSize` elements and does not overlap itself; throws
 * {@link WeightsFormatError} naming `file` and `tensor` otherwise.
 *
 * @example
 * ```ts
 * import { checkView } from "./torch_view.ts";
 * checkView("w.pth", "fc.weight", { offset: 0, shape: [2, 3], stride: [3, 1] }, 6); // fine
 * try { checkView("w.pth", "fc.weight", { offset: -1, shape: [2, 3], stride: [1, 2] }, 6); }
 * catch (e) { console.log((e as Error).message.includes("fc.weight")); } // true
 * ```
 */
export function checkView(file: string, tensor: string, view: TensorView, storageSize: number): void {
  const { offset, shape, stride } = view;
  const describe = `view (offset ${offset}, shape [${shape}], stride [${stride}])`;
  const fail = (why: string): never => {
    throw new WeightsFormatError(file, `tensor ${tensor}: ${describe} ${why}`);
  };
  if (!isCount(storageSize)) fail(`has a storage of invalid size ${storageSize}`);
  if (!isCount(offset)) fail("has a negative or non-integer offset");
  if (shape.length !== stride.length) fail("has shape and stride of different rank");
  if (!shape.every(isCount) || !stride.every(isCount)) fail("has a negative or non-integer size or stride");
  if (shape.includes(0)) {
    if (offset > storageSize) fail(`starts past its storage of ${storageSize} elements`);
    return;
  }
  let last = offset;
  if (last >= storageSize) fail(`starts past its storage of ${storageSize} elements`);
  const dims = shape.map((size, i) => ({ size, stride: stride[i] })).filter((d) => d.size > 1);
  for (const d of dims) {
    const span = (d.size - 1) * d.stride;
    if (span >= storageSize - last) fail(`exceeds its storage of ${storageSize} elements`);
    last += span;
  }
  const strided = dims.filter((d) => d.stride > 0).sort((a, b) => a.stride - b.stride);
  let reach = 0;
  for (const d of strided) {
    if (d.stride <= reach) {
      fail("overlaps itself (two indices address one storage element); save it with .contiguous()");
    }
    reach += (d.size - 1) * d.stride;
  }
  let count = 1;
  for (const d of dims) count *= d.size;
  if (count > Math.max(storageSize, MAX_BROADCAST_ELEMENTS)) {
    fail(`broadcasts to ${count} elements, more than the ${MAX_BROADCAST_ELEMENTS} allowed`);
  }
}

/**
 * Copies a view (checked by {@link checkView}) of `storage` into a new contiguous row-major array.
 *
 * @example
 * ```ts
 * import { materialiseView } from "./torch_view.ts";
 * const t = materialiseView(new Float32Array([1, 2, 3, 4, 5, 6]), { offset: 0, shape: [3, 2], stride: [1, 3] });
 * console.log(t); // Float32Array [1, 4, 2, 5, 3, 6]
 * ```
 */
export function materialiseView(storage: Float32Array, view: TensorView): Float32Array {
  const { offset: base, shape, stride } = view;
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return new Float32Array(0);
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) return storage.slice(base, base + n);
  const out = new Float32Array(n);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = base;
  for (let i = 0; i < n; i++) {
    out[i] = storage[src];
    for (let d = rank - 1; d >= 0; d--) { // odometer increment of the multi-index
      if (++index[d] < shape[d]) {
        src += stride[d];
        break;
      }
      src -= (shape[d] - 1) * stride[d];
      index[d] = 0;
    }
  }
  return out;
}
