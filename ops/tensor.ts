/**
 * GPU tensors: a shape, a dtype and a pooled storage buffer (plus a byte offset for views). Creation from
 * typed arrays, one-shot read-back of one or many tensors, explicit `dispose()`, and `tidy()` scopes that
 * free every intermediate created inside them except what they return.
 *
 * Layout: dense row-major. Element type per dtype: f32 → Float32Array, i32 → Int32Array, u32 → Uint32Array
 * (f16 is reserved for later: stored as Uint16Array bits).
 * @module
 */
import { currentGpu, type GpuContext } from "./gpu.ts";
import { DisposedTensorError, DTypeError, LimitError, ShapeError } from "./errors.ts";

/** Element types of tensors. */
export type DType = "f32" | "i32" | "u32" | "f16";

/** The typed array that holds each dtype on the CPU. */
export type TypedArrayFor<D extends DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : D extends "u32" ? Uint32Array
  : Uint16Array;

/** Any typed array a tensor can be created from or read into. */
export type TensorData = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, i32: 4, u32: 4, f16: 2 };

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

let nextId = 1;
const scopes: Set<Tensor>[] = [];

/**
 * A dense tensor in a GPU storage buffer.
 *
 * @example Upload, compute, read back, free
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * const t = tensorFromArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * console.log(t.shape, await t.read());
 * t.dispose();
 * ```
 */
export class Tensor<D extends DType = DType> {
  /** Unique id, for debugging. */
  readonly id = nextId++;
  /** Element count. */
  readonly size: number;
  private disposedFlag = false;

  /**
   * Wraps a buffer; prefer {@link tensorFromArray} / {@link emptyTensor}.
   * `owner` is the tensor whose buffer this one views (views never free the buffer).
   */
  constructor(
    readonly gpu: GpuContext,
    readonly shape: readonly number[],
    readonly dtype: D,
    readonly buffer: GPUBuffer,
    readonly byteOffset = 0,
    readonly owner: Tensor | null = null,
  ) {
    this.size = shapeSize(shape);
    scopes.at(-1)?.add(this);
  }

  /** Bytes of the tensor's elements. */
  get byteLength(): number {
    return this.size * DTYPE_BYTES[this.dtype];
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True after {@link dispose} (or when the viewed tensor was disposed). */
  get disposed(): boolean {
    return this.disposedFlag || (this.owner?.disposed ?? false);
  }

  /** Returns the buffer to the pool; the tensor must not be used afterwards. Idempotent. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    if (!this.owner) this.gpu.pool.release(this.buffer);
  }

  /** A view of the same elements with another shape of equal size (no copy). */
  reshape(shape: readonly number[]): Tensor<D> {
    this.check("reshape", "x");
    if (shapeSize(shape) !== this.size) {
      throw new ShapeError("reshape", `cannot view x [${this.shape}] (${this.size} elements) as [${shape}]`);
    }
    return new Tensor(this.gpu, [...shape], this.dtype, this.buffer, this.byteOffset, this.owner ?? this);
  }

  /** Throws if the tensor was disposed; `op`/`name` go into the message. */
  check(op: string, name: string): this {
    if (this.disposed) throw new DisposedTensorError(op, name, this.shape);
    return this;
  }

  /** The binding of this tensor's bytes (at least 4 bytes, so empty tensors can be bound). */
  binding(op: string, name: string): GPUBufferBinding {
    this.check(op, name);
    const size = Math.max(4, Math.ceil(this.byteLength / 4) * 4);
    const limit = this.gpu.limits.maxStorageBufferBindingSize;
    if (size > limit) {
      throw new LimitError(
        op,
        `${name} [${this.shape}] ${this.dtype} is ${size} bytes > maxStorageBufferBindingSize ${limit}`,
      );
    }
    return { buffer: this.buffer, offset: this.byteOffset, size };
  }

  /** Reads the elements back to the CPU (submits pending work). */
  async read(): Promise<TypedArrayFor<D>> {
    const [data] = await readTensors([this]);
    return data as TypedArrayFor<D>;
  }

  /** Short description for error messages, e.g. `[2,3] f32`. */
  describe(): string {
    return `[${this.shape.join(",")}] ${this.dtype}`;
  }
}

function arrayFor(dtype: DType, buffer: ArrayBuffer, byteOffset: number, length: number): TensorData {
  switch (dtype) {
    case "f32":
      return new Float32Array(buffer, byteOffset, length);
    case "i32":
      return new Int32Array(buffer, byteOffset, length);
    case "u32":
      return new Uint32Array(buffer, byteOffset, length);
    case "f16":
      return new Uint16Array(buffer, byteOffset, length);
  }
}

function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof Uint32Array) return "u32";
  return "f16";
}

