/**
 * Per-kernel GPU time: {@link startKernelProfile} / {@link stopKernelProfile} record, for every dispatch
 * encoded in between, its op, kernel key, params block and GPU time; {@link summarizeKernelProfile} adds
 * them up per op or kernel.
 *
 * Decisions: while a profile records, every dispatch gets a compute pass of its own whose
 * `timestampWrites` stamp its start and end (WebGPU's `timestamp-query` feature, which ops/gpu.ts requests
 * whenever the adapter offers it — Deno 2.9's wgpu grants it on lavapipe, whose timestamps are the CPU's
 * monotonic clock in nanoseconds). Queries go into sets of {@link QUERIES_PER_SET} that are resolved into a
 * mappable buffer when full and at the stop, so nothing is read back until {@link stopKernelProfile}.
 * There is no wall-clock fallback: ops encode synchronously, so a `queue.onSubmittedWorkDone()` callback
 * per dispatch runs only when the caller next awaits, and would pin every dispatch's time on whichever ran
 * last before that (tried: a whole demo step landed on one op); without the feature
 * {@link startKernelProfile} throws. A pass per dispatch adds some overhead of its own (on lavapipe ~5–20 %
 * of a training step's wall time), so time the work unprofiled for the wall figure. With no profile
 * recording, the only cost is one null check per dispatch.
 * @module
 */
import { currentGpu, type DispatchLabel, type DispatchRecorder, type GpuContext } from "./gpu.ts";
import { MaskRcnnGpuError } from "./errors.ts";

/** Timestamp queries per query set (two per dispatch; WebGPU allows 4096 per set). */
export const QUERIES_PER_SET = 4096;

/** One profiled dispatch. */
export interface DispatchTiming {
  /** The op that dispatched it (`DispatchSpec.op`; `kernel/dispatch_args` for a bounded dispatch's count). */
  op: string;
  /** The kernel's cache key (variant included). */
  kernel: string;
  /** A copy of its uniform params block as u32 words (the sizes of GEMM kernels, for FLOP counts). */
  params: Uint32Array;
  /** Its workgroup grid, or `"indirect"`. */
  grid: readonly [number, number, number] | "indirect";
  /** GPU time in milliseconds. */
  ms: number;
  /** Start, in milliseconds after the first profiled dispatch's start. */
  startMs: number;
}

/** The result of {@link stopKernelProfile}. */
export interface KernelProfile {
  /** Every dispatch, in encoding (= execution) order. */
  dispatches: DispatchTiming[];
  /** Sum of the dispatches' times (ms). */
  gpuMs: number;
  /** From the first dispatch's start to the last one's end (ms); minus `gpuMs`, the gaps between them. */
  spanMs: number;
}

/** Time of one op or kernel in a {@link KernelProfile}. */
export interface KernelProfileEntry {
  /** The op or kernel key. */
  name: string;
  /** Total GPU time (ms). */
  ms: number;
  /** Share of the profile's `gpuMs` (0..1). */
  share: number;
  /** Dispatches. */
  count: number;
  /** Its dispatches, for further detail (e.g. FLOP counts from their params). */
  dispatches: DispatchTiming[];
}

interface QueryChunk {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  read: GPUBuffer;
  used: number;
  resolved: boolean;
}

class Recorder implements DispatchRecorder {
  readonly labels: DispatchLabel[] = [];
  readonly chunks: QueryChunk[] = [];
  constructor(readonly gpu: GpuContext) {}

