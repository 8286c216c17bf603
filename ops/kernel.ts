/**
 * Kernel definition and dispatch. A kernel is a WGSL source (embedded as a TypeScript string, so the module
 * works when imported from a remote URL with no read permission) compiled once per (key, override
 * constants) and dispatched with tensors at bindings 1..n and a uniform params block at binding 0.
 *
 * Workgroup counts above `maxComputeWorkgroupsPerDimension` (65,535) are folded into a 2-D grid; shaders
 * recover the linear workgroup index as `wid.y * nwg.x + wid.x` (see `shaders/common.wgsl.ts`).
 *
 * Bounded dispatches ({@link DispatchBound}): a kernel over fixed-capacity slots (proposals, detections)
 * whose occupied count is known only on the GPU runs as an indirect dispatch whose workgroup count a
 * one-invocation kernel computes from that count (`shaders/kernel.wgsl.ts`), so empty slots cost nothing
 * and nothing is read back. Their outputs hold stale values in the slots not covered; consumers must look
 * only at the occupied slots (or the validity flags that mark them). wgpu adds one validation dispatch per
 * indirect dispatch, so a bounded dispatch costs three small dispatches: use it where the slots hold real
 * work.
 * @module
 */
import { DISPATCH_ARGS_WGSL } from "../shaders/kernel.wgsl.ts";
import { currentGpu, type GpuContext } from "./gpu.ts";
import type { Tensor } from "./tensor.ts";

/** A named WGSL program. `key` must change whenever `source` changes (it keys the pipeline cache). */
export interface Kernel {
  /** Cache key and label, e.g. `elementwise/add/f32/vec4`. */
  key: string;
  /**
   * Full WGSL source with `@compute fn main`, or a function that builds it (called only when the pipeline
   * is compiled: long generated sources).
   */
  source: string | (() => string);
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
  /** Run only the workgroups that cover the occupied slots (an indirect dispatch); see {@link DispatchBound}. */
  bound?: DispatchBound;
  /**
   * Bind `tensors[index]` (a packed weight `[K, cols4·4]`, rows a multiple of 256 bytes) as the rgba32float
   * `texture` instead of a storage buffer: the weight is copied into it first, in the same command stream.
   */
  weightTexture?: { index: number; texture: GPUTexture };
}

/**
 * Which rows of a fixed-capacity tensor hold real work, counted on the GPU: `segments` blocks of `stride`
 * rows (e.g. images × slots per image), of which the first `counts[index + b]` rows of block b are in use.
 * Ops that take it run only up to the last occupied row (a bound on the row range, not a gather: empty
 * slots before the last occupied row of a batch still run) and leave stale values in the rows after it.
 */
export interface OccupiedRows {
  /** u32 counts, one per segment from `index` on. */
  counts: Tensor;
  /** First count (default 0). */
  index?: number;
  /** Number of segments (default 1). */
  segments?: number;
  /** Rows per segment (default: the whole capacity, one segment). */
  stride?: number;
}

/**
 * The occupied part of a fixed-capacity dispatch ({@link OccupiedRows}) in the kernel's work units: the
 * kernel covers `unitsPerRow` units per row (from unit `firstUnit` on, for dispatches over a range) and one
 * workgroup covers `unitsPerWorkgroup` of them along the bounded axis; only the workgroups up to the last
 * occupied row run. `axis` selects the axis of an explicit grid that covers the rows (a linear count is
 * folded as usual).
 */
export interface DispatchBound extends OccupiedRows {
  /** Work units per row (e.g. 7·7·C/4 output vectors of a RoIAlign row). */
  unitsPerRow: number;
  /** Work units per workgroup along the bounded axis. */
  unitsPerWorkgroup: number;
  /** First unit this dispatch covers (default 0). */
  firstUnit?: number;
  /** Grid axis of an explicit grid that covers the rows (ignored for a linear count). */
  axis?: 0 | 1 | 2;
}

let boundsEnabled = true;
let boundedCount = 0;

