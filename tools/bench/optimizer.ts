/**
 * Optimizer benchmarks: one SGD step, one SGD step with global-norm clipping and one AdamW step over the
 * trainable parameters of R50-FPN Mask R-CNN (every state_dict tensor except batch-norm buffers, at their
 * packed shapes: ~44 M values; backbone convs with their folded-BN column scale). GB/s counts the bytes
 * the update must move: SGD reads p, g, buf and writes p, buf (20 B/value); AdamW reads p, g, m, v and
 * writes p, m, v (28 B/value); clipping adds one more read of g (4 B/value).
 * @module
 */
import { getGpu } from "../../ops/mod.ts";
import { fill } from "../../ops/elementwise.ts";
import { adamwUpdate, globalGradNorm, sgdUpdate, type UpdateTarget } from "../../ops/optimizer.ts";
import { resolveConfig } from "../../model/config.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import type { BenchRow } from "./_report.ts";

function packedShape(name: string, shape: readonly number[]): number[] {
  const ceil4 = (n: number) => Math.ceil(n / 4) * 4;
  if (name.includes("conv5_mask")) return name.endsWith("weight") ? [shape[0], 4 * shape[1]] : [4 * shape[0]];
  if (shape.length === 1) return [ceil4(shape[0])];
  if (shape.length === 2) return [shape[1], ceil4(shape[0])];
  return [shape[1] * shape[2] * shape[3], ceil4(shape[0])];
}

async function meanMs(reps: number, run: () => void): Promise<number> {
  const gpu = await getGpu();
  run(); // warm-up: pipelines and pooled buffers
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  await gpu.sync();
  return (performance.now() - t0) / reps;
}

/** Times SGD, SGD + clipping and AdamW steps over ~44 M packed parameters. */
export async function benchOptimizer(): Promise<BenchRow[]> {
  await getGpu();
  const config = resolveConfig({ preset: "maskrcnn_resnet50_fpn" });
  const tensors = expectedStateDict(config).filter(({ name }) => !/\.bn\d\.|\.downsample\.1\./.test(name));
  const targets: UpdateTarget[] = tensors.map(({ name, shape }) => {
    const packed = packedShape(name, shape);
    return {
      param: fill(packed, 0.01),
      grad: fill(packed, 0.001),
      state: [fill(packed, 0), fill(packed, 0)],
      columnScale: name.startsWith("backbone.body.") ? fill([packed[1]], 1) : null,
    };
  });
  const values = targets.reduce((s, t) => s + t.param.size, 0);
  const sgdTargets = targets.map((t) => ({ ...t, state: [t.state[0]] }));
  const reps = 3;
  const sgdMs = await meanMs(
    reps,
    () => sgdUpdate(sgdTargets, { lr: 0.02, momentum: 0.9, weightDecay: 1e-4 }),
  );
  const clipMs = await meanMs(reps, () => {
    const norm = globalGradNorm(sgdTargets);
    sgdUpdate(sgdTargets, { lr: 0.02, momentum: 0.9, weightDecay: 1e-4, norm, maxNorm: 10 });
    norm.dispose();
  });
  let step = 0;
  const adamwMs = await meanMs(
    reps,
    () => adamwUpdate(targets, { lr: 1e-4, step: ++step, weightDecay: 0.05 }),
  );
  for (const t of targets) [t.param, t.grad, ...t.state, t.columnScale].forEach((x) => x?.dispose());
  const gbps = (bytesPerValue: number, ms: number) => values * bytesPerValue / (ms / 1000) / 1e9;
  return [
    {
      label: "trainable packed parameters (R50-FPN)",
      value: values / 1e6,
      unit: "M values",
      key: "optimizer_values_m",
    },
    { label: "SGD step (momentum, wd)", value: sgdMs, unit: "ms", key: "optimizer_sgd_ms" },
    { label: "SGD step bandwidth", value: gbps(20, sgdMs), unit: "GB/s", key: "optimizer_sgd_gbps" },
    { label: "SGD step + grad-norm clipping", value: clipMs, unit: "ms", key: "optimizer_sgd_clip_ms" },
    {
      label: "SGD + clipping bandwidth",
      value: gbps(24, clipMs),
      unit: "GB/s",
      key: "optimizer_sgd_clip_gbps",
    },
    { label: "AdamW step", value: adamwMs, unit: "ms", key: "optimizer_adamw_ms" },
    { label: "AdamW step bandwidth", value: gbps(28, adamwMs), unit: "GB/s", key: "optimizer_adamw_gbps" },
  ];
}
