/**
 * The one GPU context of the process: adapter, device, limits, features, the pipeline cache, the buffer
 * pool and the command encoder that batches dispatches. `getGpu()` acquires it once and shares it.
 *
 * Decisions: the device is requested with the adapter's own maximum limits (the default 128 MiB binding and
 * 256 MiB buffer sizes are too small for R50-FPN at 800×1333) and every optional feature that helps.
 * Dispatches are encoded into one encoder and submitted in batches (`batchSize` dispatches, or at a read);
 * uniforms of a batch are packed into one arena buffer. Debug mode (`MASKRCNN_WEBGPU_DEBUG=1` or
 * `getGpu({ debug: true })`) submits each dispatch alone inside an error scope so that a validation error
 * names the op, its shapes and the shader line.
 * @module
 */
import { BufferPool } from "./buffer_pool.ts";
import { DeviceLostError, GpuValidationError, MaskRcnnGpuError, NoAdapterError } from "./errors.ts";

/** Options of {@link getGpu}. */
export interface GpuOptions {
  /** Submit and validate every dispatch alone (slow); default from `MASKRCNN_WEBGPU_DEBUG`. */
  debug?: boolean;
  /** Dispatches per submitted command buffer; default 128. */
  batchSize?: number;
  /** Adapter power preference; default `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
}

/** Summary of the adapter and device that {@link getGpu} acquired. */
export interface GpuInfo {
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** Vendor string or id. */
  vendor: string;
  /** True for a software (fallback) adapter. */
  isFallbackAdapter: boolean;
  /** Optional features enabled on the device. */
  features: string[];
  /** The limits this library relies on, as granted. */
  limits: Record<string, number>;
  /**
   * The subgroup size where the device has the `subgroups` feature and the adapter's subgroup size is
   * fixed (`subgroupMinSize == subgroupMaxSize`: lavapipe's SIMD width, 8 on AVX2), else null.
   */
  subgroupSize: number | null;
  /**
   * `LP_NUM_THREADS` as this process had it when the adapter was requested (what lavapipe runs with;
   * see {@link SOFTWARE_THREADS}), or null where it was unset and left so (Mesa's default: one per core).
   */
  softwareThreads: string | null;
}

const WANTED_FEATURES = ["shader-f16", "subgroups", "timestamp-query"] as const;
/**
 * wgpu's native feature for `atomic<f32>` (`atomicAdd` on f32 in storage buffers). Deno's adapters do not
 * list it in `adapter.features`, but wgpu grants it when requested by name where the driver supports it
 * (lavapipe included), so the device is requested with it first and without it if that fails.
 */
export const FLOAT32_ATOMIC_FEATURE = "wgpu-shader-float32-atomic";
/**
 * Features requested although the adapter may not list them: {@link FLOAT32_ATOMIC_FEATURE}, and
 * `subgroups`, which Deno 2.9 grants on lavapipe on request while its adapter does not list it.
 */
const UNLISTED_FEATURES = [FLOAT32_ATOMIC_FEATURE, "subgroups"] as const;
const WANTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "maxUniformBufferBindingSize",
  "maxTextureDimension2D",
] as const;

/** Bytes reserved per dispatch in the uniform arena (≥ minUniformBufferOffsetAlignment). */
export const UNIFORM_SLOT_BYTES = 256;
const ARENA_SLOTS = 1024;

/**
 * Bind groups kept for reuse per context (least recently used evicted first). Why: WebGPU has no way to free
 * a bind group but dropping it, and on lavapipe each one holds a descriptor set with its own memory mapping
 * (`/memfd:allocation` in /proc/PID/maps) until the garbage collector finalizes it. A training step makes
 * ~550 of them; the mappings piled up between collections to ~56,000 of Linux's default limit of 65,530
 * (`vm.max_map_count`) in a demo run on a 2-core Zen 5 machine, and one run crashed in the driver (a
 * segmentation fault in memset at address −1: a failed mmap's result, unchecked). The same ops on the same
 * pooled buffers recur every step, so most dispatches find their bind group here (~85 % of a demo step's
 * 556; the ~75 new ones a step are mostly the rotating indirect-argument slots and per-step inputs), and
 * the mappings grow ~6× slower between collections. `GpuContext.bindGroupStats` counts both.
 *
 * @example
 * ```ts
 * import { BIND_GROUP_CACHE, getGpu } from "./gpu.ts";
 * const gpu = await getGpu();
 * console.log(BIND_GROUP_CACHE.maxEntries, gpu.bindGroupStats); // 4096 { created: …, reused: … }
 * ```
 */
export const BIND_GROUP_CACHE = { maxEntries: 4096 };