/**
 * Turns bounded (indirect) dispatches on or off for the whole process (on by default): off, every
 * dispatch covers its full capacity — for comparisons and benchmarks; results in occupied slots are the
 * same either way.
 *
 * @example
 * ```ts
 * import { setBoundedDispatch } from "./kernel.ts";
 * setBoundedDispatch(false);
 * setBoundedDispatch(true);
 * ```
 */
export function setBoundedDispatch(enabled: boolean): void {
  boundsEnabled = enabled;
}

/**
 * Runs `fn` (which encodes dispatches synchronously) with bounded dispatches on or off, then restores the
 * previous setting; they stay off if they were off.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { boundedDispatchEnabled, withBoundedDispatch } from "./kernel.ts";
 * assert.equal(withBoundedDispatch(false, () => boundedDispatchEnabled()), false);
 * assert.equal(boundedDispatchEnabled(), true);
 * ```
 */
export function withBoundedDispatch<T>(enabled: boolean, fn: () => T): T {
  const previous = boundsEnabled;
  boundsEnabled = previous && enabled;
  try {
    return fn();
  } finally {
    boundsEnabled = previous;
  }
}

/**
 * Whether bounded dispatches are on ({@link setBoundedDispatch}); kernels that take a GPU-side row limit
 * as a loop bound follow the same switch.
 *
 * @example
 * ```ts
 * import { boundedDispatchEnabled } from "./kernel.ts";
 * console.log(boundedDispatchEnabled()); // true
 * ```
 */
export function boundedDispatchEnabled(): boolean {
  return boundsEnabled;
}

/** Dispatch counters of {@link dispatchStats}. */
export interface DispatchStats {
  /** Dispatches encoded since the device was acquired (bounded ones and their workgroup-count kernels included). */
  dispatches: number;
  /** Of these, indirect dispatches (wgpu adds one validation dispatch for each). */
  indirect: number;
  /** Command buffers submitted. */
  submits: number;
}

/**
 * Counters of the current device's dispatches, for profiles and benchmarks: take the difference across
 * the work of interest.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { dispatchStats } from "./kernel.ts";
 * await getGpu();
 * const before = dispatchStats();
 * // ... encode work ...
 * console.log(dispatchStats().dispatches - before.dispatches); // 0
 * ```
 */
export function dispatchStats(): DispatchStats {
  const gpu = currentGpu();
  return { dispatches: gpu.dispatchCount, indirect: boundedCount, submits: gpu.submitCount };
}

/** Per device, a ring of 256-byte slots that hold indirect-dispatch arguments. */
const argRings = new WeakMap<
  GpuContext,
  { buffer: GPUBuffer; next: number; slots: number; slot: number; awaitCount: number }
>();

function argSlot(gpu: GpuContext): { buffer: GPUBuffer; offset: number } {
  let ring = argRings.get(gpu);
  if (!ring) {
    const slot = Math.max(256, gpu.limits.minStorageBufferOffsetAlignment);
    const slots = 1024;
    const buffer = gpu.device.createBuffer({
      label: "dispatch-args",
      size: slot * slots,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT,
    });
    ring = { buffer, next: 0, slots, slot, awaitCount: gpu.awaitCount };
    argRings.set(gpu, ring);
  }
  // Reusing a slot is safe: the queue runs dispatches in order, so the indirect dispatch that read a slot
  // has run before a later workgroup-count kernel overwrites it. The ring starts over after each awaited
  // batch (one a detect / training step), so a step's bounded dispatches use the same slots every step and
  // find their bind groups again (GpuContext's bind-group cache).
  if (ring.awaitCount !== gpu.awaitCount) {
    ring.awaitCount = gpu.awaitCount;
    ring.next = 0;
  }
  const offset = ring.next * ring.slot;
  ring.next = (ring.next + 1) % ring.slots;
  return { buffer: ring.buffer, offset };
}

