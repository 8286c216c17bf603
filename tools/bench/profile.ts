/**
 * `deno task bench --only profile`: where the GPU time of a step goes, per op, from the kernel profiler
 * (ops/profile.ts). Three workloads: (a) one demo training step (cli/demo.ts: small preset + DEMO_CONFIG,
 * 96×96, batch 4, AdamW), (b) one small-model training step at torchvision's sampling (the peer config:
 * 128×128, batch 4, 256 anchors, 512 RoIs, SGD with momentum), (c) one small-model detect at 128×128.
 * Each is warmed up once, timed once unprofiled (the wall figure), then run once more under the profiler.
 *
 * For each it prints the wall time, the profiled GPU time (the sum of the dispatches' times), the gaps
 * between dispatches on the GPU timeline (span − sum), the dispatch count, a fixed per-dispatch cost (the
 * median time of the one-workgroup dispatches: what a dispatch costs before it does work), the count and
 * time of dispatches under 100 µs, and a table of the top ops by GPU time with their share, dispatch count
 * and, for the GEMM kernels (conv2d, linear, conv_transpose2d forward, their weight and input gradients),
 * GFLOP/s from the sizes in their params blocks (left out for bounded dispatches — indirect grids or
 * `/limit` kernels — which run only the occupied RoI slots of their nominal FLOPs) and "tile use", the share
 * of the work the direct-GEMM tiles launch that lands in the output ({@link gemmLaunchedFlops}: small layers
 * leave much of a 64×128 tile idle). The demo step also gets a table by kernel key, and every workload one
 * of its GEMM dispatches by shape. Deterministic weights as the other sections (speed barely depends on
 * them; bounded dispatches scale with the proposals and detections the weights give).
 *
 * Keys: `profile_<workload>_{wall_ms,gpu_ms,gap_ms,dispatches,tiny_dispatches,tiny_ms,fixed_us_per_dispatch,
 * gemm_pct,gemm_gflops}` and, for the top ops, `profile_<workload>_op_<op>_ms`.
 * @module
 */
import { createOptimizer, generateShapesItem, trainStep } from "../../mod.ts";
import { getGpu } from "../../ops/mod.ts";
import { dispatchStats } from "../../ops/kernel.ts";
import {
  type DispatchTiming,
  type KernelProfile,
  type KernelProfileEntry,
  startKernelProfile,
  stopKernelProfile,
  summarizeKernelProfile,
} from "../../ops/profile.ts";
import { DEMO_CONFIG, DEMO_STEPS, demoOptimizer } from "../../cli/demo.ts";
import { detectImages } from "../../model/detect.ts";
import type { MaskRcnnModel } from "../../model/mask_rcnn.ts";
import { disposeOptimizer } from "../../model/optimizer.ts";
import type { OptimizerOptions } from "../../model/optimizer.ts";
import { paramTensors } from "../../model/params.ts";
import type { BenchRow } from "./_report.ts";
import { benchTrainBatch, deterministicModel } from "./_models.ts";
import { PEER_SMALL } from "./peer.ts";

/** Ops listed per workload. */
const TOP_OPS = 15;
/** Dispatches shorter than this (ms) count as "tiny": their time is mostly the fixed cost of a dispatch. */
const TINY_MS = 0.1;

/**
 * Nominal FLOPs of a GEMM dispatch from its kernel key and params words (see ops/conv2d.ts
 * `runImplicitGemm`, ops/gemm_backward.ts `accumulateParamGrads`, ops/conv2d_backward.ts), 0 for others.
 *
 * @example
 * ```ts
 * import { gemmFlops } from "./profile.ts";
 * const words = new Uint32Array([1, 8, 8, 16, 8, 8, 32, 8, 3, 3, 1, 1, 64, 4, 32]);
 * console.log(gemmFlops({ kernel: "conv2d/gemm/8x4/1x1/vv//conv", params: words })); // 589824 (2·64·32·9·16)
 * ```
 */
export function gemmFlops(d: Pick<DispatchTiming, "kernel" | "params">): number {
  const p = d.params;
  if (d.kernel.startsWith("conv2d/gemm/") || d.kernel.startsWith("gemm_backward/wgrad/")) {
    // batch h w cin ho wo cols cols4 kh kw stride pad m cin4 cout
    if (p.length < 15) return 0;
    return 2 * p[12] * p[14] * p[8] * p[9] * p[3];
  }
  if (d.kernel.startsWith("conv2d_backward/dgrad/")) {
    // batch h w cin ho wo cout cout4 kw stride cols4 mq hq wq py px ky0 kx0 kjy kjx
    if (p.length < 20) return 0;
    return 2 * p[11] * p[3] * p[6] * p[18] * p[19];
  }
  return 0;
}