  timestampWrites(encoder: GPUCommandEncoder): GPUComputePassTimestampWrites {
    let chunk = this.chunks.at(-1);
    if (!chunk || chunk.used + 2 > QUERIES_PER_SET) {
      if (chunk) this.resolveChunk(chunk, encoder);
      chunk = this.newChunk();
    }
    const index = chunk.used;
    chunk.used += 2;
    return { querySet: chunk.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  recorded(label: DispatchLabel): void {
    this.labels.push(label);
  }

  private newChunk(): QueryChunk {
    const device = this.gpu.device;
    const bytes = QUERIES_PER_SET * 8;
    const chunk: QueryChunk = {
      querySet: device.createQuerySet({ type: "timestamp", count: QUERIES_PER_SET }),
      resolve: device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      read: device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      used: 0,
      resolved: false,
    };
    this.chunks.push(chunk);
    return chunk;
  }

  resolveChunk(chunk: QueryChunk, encoder: GPUCommandEncoder): void {
    if (chunk.resolved || chunk.used === 0) return;
    encoder.resolveQuerySet(chunk.querySet, 0, chunk.used, chunk.resolve, 0);
    encoder.copyBufferToBuffer(chunk.resolve, 0, chunk.read, 0, chunk.used * 8);
    chunk.resolved = true;
  }

  /** Start and end (ns, relative to the first start) of every dispatch. */
  async spans(): Promise<[number, number][]> {
    const raw: bigint[] = [];
    for (const chunk of this.chunks) {
      await chunk.read.mapAsync(GPUMapMode.READ, 0, chunk.used * 8);
      raw.push(...new BigUint64Array(chunk.read.getMappedRange(0, chunk.used * 8)));
      chunk.read.unmap();
    }
    const spans: [number, number][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) spans.push([Number(raw[i]), Number(raw[i + 1])]);
    return spans;
  }

  destroy(): void {
    for (const chunk of this.chunks) {
      chunk.querySet.destroy();
      chunk.resolve.destroy();
      chunk.read.destroy();
    }
  }
}

/**
 * Starts recording the GPU time of every dispatch of the current device (after waiting for the work
 * already submitted). Throws {@link MaskRcnnGpuError} if a profile is already recording or the device has
 * no `timestamp-query` feature.
 *
 * @example Profile one conv and one add
 * ```ts
 * import assert from "node:assert";
 * import { add, getGpu, tensorFromArray } from "./mod.ts";
 * import { conv2d, packConv2dWeights } from "./conv2d.ts";
 * import { startKernelProfile, stopKernelProfile, summarizeKernelProfile } from "./profile.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(16 * 16 * 8).fill(1), [1, 16, 16, 8]);
 * const w = packConv2dWeights(new Float32Array(8 * 8 * 9).fill(0.1), [8, 8, 3, 3]);
 * await startKernelProfile();
 * const y = add(conv2d(x, w, { padding: 1 }), x);
 * const profile = await stopKernelProfile();
 * assert.deepStrictEqual(profile.dispatches.map((d) => d.op), ["conv2d", "add"]);
 * for (const { name, ms, count } of summarizeKernelProfile(profile)) {
 *   console.log(`${name}: ${ms.toFixed(3)} ms over ${count} dispatch(es)`);
 * }
 * console.log((await y.read())[0]);
 * ```
 */
export async function startKernelProfile(): Promise<void> {
  const gpu = currentGpu();
  if (gpu.recorder) throw new MaskRcnnGpuError("startKernelProfile: a kernel profile is already recording");
  if (!(gpu.device.features as unknown as ReadonlySet<string>).has("timestamp-query")) {
    throw new MaskRcnnGpuError(
      `startKernelProfile: the device (${gpu.info.description}) has no "timestamp-query" feature, ` +
        `so dispatches cannot be timed one by one`,
    );
  }
  await gpu.sync();
  gpu.recorder = new Recorder(gpu);
}

/**
 * Stops the profile started by {@link startKernelProfile}: waits for the recorded work, reads the
 * timestamps back and returns every dispatch's time. Throws if no profile is recording.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * import { startKernelProfile, stopKernelProfile } from "./profile.ts";
 * await getGpu();
 * await startKernelProfile();
 * const profile = await stopKernelProfile();
 * console.log(profile.dispatches.length, profile.gpuMs); // 0 0
 * ```
 */
export async function stopKernelProfile(): Promise<KernelProfile> {
  const gpu = currentGpu();
  const recorder = gpu.recorder;
  if (!(recorder instanceof Recorder)) {
    throw new MaskRcnnGpuError("stopKernelProfile: no kernel profile is recording (call startKernelProfile)");
  }
  gpu.recorder = null;
  try {
    const last = recorder.chunks.at(-1);
    if (last) recorder.resolveChunk(last, gpu.commandEncoder());
    await gpu.sync();
    const spans = await recorder.spans();
    const origin = spans.length ? spans[0][0] : 0;
    let gpuMs = 0, end = origin;
    const dispatches = recorder.labels.map((label, i): DispatchTiming => {
      const [s, e] = spans[i] ?? [origin, origin];
      const ms = Math.max(0, e - s) / 1e6;
      gpuMs += ms;
      end = Math.max(end, e);
      const p = label.params;
      return {
        op: label.op,
        kernel: label.kernel,
        params: p
          ? new Uint32Array(p.buffer.slice(p.byteOffset, p.byteOffset + (p.byteLength & ~3)))
          : new Uint32Array(),
        grid: label.grid,
        ms,
        startMs: (s - origin) / 1e6,
      };
    });
    return {
      dispatches,
      gpuMs,
      spanMs: (end - origin) / 1e6,
    };
  } finally {
    recorder.destroy();
  }
}

/**
 * Adds up a profile's dispatches per op (default) or per kernel key, longest total first.
 *
 * @example
 * ```ts
 * import { summarizeKernelProfile } from "./profile.ts";
 * const d = (op: string, ms: number) => ({ op, kernel: op, params: new Uint32Array(), grid: [1, 1, 1] as const, ms, startMs: 0 });
 * const rows = summarizeKernelProfile({ dispatches: [d("a", 1), d("b", 3), d("a", 1)], gpuMs: 5, spanMs: 5 });
 * console.log(rows.map((r) => `${r.name} ${r.ms} ${r.count}`)); // ["b 3 1", "a 2 2"]
 * ```
 */
export function summarizeKernelProfile(
  profile: KernelProfile,
  by: "op" | "kernel" = "op",
): KernelProfileEntry[] {
  const groups = new Map<string, KernelProfileEntry>();
  for (const d of profile.dispatches) {
    const name = by === "op" ? d.op : d.kernel;
    let entry = groups.get(name);
    if (!entry) groups.set(name, entry = { name, ms: 0, share: 0, count: 0, dispatches: [] });
    entry.ms += d.ms;
    entry.count++;
    entry.dispatches.push(d);
  }
  const entries = [...groups.values()];
  for (const e of entries) e.share = profile.gpuMs > 0 ? e.ms / profile.gpuMs : 0;
  return entries.sort((a, b) => b.ms - a.ms);
}