function encodeBounded(
  gpu: GpuContext,
  spec: DispatchSpec,
  bound: DispatchBound,
  grid: readonly [number, number, number],
): { buffer: GPUBuffer; offset: number } {
  const linear = typeof spec.workgroups === "number";
  const axis = linear ? 3 : bound.axis ?? 0;
  const staticCount = linear ? Math.max(0, spec.workgroups as number) : grid[axis as 0 | 1 | 2];
  const segments = bound.segments ?? 1;
  const args = argSlot(gpu);
  const counts = bound.counts;
  const entries: GPUBindGroupEntry[] = [
    {
      binding: 0,
      resource: gpu.uniformBinding(params(
        ["u32", segments],
        ["u32", bound.stride ?? 0xffffffff],
        ["u32", bound.index ?? 0],
        ["u32", bound.unitsPerRow],
        ["u32", bound.firstUnit ?? 0],
        ["u32", bound.unitsPerWorkgroup],
        ["u32", staticCount],
        ["u32", gpu.limits.maxComputeWorkgroupsPerDimension],
        ["u32", axis],
        ["u32", grid[0]],
        ["u32", grid[1]],
        ["u32", grid[2]],
      )),
    },
    { binding: 1, resource: counts.binding(spec.op, "bound counts") },
    { binding: 2, resource: { buffer: args.buffer, offset: args.offset, size: 16 } },
  ];
  gpu.encodeDispatch(
    gpu.pipeline("kernel/dispatch_args", DISPATCH_ARGS_WGSL),
    entries,
    [1, 1, 1],
    () => `${spec.op} workgroup count (counts ${counts.describe()})`,
    () => ({ op: "kernel/dispatch_args", kernel: "kernel/dispatch_args", grid: [1, 1, 1] }),
  );
  boundedCount++;
  return args;
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
  const grid = typeof spec.workgroups === "number"
    ? foldWorkgroups(spec.workgroups, gpu.limits.maxComputeWorkgroupsPerDimension)
    : spec.workgroups;
  // The workgroup-count kernel goes first: its uniform slot may flush the batch, which must not happen
  // between this dispatch's uniform slot and its encoding.
  const workgroups = boundsEnabled && spec.bound ? encodeBounded(gpu, spec, spec.bound, grid) : grid;
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: gpu.uniformBinding(spec.params) }];
  const tex = spec.weightTexture;
  if (tex) copyWeightToTexture(gpu, spec.tensors[tex.index][1], tex.texture);
  spec.tensors.forEach(([name, tensor], i) => {
    entries.push({
      binding: i + 1,
      resource: tex?.index === i ? textureView(tex.texture) : tensor.binding(spec.op, name),
    });
  });
  const pipeline = gpu.pipeline(kernel.key, kernel.source, spec.constants);
  gpu.encodeDispatch(
    pipeline,
    entries,
    workgroups,
    () =>
      `${spec.op} (${spec.tensors.map(([n, t]) => `${n} ${t.describe()}`).join(", ")}${
        tex ? "; weight texture" : ""
      })`,
    () => ({
      op: spec.op,
      kernel: kernel.key,
      params: spec.params,
      grid: "buffer" in workgroups ? "indirect" : grid,
    }),
  );
}

const textureViews = new WeakMap<GPUTexture, GPUTextureView>();

/**
 * The default view of `texture`, created once: on lavapipe (through wgpu) `createView` blocks until all
 * submitted GPU work is done, so one per dispatch stalled the encoding of every batch behind the GPU
 * (a demo step spent ~0.5 s there; see tools/bench/profile.ts).
 */
function textureView(texture: GPUTexture): GPUTextureView {
  let view = textureViews.get(texture);
  if (!view) textureViews.set(texture, view = texture.createView());
  return view;
}

/** Copies a packed weight `[K, cols4·4]` into its scratch rgba32float texture (cols4 × K texels). */
function copyWeightToTexture(gpu: GpuContext, weight: Tensor, texture: GPUTexture): void {
  const [k, colsW] = weight.shape;
  gpu.commandEncoder().copyBufferToTexture(
    { buffer: weight.buffer, offset: weight.byteOffset, bytesPerRow: colsW * 4, rowsPerImage: k },
    { texture },
    [colsW / 4, k],
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