/**
 * FLOPs a direct-GEMM dispatch (conv2d/linear forward, conv input gradient) computes including the
 * clamped rows and columns of its edge tiles: workgroups × tile rows × tile columns × K × 2, from the
 * tile in its kernel key (`…/{tm}x{tn4}/{wx}x{wy}/…`); NaN for other kernels and indirect dispatches.
 * Nominal ÷ launched is the share of the work that lands in the output.
 *
 * @example
 * ```ts
 * import { gemmLaunchedFlops } from "./profile.ts";
 * const params = new Uint32Array([1, 8, 8, 16, 8, 8, 32, 8, 3, 3, 1, 1, 64, 4, 32]);
 * console.log(gemmLaunchedFlops({ kernel: "conv2d/gemm/16x4/2x4/vv//conv", params, grid: [1, 1, 1] })); // 2·144·64·32
 * ```
 */
export function gemmLaunchedFlops(d: Pick<DispatchTiming, "kernel" | "params" | "grid">): number {
  const tile = d.kernel.match(/(\d+)x(\d+)\/(\d+)x(\d+)\//);
  if (!tile || d.grid === "indirect") return NaN;
  const [tm, tn4, wx, wy] = tile.slice(1).map(Number);
  const p = d.params;
  let k: number;
  if (d.kernel.startsWith("conv2d/gemm/") && p.length >= 15) k = p[8] * p[9] * p[3];
  else if (d.kernel.startsWith("conv2d_backward/dgrad/") && p.length >= 20) k = p[18] * p[19] * p[6];
  else return NaN;
  return 2 * k * d.grid[0] * d.grid[1] * d.grid[2] * tm * wy * tn4 * 4 * wx;
}

/** Nominal ÷ launched FLOPs of an entry's direct-GEMM dispatches with known grids (NaN when none). */
function entryUtilization(entry: KernelProfileEntry): number {
  let nominal = 0, launched = 0;
  for (const d of entry.dispatches) {
    const l = gemmLaunchedFlops(d);
    if (Number.isFinite(l) && l > 0) {
      nominal += gemmFlops(d);
      launched += l;
    }
  }
  return launched > 0 ? nominal / launched : NaN;
}

/**
 * `op kernel M×N×K` of a GEMM dispatch (M output rows, N output columns, K reduction; `gemm` is the forward
 * kernel, which linear input gradients run too), else its op.
 */
function gemmShape(d: DispatchTiming): string {
  const p = d.params;
  if (d.kernel.startsWith("conv2d/gemm/") && p.length >= 15) {
    return `${d.op} gemm ${p[12]}×${p[14]}×${p[8] * p[9] * p[3]}`;
  }
  if (d.kernel.startsWith("gemm_backward/wgrad/") && p.length >= 15) {
    return `${d.op} wgrad ${p[8] * p[9] * p[3]}×${p[14]}×${p[12]}`;
  }
  if (d.kernel.startsWith("conv2d_backward/dgrad/") && p.length >= 20) {
    return `${d.op} dgrad ${p[11]}×${p[3]}×${p[18] * p[19] * p[6]}`;
  }
  return d.op;
}

interface Workload {
  key: string;
  title: string;
  wallMs: number;
  profiledWallMs: number;
  profile: KernelProfile;
}

function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "—";
}

/** Whether a dispatch runs its nominal FLOPs: not bounded (indirect grid or a GPU-side row limit). */
function knownWork(d: DispatchTiming): boolean {
  return d.grid !== "indirect" && !d.kernel.includes("/limit");
}

/** GFLOP/s of the GEMM dispatches of an entry, or NaN when it has none. */
function entryGflops(entry: KernelProfileEntry): number {
  let flops = 0, ms = 0;
  for (const d of entry.dispatches) {
    const f = knownWork(d) ? gemmFlops(d) : 0;
    if (f > 0) {
      flops += f;
      ms += d.ms;
    }
  }
  return flops > 0 && ms > 0 ? flops / (ms * 1e6) : NaN;
}

