/**
 * Backward benchmarks of the GEMM ops (training): the input gradient and the weight gradient of a 3×3
 * 256→256 conv at 100×152 (an FPN / ResNet layer at a 400×608 training image) and of the box head's fc6
 * (512 RoIs × 12544 → 1024). Each gradient is timed alone (pipelines compiled first on a smaller input of
 * the same variants), one sync per measurement; GFLOP/s count 2·M·N·K per GEMM, and the `_backward_` total
 * is the sum of the two. `CONV_BACKWARD_BENCH_ONLY=conv3x3_256,linear_fc6` limits the run.
 * @module
 */
import { currentGpu, getGpu, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { packConv2dWeights } from "../../ops/conv2d.ts";
import { conv2dBackward } from "../../ops/conv2d_backward.ts";
import { linearBackward, packLinearWeights } from "../../ops/linear.ts";
import type { BenchRow } from "./_report.ts";

function filled(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 2654435761 + seed) % 1000) / 1000 - 0.5) * scale;
  return out;
}

/** ms of `run` (one encode, one sync) after one warm-up call of `warm`. */
async function time(warm: () => void, run: () => void): Promise<number> {
  const gpu = currentGpu();
  warm();
  await gpu.sync();
  const t0 = performance.now();
  run();
  await gpu.sync();
  return performance.now() - t0;
}

function rows(key: string, label: string, inputMs: number, weightMs: number, flops: number): BenchRow[] {
  const total = inputMs + weightMs;
  return [
    { label: `${label} grad input time`, value: inputMs, unit: "ms", key: `${key}_backward_input_ms` },
    {
      label: `${label} grad input`,
      value: flops / inputMs / 1e6,
      unit: "GFLOP/s",
      key: `${key}_backward_input_gflops`,
    },
    { label: `${label} grad weight time`, value: weightMs, unit: "ms", key: `${key}_backward_weight_ms` },
    {
      label: `${label} grad weight`,
      value: flops / weightMs / 1e6,
      unit: "GFLOP/s",
      key: `${key}_backward_weight_gflops`,
    },
    { label: `${label} backward time`, value: total, unit: "ms", key: `${key}_backward_ms` },
    {
      label: `${label} backward`,
      value: 2 * flops / total / 1e6,
      unit: "GFLOP/s",
      key: `${key}_backward_gflops`,
    },
  ];
}

async function benchConv3x3(): Promise<BenchRow[]> {
  const [h, w, c] = [100, 152, 256];
  const packed = packConv2dWeights(filled(c * c * 9, 1, 0.05), [c, c, 3, 3], filled(c, 2));
  const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
  const opts = { stride: 1, padding: 1 };
  const owned: Tensor[] = [packed.weight, packed.bias!, gw];
  const make = (hh: number, ww: number) => {
    const x = tensorFromArray(filled(hh * ww * c, 3), [1, hh, ww, c]);
    const g = tensorFromArray(filled(hh * ww * c, 4), [1, hh, ww, c]);
    owned.push(x, g);
    return { x, g };
  };
  const small = make(24, 38);
  const big = make(h, w);
  const input = (t: { x: Tensor; g: Tensor }) => () =>
    conv2dBackward(t.x, packed, t.g, {}, opts).gradInput!.dispose();
  const weight = (t: { x: Tensor; g: Tensor }) => () =>
    void conv2dBackward(t.x, packed, t.g, { weight: gw }, { ...opts, needInputGrad: false });
  const inputMs = await time(input(small), input(big));
  const weightMs = await time(weight(small), weight(big));
  for (const t of owned) t.dispose();
  return rows("conv3x3_256", "conv 3×3 256→256 @100×152", inputMs, weightMs, 2 * h * w * c * c * 9);
}

async function benchFc6(): Promise<BenchRow[]> {
  const [r, inF, out] = [512, 12544, 1024];
  const packed = packLinearWeights(filled(out * inF, 5, 0.01), [out, inF], filled(out, 6));
  const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
  const owned: Tensor[] = [packed.weight, packed.bias!, gw];
  const make = (rr: number) => {
    const x = tensorFromArray(filled(rr * inF, 7), [rr, inF]);
    const g = tensorFromArray(filled(rr * out, 8), [rr, out]);
    owned.push(x, g);
    return { x, g };
  };
  const small = make(64);
  const big = make(r);
  const input = (t: { x: Tensor; g: Tensor }) => () =>
    linearBackward(t.x, packed, t.g, {}).gradInput!.dispose();
  const weight = (t: { x: Tensor; g: Tensor }) => () =>
    void linearBackward(t.x, packed, t.g, { weight: gw }, { needInputGrad: false });
  const inputMs = await time(input(small), input(big));
  const weightMs = await time(weight(small), weight(big));
  for (const t of owned) t.dispose();
  return rows("linear_fc6", "linear fc6 512×12544 → 1024", inputMs, weightMs, 2 * r * inF * out);
}

/**
 * Times the conv and fc6 backward passes; rows `<key>_backward_{input,weight}_{ms,gflops}` and the totals
 * `<key>_backward_{ms,gflops}` for keys `conv3x3_256` and `linear_fc6`.
 *
 * @example
 * ```ts
 * import { benchConvBackward } from "./conv_backward.ts";
 * // `deno task bench --only conv_backward` runs this; CONV_BACKWARD_BENCH_ONLY=linear_fc6 keeps one key.
 * const rows = await benchConvBackward();
 * for (const row of rows) console.log(`${row.label}: ${row.value.toFixed(2)} ${row.unit}`);
 * ```
 */
export async function benchConvBackward(): Promise<BenchRow[]> {
  await getGpu();
  const only = Deno.env.get("CONV_BACKWARD_BENCH_ONLY")?.split(",");
  const out: BenchRow[] = [];
  if (!only || only.includes("conv3x3_256")) out.push(...await benchConv3x3());
  if (!only || only.includes("linear_fc6")) out.push(...await benchFc6());
  return out;
}
