/**
 * Mask R-CNN on WebGPU for Deno: every layer is a WGSL compute shader dispatched from TypeScript.
 *
 * @example Acquire the GPU and add two tensors
 * ```ts
 * import { add, getGpu, tensorFromArray } from "@maskrcnn/webgpu";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const b = tensorFromArray(new Float32Array([4, 5, 6]), [3]);
 * console.log(await add(a, b).read()); // Float32Array [5, 7, 9]
 * ```
 * @module
 */