/** Median time of the dispatches that run one workgroup: the cost of a dispatch that does ~nothing. */
function fixedDispatchMs(profile: KernelProfile): number {
  const small = profile.dispatches.filter((d) =>
    d.grid !== "indirect" && d.grid[0] * d.grid[1] * d.grid[2] === 1
  )
    .map((d) => d.ms).sort((a, b) => a - b);
  return small.length ? small[Math.floor(small.length / 2)] : NaN;
}

function table(entries: KernelProfileEntry[], count: number, profile: KernelProfile): string {
  const width = Math.max(24, ...entries.slice(0, count).map((e) => e.name.length));
  const lines = [
    `${"op".padEnd(width)}  ${"ms".padStart(9)}  ${"%".padStart(5)}  ${"count".padStart(5)}  ${
      "ms/disp".padStart(8)
    }  ${"GFLOP/s".padStart(7)}  ${"tile use".padStart(8)}`,
  ];
  for (const e of entries.slice(0, count)) {
    lines.push(
      `${e.name.padEnd(width)}  ${fmt(e.ms, 2).padStart(9)}  ${fmt(100 * e.share).padStart(5)}  ${
        String(e.count).padStart(5)
      }  ${fmt(e.ms / e.count, 3).padStart(8)}  ${fmt(entryGflops(e), 2).padStart(7)}  ${
        fmt(100 * entryUtilization(e), 0).padStart(7)
      }%`,
    );
  }
  const rest = entries.slice(count);
  if (rest.length) {
    const ms = rest.reduce((t, e) => t + e.ms, 0), n = rest.reduce((t, e) => t + e.count, 0);
    lines.push(
      `${`(${rest.length} more)`.padEnd(width)}  ${fmt(ms, 2).padStart(9)}  ${
        fmt(100 * ms / profile.gpuMs).padStart(5)
      }  ${String(n).padStart(5)}`,
    );
  }
  return lines.join("\n");
}

function report(w: Workload, byKernel: boolean): BenchRow[] {
  const p = w.profile;
  const fixed = fixedDispatchMs(p);
  const gemm = p.dispatches.filter((d) => gemmFlops(d) > 0);
  const gemmMs = gemm.reduce((t, d) => t + d.ms, 0);
  // rates only over dispatches with a known grid: a bounded one runs the occupied slots, not its nominal FLOPs
  const direct = gemm.filter(knownWork);
  const gemmRate = direct.reduce((t, d) => t + gemmFlops(d), 0) /
    (direct.reduce((t, d) => t + d.ms, 0) * 1e6);
  const byOp = summarizeKernelProfile(p, "op");
  const tiny = p.dispatches.filter((d) => d.ms < TINY_MS);
  const tinyMs = tiny.reduce((t, d) => t + d.ms, 0);
  console.log(
    `\n-- profile: ${w.title}\n` +
      `wall ${fmt(w.wallMs)} ms unprofiled (${fmt(w.profiledWallMs)} ms profiled); GPU ${fmt(p.gpuMs)} ms ` +
      `in ${p.dispatches.length} dispatches (timestamp queries); gaps between dispatches ${
        fmt(p.spanMs - p.gpuMs)
      } ms; ` +
      `one-workgroup dispatch ${fmt(fixed * 1000, 0)} µs (× ${p.dispatches.length} = ${
        fmt(fixed * p.dispatches.length)
      } ms); GEMM kernels ${fmt(gemmMs)} ms (${fmt(100 * gemmMs / p.gpuMs)} %) at ${
        fmt(gemmRate, 2)
      } GFLOP/s; ${tiny.length} dispatches under ${TINY_MS * 1000} µs take ${fmt(tinyMs)} ms\n` +
      table(byOp, TOP_OPS, p),
  );
  if (byKernel) console.log(`\nby kernel:\n${table(summarizeKernelProfile(p, "kernel"), TOP_OPS, p)}`);
  {
    const gemmOnly = { ...p, dispatches: p.dispatches.filter((d) => gemmFlops(d) > 0) };
    const shapes = summarizeKernelProfile({
      ...gemmOnly,
      dispatches: gemmOnly.dispatches.map((d) => ({ ...d, op: gemmShape(d) })),
    });
    console.log(`\nGEMM dispatches by shape (M×N×K):\n${table(shapes, TOP_OPS, p)}`);
  }
  const k = `profile_${w.key}`;
  const rows: BenchRow[] = [
    { label: `${w.title}: wall (unprofiled)`, value: w.wallMs, unit: "ms", key: `${k}_wall_ms` },
    { label: "  GPU time (sum of dispatches, profiled)", value: p.gpuMs, unit: "ms", key: `${k}_gpu_ms` },
    {
      label: "  gaps between dispatches (profiled)",
      value: p.spanMs - p.gpuMs,
      unit: "ms",
      key: `${k}_gap_ms`,
    },
    { label: "  dispatches", value: p.dispatches.length, unit: "", key: `${k}_dispatches` },
    {
      label: `  of them under ${TINY_MS * 1000} µs`,
      value: tiny.length,
      unit: "",
      key: `${k}_tiny_dispatches`,
    },
    { label: `  their GPU time`, value: tinyMs, unit: "ms", key: `${k}_tiny_ms` },
    {
      label: "  one-workgroup dispatch (median)",
      value: fixed * 1000,
      unit: "µs",
      key: `${k}_fixed_us_per_dispatch`,
    },
    {
      label: "  GEMM kernels' share of GPU time",
      value: 100 * gemmMs / p.gpuMs,
      unit: "%",
      key: `${k}_gemm_pct`,
    },
    {
      label: "  GEMM kernels' rate (dispatches with known grids)",
      value: gemmRate,
      unit: "GFLOP/s",
      key: `${k}_gemm_gflops`,
    },
  ];
  for (const e of byOp.slice(0, TOP_OPS)) {
    rows.push({
      label: `  ${e.name}`,
      value: e.ms,
      unit: "ms",
      key: `${k}_op_${e.name.replace(/[^A-Za-z0-9]+/g, "_").toLowerCase()}_ms`,
    });
  }
  return rows;
}

