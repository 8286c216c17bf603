/**
 * Splitting a large flat output into consecutive ranges that can each be bound on their own, for ops whose
 * output can exceed `maxStorageBufferBindingSize` (128 MiB on software Vulkan; e.g. 100 pasted masks of
 * 800×1066 are 341 MB of probabilities). Each range starts at a byte offset aligned to
 * `minStorageBufferOffsetAlignment` and is bound through a view tensor of the same buffer; the kernel gets
 * the range's first unit in its params. One dispatch per range, all batched: no read-back.
 *
 * (A runtime-level `Tensor.view(byteOffset, shape)` would make this helper unnecessary.)
 * @module
 */
import type { GpuContext } from "./gpu.ts";
import { Tensor } from "./tensor.ts";

let limitOverride: number | null = null;

/**
 * Test hook: pretends the binding limit is `bytes` (null restores the device limit), so that tests exercise
 * the chunked path on small tensors.
 *
 * @example
 * ```ts
 * import { setBindingLimitForTesting } from "./binding_chunks.ts";
 * setBindingLimitForTesting(4096);
 * setBindingLimitForTesting(null);
 * ```
 */
export function setBindingLimitForTesting(bytes: number | null): void {
  limitOverride = bytes;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Ranges [start, count] of `units` output units covering them in order, such that for each output with
 * `unitBytes[i]` bytes per unit the range fits one binding and starts at an aligned byte offset.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { bindingChunks } from "./binding_chunks.ts";
 * const gpu = await getGpu();
 * console.log(bindingChunks(gpu, 1000, [16, 4]).length); // 1
 * ```
 */
export function bindingChunks(
  gpu: GpuContext,
  units: number,
  unitBytes: readonly number[],
): [number, number][] {
  const limit = limitOverride ?? gpu.limits.maxStorageBufferBindingSize;
  const align = gpu.limits.minStorageBufferOffsetAlignment ?? 256;
  let step = 1; // the start of every range is a multiple of `step` units
  for (const b of unitBytes) step = lcm(step, align / gcd(b, align));
  const widest = Math.max(...unitBytes);
  const perChunk = Math.max(step, Math.floor(limit / widest / step) * step);
  const ranges: [number, number][] = [];
  for (let start = 0; start < units; start += perChunk) {
    ranges.push([start, Math.min(perChunk, units - start)]);
  }
  return ranges;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/**
 * A flat view of `elements` 4-byte elements of `t` starting at unit `start` of `unitBytes` bytes (never
 * frees the buffer); `t` itself when the view would cover all of it.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { emptyTensor } from "./tensor.ts";
 * import { rangeView } from "./binding_chunks.ts";
 * await getGpu();
 * const t = emptyTensor([1024], "f32");
 * console.log(rangeView(t, 64, 16, 256).byteOffset); // 1024
 * ```
 */
export function rangeView(t: Tensor, start: number, unitBytes: number, elements: number): Tensor {
  if (start === 0 && elements === t.size) return t;
  return new Tensor(t.gpu, [elements], t.dtype, t.buffer, t.byteOffset + start * unitBytes, t.owner ?? t);
}