interface PendingCheck {
  where: string;
  promise: Promise<GPUError | null>;
}

/** What a dispatch is, for the kernel profiler (ops/profile.ts); built only while one records. */
export interface DispatchLabel {
  /** The op (`DispatchSpec.op`). */
  op: string;
  /** The kernel's cache key (variant included). */
  kernel: string;
  /** The dispatch's uniform params block (sizes), when it has one. */
  params?: ArrayBufferView;
  /** The workgroup grid, or `"indirect"` for a bounded dispatch. */
  grid: readonly [number, number, number] | "indirect";
}

/**
 * The hook of ops/profile.ts: while set on {@link GpuContext.recorder}, every dispatch is encoded in a
 * compute pass of its own with the timestamp writes this returns, then reported with its label.
 */
export interface DispatchRecorder {
  /** Timestamp writes for the next dispatch's pass (may encode a query resolve into `encoder` first). */
  timestampWrites(encoder: GPUCommandEncoder): GPUComputePassTimestampWrites;
  /** Called after the dispatch is encoded. */
  recorded(label: DispatchLabel): void;
}

/** Workgroup counts read by the GPU from `buffer` at byte `offset` (three u32: x, y, z; see ops/kernel.ts). */
export interface IndirectWorkgroups {
  buffer: GPUBuffer;
  offset: number;
}

/**
 * The shared GPU state. Ops reach it through {@link getGpu} or {@link currentGpu}.
 *
 * @example Acquire the device and print the adapter
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * const gpu = await getGpu();
 * console.log(gpu.info.description, gpu.limits.maxStorageBufferBindingSize);
 * ```
 */
export class GpuContext {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** The adapter's and device's description. */
  readonly info: GpuInfo;
  /** The device limits as granted. */
  readonly limits: GPUSupportedLimits;
  /** Whether every dispatch is validated alone. */
  debug: boolean;
  /** Dispatches per submit. */
  batchSize: number;
  /** The storage-buffer pool. */
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private readonly arenaCpu = new Uint8Array(UNIFORM_SLOT_BYTES * ARENA_SLOTS);
  private arenaGpu: GPUBuffer;
  private arenaUsed = 0;
  private pendingChecks: PendingCheck[] = [];
  private uncaptured: GPUError | null = null;
  private lost: GPUDeviceLostInfo | null = null;
  /** Number of dispatches encoded since the context was created. */
  dispatchCount = 0;
  /** Bind groups created and reused since the context was created ({@link BIND_GROUP_CACHE}). */
  readonly bindGroupStats = { created: 0, reused: 0 };
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private readonly objectIds = new WeakMap<object, number>();
  private nextObjectId = 1;
  /**
   * Whether kernels that scatter-add floats use `atomicAdd` on `atomic<f32>` (true when the device has
   * {@link FLOAT32_ATOMIC_FEATURE}); set it to false to force the compare-exchange loop on u32 bit casts
   * (tests run both paths).
   */
  useFloatAtomics: boolean;
  /** Number of command buffers submitted since the context was created. */
  submitCount = 0;
  /**
   * Number of times the work submitted so far was awaited ({@link sync}, read-backs): each call of a
   * training step or detect ends with one, so per-call state (the indirect-argument ring of ops/kernel.ts)
   * can start over and the same dispatches bind the same resources every call.
   */
  awaitCount = 0;
  /** The kernel profiler's hook while a profile records (ops/profile.ts); null otherwise (no cost). */
  recorder: DispatchRecorder | null = null;

