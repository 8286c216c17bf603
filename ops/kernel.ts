/**
 * Kernel definition and dispatch. A kernel is a WGSL source (embedded as a TypeScript string, so the module
 * works when imported from a remote URL with no read permission) compiled once per (key, override
 * constants) and dispatched with tensors at bindings 1..n and a uniform params block at binding 0.
 *
 * Workgroup counts above `maxComputeWorkgroupsPerDimension` (65,535) are folded into a 2-D grid; shaders
 * recover the linear workgroup index as `wid.y * nwg.x + wid.x` (see `shaders/common.wgsl.ts`).
 * @module
 */
import { currentGpu, type GpuContext } from "./gpu.ts";
import type { Tensor } from "./tensor.ts";

/** A named WGSL program. `key` must change whenever `source` changes (it keys the pipeline cache). */
export interface Kernel {
  /** Cache key and label, e.g. `elementwise/add/f32/vec4`. */
  key: string;
  /** Full WGSL source with `@compute fn main`. */
  source: string;
}

/** A tensor bound to the kernel, with the name used in error messages. */
export type NamedTensor = readonly [name: string, tensor: Tensor];

/** One dispatch of a kernel. */
export interface DispatchSpec {
  /** The op, for error messages. */
  op: string;
  /** Tensors in binding order 1..n (binding 0 is the params block). */
  tensors: readonly NamedTensor[];
  /** The params block (u32/i32/f32 words), at most 256 bytes. */
  params: ArrayBufferView;
  /** Workgroup count along x (linear, folded into 2-D when too large), or an explicit [x, y, z] grid. */
  workgroups: number | readonly [number, number, number];
  /** WGSL override constants. */
  constants?: Record<string, number>;
}

/**
 * Folds a linear workgroup count into a grid within the per-dimension limit.
 *
 * @example
 * ```ts
 * import { foldWorkgroups } from "./kernel.ts";
 * console.log(foldWorkgroups(100000, 65535)); // [50000, 2, 1]
 * ```
 */
export function foldWorkgroups(count: number, maxPerDimension: number): [number, number, number] {
  if (count <= maxPerDimension) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / maxPerDimension);
  return [Math.ceil(count / y), y, 1];
}

/**
 * Encodes one dispatch into the current batch (nothing is submitted unless the batch is full).
 *
 * @example A kernel that fills a tensor with its indices
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { dispatch } from "./kernel.ts";
 * import { emptyTensor } from "./tensor.ts";
 * await getGpu();
 * const out = emptyTensor([5], "u32");
 * dispatch({ key: "iota", source: `
 *   struct P { n: u32 }
 *   @group(0) @binding(0) var<uniform> p: P;
 *   @group(0) @binding(1) var<storage, read_write> o: array<u32>;
 *   @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
 *     if (g.x < p.n) { o[g.x] = g.x; }
 *   }` }, { op: "iota", tensors: [["out", out]], params: new Uint32Array([5]), workgroups: 1 });
 * console.log(await out.read());
 * ```
 */
export function dispatch(kernel: Kernel, spec: DispatchSpec): void {
  const gpu: GpuContext = spec.tensors[0]?.[1].gpu ?? currentGpu();
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: gpu.uniformBinding(spec.params) }];
  spec.tensors.forEach(([name, tensor], i) => {
    entries.push({ binding: i + 1, resource: tensor.binding(spec.op, name) });
  });
  const pipeline = gpu.pipeline(kernel.key, kernel.source, spec.constants);
  const grid = typeof spec.workgroups === "number"
    ? foldWorkgroups(spec.workgroups, gpu.limits.maxComputeWorkgroupsPerDimension)
    : spec.workgroups;
  gpu.encodeDispatch(
    pipeline,
    entries,
    grid,
    () => `${spec.op} (${spec.tensors.map(([n, t]) => `${n} ${t.describe()}`).join(", ")})`,
  );
}

/**
 * Packs a params block from a list of words, each a number and its WGSL type, padded to 16 bytes.
 *
 * @example
 * ```ts
 * import { params } from "./kernel.ts";
 * const block = params(["u32", 10], ["f32", 0.5]);
 * console.log(block.byteLength); // 16
 * ```
 */
export function params(...words: readonly (readonly ["u32" | "i32" | "f32", number])[]): Uint32Array {
  const out = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  const asF32 = new Float32Array(out.buffer);
  const asI32 = new Int32Array(out.buffer);
  words.forEach(([type, value], i) => {
    if (type === "f32") asF32[i] = value;
    else if (type === "i32") asI32[i] = value;
    else out[i] = value;
  });
  return out;
}
