/**
 * Convolution benchmarks at the shapes that dominate ResNet-50-FPN at 800×1216: GFLOP/s (2·M·Ncols·K per
 * second) and ms of one conv2d, warmed up on a tiny input of the same pipeline, timed over `repeats`
 * batched dispatches with one sync; also the box head's fc6 linear. `CONV_BENCH_ONLY=conv3x3_256,linear_fc6`
 * limits the run to those keys.
 * @module
 */
import { currentGpu, getGpu, tensorFromArray } from "../../ops/mod.ts";
import { conv2d, packConv2dWeights } from "../../ops/conv2d.ts";
import { linear, packLinearWeights } from "../../ops/linear.ts";
import type { BenchRow } from "./_report.ts";

interface ConvShape {
  key: string;
  label: string;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  repeats: number;
}

/** The benchmarked shapes (batch 1, NHWC). */
export const CONV_SHAPES: ConvShape[] = [
  {
    key: "conv3x3_256",
    label: "conv 3×3 256→256 @200×304",
    h: 200,
    w: 304,
    cin: 256,
    cout: 256,
    k: 3,
    stride: 1,
    pad: 1,
    repeats: 1,
  },
  {
    key: "conv1x1_1024",
    label: "conv 1×1 1024→256 @50×76",
    h: 50,
    w: 76,
    cin: 1024,
    cout: 256,
    k: 1,
    stride: 1,
    pad: 0,
    repeats: 3,
  },
  {
    key: "conv3x3_s2",
    label: "conv 3×3 s2 128→128 @200×304",
    h: 200,
    w: 304,
    cin: 128,
    cout: 128,
    k: 3,
    stride: 2,
    pad: 1,
    repeats: 2,
  },
  {
    key: "conv7x7_stem",
    label: "conv 7×7 s2 3→64 @800×1216 (stem)",
    h: 800,
    w: 1216,
    cin: 3,
    cout: 64,
    k: 7,
    stride: 2,
    pad: 3,
    repeats: 1,
  },
];

function filled(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 2654435761 + seed) % 1000) / 1000 - 0.5;
  return out;
}

/** Times one conv2d per shape (those of `only` when given); rows `<key>_ms` and `<key>_gflops`. */
export async function benchConv(only = Deno.env.get("CONV_BENCH_ONLY")?.split(",")): Promise<BenchRow[]> {
  await getGpu();
  const gpu = currentGpu();
  const rows: BenchRow[] = [];
  for (const s of CONV_SHAPES) {
    if (only && !only.includes(s.key)) continue;
    const packed = packConv2dWeights(
      filled(s.cout * s.cin * s.k * s.k, 1).map((v) => v * 0.05),
      [s.cout, s.cin, s.k, s.k],
      filled(s.cout, 2),
    );
    const tiny = tensorFromArray(filled(s.k * s.k * s.cin, 3), [1, s.k, s.k, s.cin]);
    conv2d(tiny, packed, { stride: s.stride, padding: s.pad, relu: true }).dispose(); // compile the pipeline
    await gpu.sync();
    const x = tensorFromArray(filled(s.h * s.w * s.cin, 4), [1, s.h, s.w, s.cin]);
    await gpu.sync();
    const t0 = performance.now();
    for (let i = 0; i < s.repeats; i++) {
      conv2d(x, packed, { stride: s.stride, padding: s.pad, relu: true }).dispose();
    }
    await gpu.sync();
    const ms = (performance.now() - t0) / s.repeats;
    const ho = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
    const wo = Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1;
    const flops = 2 * ho * wo * s.cout * s.k * s.k * s.cin;
    rows.push({ label: `${s.label} time`, value: ms, unit: "ms", key: `${s.key}_ms` });
    rows.push({ label: `${s.label}`, value: flops / ms / 1e6, unit: "GFLOP/s", key: `${s.key}_gflops` });
    for (const t of [x, tiny, packed.weight, packed.bias]) t?.dispose();
  }
  if (!only || only.includes("linear_fc6")) rows.push(...await benchFc6());
  return rows;
}

/** The box head's fc6: 1000 RoIs × 12544 → 1024, ReLU (same GEMM kernel). */
async function benchFc6(): Promise<BenchRow[]> {
  const gpu = currentGpu();
  const [rows, inF, out] = [1000, 12544, 1024];
  const packed = packLinearWeights(filled(out * inF, 5).map((v) => v * 0.01), [out, inF], filled(out, 6));
  linear(tensorFromArray(filled(inF, 7), [1, inF]), packed, { relu: true }).dispose();
  const x = tensorFromArray(filled(rows * inF, 8), [rows, inF]);
  await gpu.sync();
  const t0 = performance.now();
  linear(x, packed, { relu: true }).dispose();
  await gpu.sync();
  const ms = performance.now() - t0;
  for (const t of [x, packed.weight, packed.bias]) t?.dispose();
  return [
    { label: "linear fc6 1000×12544 → 1024 time", value: ms, unit: "ms", key: "linear_fc6_ms" },
    {
      label: "linear fc6 1000×12544 → 1024",
      value: 2 * rows * inF * out / ms / 1e6,
      unit: "GFLOP/s",
      key: "linear_fc6_gflops",
    },
  ];
}