  /** Wraps an acquired device; use {@link getGpu} instead. */
  constructor(device: GPUDevice, info: GpuInfo, options: GpuOptions) {
    this.device = device;
    this.info = info;
    this.limits = device.limits;
    this.debug = options.debug ?? debugFromEnv();
    this.batchSize = options.batchSize ?? 128;
    this.pool = new BufferPool(device);
    this.useFloatAtomics = (device.features as unknown as ReadonlySet<string>).has(FLOAT32_ATOMIC_FEATURE);
    this.arenaGpu = this.createArena();
    device.lost.then((lostInfo) => {
      this.lost = lostInfo;
      if (current === this) {
        current = null;
        lostContext = this;
      }
    });
    device.addEventListener("uncapturederror", (event) => {
      this.uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
  }

  private createArena(): GPUBuffer {
    return this.device.createBuffer({
      label: "uniform-arena",
      size: this.arenaCpu.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Throws {@link DeviceLostError} if the device is gone. */
  assertAlive(): void {
    if (this.lost) throw new DeviceLostError(this.lost.reason, this.lost.message);
  }

  /**
   * Returns the compute pipeline for a WGSL source and override constants, compiling it on first use.
   * `key` identifies the source (op name plus variant) so that the cache never hashes long strings;
   * `source` may be a function, called only when the pipeline is compiled (the unrolled GEMM sources are
   * long: building one per dispatch cost a demo step ~20 ms of the CPU the adapter runs on).
   */
  pipeline(
    key: string,
    source: string | (() => string),
    constants: Record<string, number> = {},
  ): GPUComputePipeline {
    const constKeys = Object.keys(constants).sort();
    const fullKey = key +
      (constKeys.length ? "|" + constKeys.map((k) => `${k}=${constants[k]}`).join(",") : "");
    let pipeline = this.pipelines.get(fullKey);
    if (pipeline) return pipeline;
    this.assertAlive();
    if (this.debug) this.device.pushErrorScope("validation");
    const code = typeof source === "string" ? source : source();
    const module = this.device.createShaderModule({ label: key, code });
    pipeline = this.device.createComputePipeline({
      label: key,
      layout: "auto",
      compute: { module, entryPoint: "main", constants },
    });
    if (this.debug) {
      const scope = this.device.popErrorScope();
      this.pendingChecks.push({
        where: `shader "${key}"`,
        promise: scope.then(async (error) => {
          if (!error) return null;
          const info = await module.getCompilationInfo();
          const lines = info.messages.map((m) => `line ${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
          return { message: (lines.length ? lines.join("; ") + " — " : "") + error.message } as GPUError;
        }),
      });
    }
    this.pipelines.set(fullKey, pipeline);
    return pipeline;
  }

  /**
   * Reserves a uniform slot for one dispatch, copies `data` into the arena and returns the binding.
   * Flushes the batch first when the arena is full.
   */
  uniformBinding(data: ArrayBufferView): GPUBufferBinding {
    if (data.byteLength > UNIFORM_SLOT_BYTES) {
      throw new MaskRcnnGpuError(`uniform block of ${data.byteLength} bytes > ${UNIFORM_SLOT_BYTES}`);
    }
    if (this.arenaUsed >= ARENA_SLOTS) this.flush();
    const offset = this.arenaUsed * UNIFORM_SLOT_BYTES;
    this.arenaCpu.set(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength), offset);
    this.arenaUsed++;
    return { buffer: this.arenaGpu, offset, size: Math.max(16, align(data.byteLength, 16)) };
  }

  /**
   * Encodes one compute dispatch into the current batch. `where` describes the op and its input shapes
   * for error messages (evaluated only when an error is reported); `label` names it for the kernel
   * profiler (`label()` is called only while {@link recorder} is set).
   */
  encodeDispatch(
    pipeline: GPUComputePipeline,
    entries: GPUBindGroupEntry[],
    workgroups: readonly [number, number, number] | IndirectWorkgroups,
    where: () => string,
    label?: () => DispatchLabel,
  ): void {
    this.assertAlive();
    if (this.debug) this.device.pushErrorScope("validation");
    const bindGroup = this.bindGroup(pipeline, entries);
    const recorder = this.recorder;
    let pass: GPUComputePassEncoder;
    if (recorder) {
      // Profiling: one pass per dispatch, timed by the pass's timestamp writes.
      const encoder = this.commandEncoder();
      pass = encoder.beginComputePass({ timestampWrites: recorder.timestampWrites(encoder) });
    } else {
      pass = this.computePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    if ("buffer" in workgroups) pass.dispatchWorkgroupsIndirect(workgroups.buffer, workgroups.offset);
    else pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    this.dispatchCount++;
    this.dispatchesInBatch++;
    if (recorder) {
      pass.end();
      recorder.recorded(
        label?.() ??
          {
            op: "unlabelled",
            kernel: pipeline.label,
            grid: "buffer" in workgroups ? "indirect" : workgroups,
          },
      );
    }
    if (this.debug) {
      this.flush();
      this.pendingChecks.push({ where: where(), promise: this.device.popErrorScope() });
    } else if (this.dispatchesInBatch >= this.batchSize) {
      this.flush();
    }
  }

  /** A per-context number for a GPU object (bind-group cache keys). */
  private objectId(object: object): number {
    let id = this.objectIds.get(object);
    if (id === undefined) this.objectIds.set(object, id = this.nextObjectId++);
    return id;
  }

  /** The bind group of `pipeline` with `entries`, reused when the same resources were bound before. */
  private bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    let key = String(this.objectId(pipeline));
    for (const entry of entries) {
      const r = entry.resource as GPUBufferBinding | GPUTextureView;
      key += "buffer" in r
        ? `|${entry.binding}:${this.objectId(r.buffer)}:${r.offset ?? 0}:${r.size ?? "all"}`
        : `|${entry.binding}:v${this.objectId(r)}`;
    }
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key); // most recently used last
      this.bindGroupStats.reused++;
    } else {
      let layout = this.layouts.get(pipeline);
      if (!layout) this.layouts.set(pipeline, layout = pipeline.getBindGroupLayout(0));
      group = this.device.createBindGroup({ layout, entries });
      this.bindGroupStats.created++;
      while (this.bindGroups.size > 0 && this.bindGroups.size >= BIND_GROUP_CACHE.maxEntries) {
        this.bindGroups.delete(this.bindGroups.keys().next().value!);
      }
    }
    this.bindGroups.set(key, group);
    return group;
  }

  /** The open compute pass of the current batch (one pass holds many dispatches). */
  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  /** The current command encoder with no compute pass open, for copies. */
  commandEncoder(): GPUCommandEncoder {
    this.assertAlive();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submits everything encoded so far (uniforms first). Cheap when nothing is pending. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) return;
    this.assertAlive();
    if (this.arenaUsed > 0) {
      this.device.queue.writeBuffer(this.arenaGpu, 0, this.arenaCpu, 0, this.arenaUsed * UNIFORM_SLOT_BYTES);
      this.arenaUsed = 0;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.submitCount++;
    this.encoder = null;
    this.dispatchesInBatch = 0;
  }

  /**
   * Submits pending work, waits for the GPU to finish it and throws the first recorded error
   * (validation error with its op in debug mode, any uncaptured error otherwise, or device loss).
   */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.awaitCount++;
    await this.throwPendingErrors();
  }

  /** Throws the first error recorded by debug-mode error scopes or the uncaptured-error handler. */
  async throwPendingErrors(): Promise<void> {
    this.assertAlive();
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    for (const check of checks) {
      const error = await check.promise;
      if (error) throw new GpuValidationError(check.where, error.message);
    }
    if (this.uncaptured) {
      const error = this.uncaptured;
      this.uncaptured = null;
      throw new GpuValidationError(
        "a GPU command",
        error.message + " (run with MASKRCNN_WEBGPU_DEBUG=1 to find the op at fault)",
      );
    }
  }

  /** Frees pooled buffers and cached bind groups; the context stays usable. */
  trim(): void {
    this.flush();
    this.pool.trim();
    this.bindGroups.clear();
  }
}

let current: GpuContext | null = null;
let lostContext: GpuContext | null = null;
let pending: Promise<GpuContext> | null = null;

/**
 * Acquires the adapter and device once and returns the shared {@link GpuContext}. Later calls return the
 * same context (options of later calls are ignored except `debug` and `batchSize`, which are updated).
 * Throws {@link NoAdapterError} when WebGPU or an adapter is missing.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * const gpu = await getGpu({ debug: false });
 * console.log(gpu.info.features);
 * ```
 */
export async function getGpu(options: GpuOptions = {}): Promise<GpuContext> {
  if (current) {
    if (options.debug !== undefined) current.debug = options.debug;
    if (options.batchSize !== undefined) current.batchSize = options.batchSize;
    return current;
  }
  pending ??= acquire(options).finally(() => pending = null);
  current = await pending;
  return current;
}

/**
 * The context acquired by {@link getGpu}; throws if none was acquired yet. Ops are synchronous and use this.
 *
 * @example
 * ```ts
 * import { currentGpu, getGpu } from "./gpu.ts";
 * await getGpu();
 * console.log(currentGpu().info.description);
 * ```
 */
export function currentGpu(): GpuContext {
  if (!current) {
    lostContext?.assertAlive();
    throw new MaskRcnnGpuError(
      "No GPU context: call `await getGpu()` once before creating tensors or running ops",
    );
  }
  return current;
}

/**
 * Whether the GEMM kernels (conv2d, linear, their backward) take their `software` tiles: 8 rows × 16
 * channels per invocation, the fastest on Mesa's lavapipe through Deno's wgpu/naga. Only on a fallback
 * adapter, and not in a browser page: Chromium's Tint + SwiftShader took 78–106 s to compile each such
 * fully unrolled tile (128 accumulators) against 0.6 s for the 4-row `hardware` tile (measured with
 * tools/browser/compile_times.ts), so a page takes the hardware tiles everywhere.
 *
 * @example
 * ```ts
 * import { getGpu, softwareGemmTiles } from "./gpu.ts";
 * await getGpu();
 * console.log(softwareGemmTiles()); // true on lavapipe in Deno
 * ```
 */
export function softwareGemmTiles(): boolean {
  const inBrowser = (globalThis as { Deno?: unknown }).Deno === undefined;
  return currentGpu().info.isFallbackAdapter && !inBrowser;
}

/**
 * Compute threads of Mesa's software adapter (lavapipe), set through `LP_NUM_THREADS` before the adapter is
 * requested when the user has not set it: `perCore` threads per logical core, on machines of at most
 * `maxCores` cores (others keep Mesa's default of one per core). Hardware drivers ignore the variable.
 *
 * Why: lavapipe splits each dispatch's workgroups into equal shares, one per thread, fixed at launch, and
 * the dispatch ends when the last share does. With one thread per core, whatever else runs on a core (the
 * JavaScript that encodes the next dispatches, the driver's queue thread) delays that core's share while
 * the other cores wait: on a 2-core Zen 3 machine the cores idled ~26 % of a demo training step. With two
 * threads per core the shares are half as large and the OS moves the runnable ones to whichever core is
 * free (demo steps ~8 % faster, alternating runs; an odd count such as 3 on 2 cores was slower).
 *
 * @example
 * ```ts
 * import { SOFTWARE_THREADS } from "./gpu.ts";
 * console.log(SOFTWARE_THREADS.perCore); // 2
 * ```
 */
export const SOFTWARE_THREADS: { perCore: number; maxCores: number } = { perCore: 2, maxCores: 16 };

/** Sets `LP_NUM_THREADS` per {@link SOFTWARE_THREADS} where unset and allowed; returns the value in force. */
function softwareThreads(): string | null {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "LP_NUM_THREADS" }).state !== "granted") {
      return null;
    }
    const set = Deno.env.get("LP_NUM_THREADS");
    if (set !== undefined) return set;
    const cores = navigator.hardwareConcurrency;
    if (!(cores >= 1) || cores > SOFTWARE_THREADS.maxCores) return null;
    const threads = String(cores * SOFTWARE_THREADS.perCore);
    Deno.env.set("LP_NUM_THREADS", threads);
    return threads;
  } catch {
    return null; // not Deno (a browser page), or no env permission
  }
}

async function acquire(options: GpuOptions): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoAdapterError("navigator.gpu is undefined");
  const lavapipeThreads = softwareThreads();
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  } catch (error) {
    throw new NoAdapterError(String(error));
  }
  if (!adapter) throw new NoAdapterError();
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const name of WANTED_LIMITS) {
    if (typeof adapterLimits[name] === "number") requiredLimits[name] = adapterLimits[name];
  }
  // Every subset of the unlisted features, largest first; the last try (none) throws what it throws.
  const unlisted = UNLISTED_FEATURES.filter((f) =>
    !(adapter.features as unknown as ReadonlySet<string>).has(f)
  );
  const tries = Array.from({ length: 1 << unlisted.length }, (_, bits) => (1 << unlisted.length) - 1 - bits)
    .map((bits) => unlisted.filter((_, i) => bits & (1 << i)) as string[] as GPUFeatureName[]);
  let device: GPUDevice | null = null;
  for (const extra of tries) {
    const descriptor = { requiredFeatures: [...requiredFeatures, ...extra], requiredLimits };
    if (extra.length === 0) device = await adapter.requestDevice(descriptor);
    else device = await adapter.requestDevice(descriptor).catch(() => null);
    if (device) break;
  }
  if (!device) throw new NoAdapterError("requestDevice failed");
  const adapterInfo = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = (device.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") limits[name] = value;
  }
  const info: GpuInfo = {
    description: adapterInfo.description || adapterInfo.device || adapterInfo.architecture ||
      "unknown adapter",
    vendor: adapterInfo.vendor,
    isFallbackAdapter: (adapterInfo as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    features: [...device.features],
    limits,
    subgroupSize: fixedSubgroupSize(device, adapterInfo),
    softwareThreads: lavapipeThreads,
  };
  return new GpuContext(device, info, options);
}

function fixedSubgroupSize(device: GPUDevice, info: GPUAdapterInfo): number | null {
  if (!device.features.has("subgroups")) return null;
  const sizes = info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
  const size = sizes.subgroupMinSize;
  return size !== undefined && size > 0 && size === sizes.subgroupMaxSize ? size : null;
}

function debugFromEnv(): boolean {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: "MASKRCNN_WEBGPU_DEBUG" }).state;
    if (state !== "granted") return false;
    const value = Deno.env.get("MASKRCNN_WEBGPU_DEBUG");
    return value !== undefined && value !== "" && value !== "0";
  } catch {
    return false;
  }
}

/** Rounds `n` up to a multiple of `alignment`. */
export function align(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