/**
 * Allocates a tensor without initialising it (its contents are whatever the pooled buffer held).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { emptyTensor } from "./tensor.ts";
 * await getGpu();
 * const t = emptyTensor([4, 5], "f32");
 * console.log(t.size); // 20
 * ```
 */
export function emptyTensor<D extends DType = "f32">(
  shape: readonly number[],
  dtype: D = "f32" as D,
): Tensor<D> {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError("emptyTensor", `invalid shape [${shape}]`);
  }
  const gpu = currentGpu();
  gpu.assertAlive();
  const bytes = shapeSize(shape) * DTYPE_BYTES[dtype];
  if (bytes > gpu.limits.maxBufferSize) {
    throw new LimitError(
      "emptyTensor",
      `[${shape}] ${dtype} is ${bytes} bytes > maxBufferSize ${gpu.limits.maxBufferSize}`,
    );
  }
  return new Tensor(gpu, [...shape], dtype, gpu.pool.acquire(Math.max(4, bytes)));
}

/**
 * Uploads a typed array as a tensor. The dtype follows the array type unless given (f16 needs Uint16Array).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * const labels = tensorFromArray(new Int32Array([1, 3, 2]), [3]);
 * console.log(labels.dtype); // "i32"
 * ```
 */
export function tensorFromArray<D extends DType>(
  data: TensorData,
  shape: readonly number[],
  dtype?: D,
): Tensor<D> {
  const type = (dtype ?? dtypeOf(data)) as D;
  if (shapeSize(shape) !== data.length) {
    throw new ShapeError(
      "tensorFromArray",
      `shape [${shape}] needs ${shapeSize(shape)} elements, got ${data.length}`,
    );
  }
  if (dtypeOf(data) !== type && !(type === "f16" && data instanceof Uint16Array)) {
    throw new DTypeError("tensorFromArray", `a ${data.constructor.name} cannot hold dtype ${type}`);
  }
  const tensor = emptyTensor(shape, type);
  if (data.byteLength > 0) {
    // writeBuffer needs a multiple of 4 bytes; f16 arrays of odd length get one padding element.
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : copyPadded(bytes);
    tensor.gpu.flush(); // keep queue order: earlier encoded dispatches may still read the recycled buffer
    tensor.gpu.device.queue.writeBuffer(tensor.buffer, tensor.byteOffset, padded);
  }
  return tensor;
}

/**
 * Overwrites a tensor's elements with `data` (same length and element type), in queue order.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { emptyTensor, writeTensor } from "./tensor.ts";
 * await getGpu();
 * const t = writeTensor(emptyTensor([3], "f32"), new Float32Array([1, 2, 3]));
 * console.log(await t.read());
 * ```
 */
export function writeTensor<T extends Tensor>(tensor: T, data: TensorData): T {
  tensor.check("writeTensor", "tensor");
  if (data.length !== tensor.size || dtypeOf(data) !== tensor.dtype) {
    throw new ShapeError(
      "writeTensor",
      `${data.constructor.name}(${data.length}) does not fit tensor ${tensor.describe()}`,
    );
  }
  if (data.byteLength === 0) return tensor;
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  tensor.gpu.flush(); // keep queue order with dispatches encoded before
  tensor.gpu.device.queue.writeBuffer(
    tensor.buffer,
    tensor.byteOffset,
    bytes.byteLength % 4 === 0 ? bytes : copyPadded(bytes),
  );
  return tensor;
}

function copyPadded(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}

/**
 * Reads several tensors back with one staging buffer and one `mapAsync` (each read-back costs a GPU sync,
 * ~11.5 ms on software Vulkan, so read everything a call needs at once).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { readTensors, tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const b = tensorFromArray(new Int32Array([3]), [1]);
 * const [da, db] = await readTensors([a, b]);
 * console.log(da, db);
 * ```
 */
