/**
 * Typed errors of the GPU runtime and the ops. Every message names the op, tensor or limit at fault so
 * that a user never has to decode a raw WebGPU validation message.
 * @module
 */

/**
 * Base class of every error thrown by this library's GPU layer.
 *
 * @example Telling our errors from others
 * ```ts
 * import { MaskRcnnGpuError } from "./errors.ts";
 * try { throw new MaskRcnnGpuError("boom"); } catch (e) { console.log(e instanceof MaskRcnnGpuError); }
 * ```
 */
export class MaskRcnnGpuError extends Error {
  /** Creates the error; `name` is set to the subclass name. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * No WebGPU adapter was found (no GPU driver, or no software Vulkan on a GPU-less machine).
 *
 * @example
 * ```ts
 * import { NoAdapterError } from "./errors.ts";
 * console.log(new NoAdapterError().message.includes("mesa-vulkan-drivers"));
 * ```
 */
export class NoAdapterError extends MaskRcnnGpuError {
  /** Creates the error with the installation hint. */
  constructor(detail = "") {
    super(
      "No WebGPU adapter found" + (detail ? ` (${detail})` : "") + ". Install a GPU driver with Vulkan, " +
        "Metal or D3D12 support, or on a GPU-less Linux machine install software Vulkan with " +
        "`apt-get install -y mesa-vulkan-drivers`. Deno needs `--unstable-webgpu` on versions that gate WebGPU.",
    );
  }
}

/**
 * The GPU device was lost (driver reset, out of memory, or `destroy()`); tensors made on it are invalid.
 *
 * @example
 * ```ts
 * import { DeviceLostError } from "./errors.ts";
 * console.log(new DeviceLostError("unknown", "driver reset").message);
 * ```
 */
export class DeviceLostError extends MaskRcnnGpuError {
  /** @param reason WebGPU's loss reason; @param detail its message. */
  constructor(reason: string, detail: string) {
    super(
      `The WebGPU device was lost (reason: ${reason}${detail ? `, ${detail}` : ""}). ` +
        "Tensors created on it are no longer valid; call getGpu() again to acquire a new device.",
    );
  }
}

/**
 * A tensor argument has the wrong shape, rank or size for an op.
 *
 * @example
 * ```ts
 * import { ShapeError } from "./errors.ts";
 * console.log(new ShapeError("add", "a [2,3] and b [3,2] differ").message);
 * ```
 */
export class ShapeError extends MaskRcnnGpuError {
  /** @param op the op name; @param detail which tensors and shapes. */
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

/**
 * A tensor argument has the wrong dtype for an op.
 *
 * @example
 * ```ts
 * import { DTypeError } from "./errors.ts";
 * console.log(new DTypeError("relu", "x is i32, expected f32").message);
 * ```
 */
export class DTypeError extends MaskRcnnGpuError {
  /** @param op the op name; @param detail which tensor and dtypes. */
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

/**
 * A tensor was used after `dispose()` (or after the `tidy` scope that owned it ended).
 *
 * @example
 * ```ts
 * import { DisposedTensorError } from "./errors.ts";
 * console.log(new DisposedTensorError("add", "a", [2, 3]).message);
 * ```
 */
export class DisposedTensorError extends MaskRcnnGpuError {
  /** @param op the op; @param what the argument name; @param shape the tensor's shape. */
  constructor(op: string, what: string, shape: readonly number[]) {
    super(`${op}: tensor ${what} [${shape.join(",")}] was already disposed`);
  }
}

/**
 * A buffer or binding would exceed one of the adapter's limits.
 *
 * @example
 * ```ts
 * import { LimitError } from "./errors.ts";
 * console.log(new LimitError("copy", "x [40000000] f32 is 160000000 bytes > maxStorageBufferBindingSize 134217728").message);
 * ```
 */
export class LimitError extends MaskRcnnGpuError {
  /** @param op the op; @param detail the sizes and the limit. */
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

/**
 * WebGPU reported a validation or out-of-memory error for a shader or a dispatch.
 *
 * @example
 * ```ts
 * import { GpuValidationError } from "./errors.ts";
 * console.log(new GpuValidationError("add (a [3] f32)", "line 4: unknown identifier").message);
 * ```
 */
export class GpuValidationError extends MaskRcnnGpuError {
  /** @param where the op and its input shapes; @param detail the WebGPU message (with shader line). */
  constructor(where: string, detail: string) {
    super(`${where}: ${detail}`);
  }
}