/** Warms up, times once unprofiled, then once profiled. */
async function profiled(key: string, title: string, run: (i: number) => Promise<void>): Promise<Workload> {
  await run(0);
  let t0 = performance.now();
  await run(1);
  const wallMs = performance.now() - t0;
  const before = dispatchStats().dispatches;
  await startKernelProfile();
  t0 = performance.now();
  await run(2);
  const profile = await stopKernelProfile();
  const profiledWallMs = performance.now() - t0;
  const counted = dispatchStats().dispatches - before;
  if (counted !== profile.dispatches.length) {
    throw new Error(`profile ${key}: ${profile.dispatches.length} dispatches recorded, ${counted} encoded`);
  }
  return { key, title, wallMs, profiledWallMs, profile };
}

async function trainWorkload(
  key: string,
  title: string,
  model: MaskRcnnModel,
  side: number,
  optimizer: OptimizerOptions,
): Promise<Workload> {
  const opt = createOptimizer(model, optimizer);
  const batchAt = (s: number) => benchTrainBatch(s, { height: side, width: side });
  try {
    return await profiled(key, title, async (s) => {
      await trainStep(model, batchAt(s), opt);
    });
  } finally {
    disposeOptimizer(opt);
    for (const t of paramTensors(model.params!)) t.dispose();
  }
}

/** Runs the three profiles (see the module notes). */
export async function benchProfile(): Promise<BenchRow[]> {
  await getGpu();
  const side = DEMO_CONFIG.minSize!;
  const demo = await trainWorkload(
    "demo_step",
    `demo train step (small + DEMO_CONFIG, ${side}×${side}, batch 4, AdamW)`,
    deterministicModel({ preset: "small", ...DEMO_CONFIG }),
    side,
    demoOptimizer(DEMO_STEPS),
  );
  const rows = report(demo, true);
  const train = await trainWorkload(
    "train_small_step",
    "small train step at torchvision's sampling (128×128, batch 4, 256 anchors, 512 RoIs, SGD)",
    deterministicModel(PEER_SMALL),
    128,
    { type: "sgd", lr: 0.001, momentum: 0.9, weightDecay: 1e-4 },
  );
  rows.push(...report(train, false));
  const small = deterministicModel(PEER_SMALL);
  const image = generateShapesItem(7, { width: 128, height: 128 }).image;
  const detect = await profiled("detect_small", "small detect (128×128, 20 detections)", async () => {
    await detectImages(small, [image]);
  });
  for (const t of paramTensors(small.params!)) t.dispose();
  rows.push(...report(detect, false));
  return rows;
}