export async function readTensors(tensors: readonly Tensor[]): Promise<TensorData[]> {
  if (tensors.length === 0) return [];
  const gpu = tensors[0].gpu;
  const offsets: number[] = [];
  let total = 0;
  tensors.forEach((t, i) => {
    t.check("readTensors", `#${i}`);
    offsets.push(total);
    total += Math.ceil(t.byteLength / 4) * 4;
  });
  const staging = gpu.device.createBuffer({
    size: Math.max(4, total),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = gpu.commandEncoder();
  tensors.forEach((t, i) => {
    const bytes = Math.ceil(t.byteLength / 4) * 4;
    if (bytes > 0) encoder.copyBufferToBuffer(t.buffer, t.byteOffset, staging, offsets[i], bytes);
  });
  gpu.flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
    gpu.awaitCount++;
  } catch (error) {
    gpu.assertAlive();
    await gpu.throwPendingErrors();
    throw error;
  }
  await gpu.throwPendingErrors();
  const copy = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return tensors.map((t, i) => arrayFor(t.dtype, copy, offsets[i], t.size));
}

type Kept =
  | Tensor
  | readonly Kept[]
  | { readonly [key: string]: Kept }
  | number
  | string
  | boolean
  | null
  | undefined;

function collect(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) {
    into.add(value);
    if (value.owner) into.add(value.owner);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, into);
  } else if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) collect(v, into);
  }
}

/** Runs `fn` with a new innermost scope: the tensors made meanwhile are collected in `scope`. */
function runInScope<T>(fn: () => T): { result: T; scope: Set<Tensor> } {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  try {
    return { result: fn(), scope };
  } finally {
    scopes.pop();
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (directly, in an
 * array or in a plain object), which move to the enclosing scope. Synchronous, like `tf.tidy`.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray, tidy } from "./tensor.ts";
 * import { add, relu } from "./elementwise.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([-1, 2]), [2]);
 * const y = tidy(() => relu(add(x, x))); // the add's output is freed, y survives
 * console.log(await y.read());
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const { result, scope } = runInScope(fn);
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) if (!keep.has(t)) t.dispose();
  const parent = scopes.at(-1);
  if (parent) { for (const t of keep) if (scope.has(t)) parent.add(t); }
  return result;
}

/**
 * Like {@link tidy}, for work split by an `await`: runs `fn`, disposes the tensors it made except those it
 * returns, and hands those back with a `dispose` that frees them (not tensors `keep`-ed inside `fn`, nor
 * tensors made before). They do not move to an enclosing scope.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray, tidyHeld } from "./tensor.ts";
 * await getGpu();
 * const held = tidyHeld(() => ({ x: tensorFromArray(new Float32Array([1]), [1]) }));
 * console.log(await held.result.x.read()); // one read-back between two halves of a computation
 * held.dispose();
 * ```
 */
export function tidyHeld<T>(fn: () => T): { result: T; dispose: () => void } {
  const { result, scope } = runInScope(fn);
  // Only tensors of this scope matter; walk each object once (results may share sub-objects widely).
  const kept = new Set<Tensor>();
  const seen = new Set<unknown>();
  const walk = (value: unknown): void => {
    if (value instanceof Tensor) {
      if (scope.has(value)) kept.add(value);
      if (value.owner && scope.has(value.owner)) kept.add(value.owner);
    } else if (value && typeof value === "object" && !ArrayBuffer.isView(value) && !seen.has(value)) {
      seen.add(value);
      for (const v of value instanceof Map ? value.values() : Object.values(value)) walk(v);
    }
  };
  walk(result);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  return {
    result,
    dispose: () => {
      for (const t of scope) if (kept.has(t)) t.dispose();
    },
  };
}

/**
 * Exempts a tensor from the enclosing {@link tidy} scopes (it must then be disposed by hand).
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { keep, tensorFromArray, tidy } from "./tensor.ts";
 * await getGpu();
 * let cache;
 * tidy(() => { cache = keep(tensorFromArray(new Float32Array([1]), [1])); });
 * console.log(cache!.disposed); // false
 * ```
 */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}
