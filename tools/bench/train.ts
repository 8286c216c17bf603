/**
 * Training-step time and peak GPU memory: the small model at 128×128 with batch 4, the demo's model and
 * optimizer (`cli/demo.ts`: 64×64, batch 4, AdamW; the figure `deno task demo` is sized by) and R50-FPN at
 * 800×1066 with batch 1 (deterministic weights; speed does not depend on their values), SGD with momentum
 * unless said.
 * @module
 */
import { createOptimizer, trainStep } from "../../mod.ts";
import { currentGpu, getGpu } from "../../ops/mod.ts";
import { DEMO_CONFIG, DEMO_STEPS, demoOptimizer } from "../../cli/demo.ts";
import type { MaskRcnnModel } from "../../model/mask_rcnn.ts";
import type { OptimizerOptions } from "../../model/optimizer.ts";
import { disposeOptimizer } from "../../model/optimizer.ts";
import { paramTensors } from "../../model/params.ts";
import type { BenchRow } from "./_report.ts";
import { BENCH_SGD, benchTrainBatch, deterministicModel } from "./_models.ts";
import { dispatchStats } from "../../ops/kernel.ts";

async function stepMs(
  model: MaskRcnnModel,
  size: [number, number],
  batch: number,
  steps: number,
  optimizer: OptimizerOptions = BENCH_SGD,
) {
  const gpu = currentGpu();
  const opt = createOptimizer(model, optimizer);
  const batchAt = (s: number) => benchTrainBatch(s, { batch, height: size[0], width: size[1] });
  await trainStep(model, batchAt(0), opt); // warm-up: pipelines, pooled buffers
  gpu.pool.resetPeak();
  const stats0 = dispatchStats();
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) await trainStep(model, batchAt(s), opt);
  const ms = (performance.now() - t0) / steps;
  const dispatches = (dispatchStats().dispatches - stats0.dispatches) / steps;
  const peak = gpu.pool.stats().peakBytes / 2 ** 20;
  disposeOptimizer(opt);
  for (const t of paramTensors(model.params!)) t.dispose();
  return { ms, peak, dispatches };
}

/** Runs the training benchmarks. */
export async function benchTrain(): Promise<BenchRow[]> {
  await getGpu();
  const small = await stepMs(deterministicModel({ preset: "small" }), [128, 128], 4, 3);
  const side = DEMO_CONFIG.minSize!;
  const demo = await stepMs(
    deterministicModel({ preset: "small", ...DEMO_CONFIG }),
    [side, side],
    4,
    5,
    demoOptimizer(DEMO_STEPS),
  );
  const r50 = await stepMs(deterministicModel({ preset: "maskrcnn_resnet50_fpn" }), [800, 1066], 1, 1);
  return [
    {
      label: "train step, small model, 128×128, batch 4",
      value: small.ms,
      unit: "ms",
      key: "train_small_step_ms",
    },
    { label: "  peak GPU memory (pool)", value: small.peak, unit: "MiB", key: "train_small_peak_mb" },
    { label: "  dispatches per step", value: small.dispatches, unit: "", key: "train_small_step_dispatches" },
    {
      label: `train step, demo model (${side}×${side}, batch 4, AdamW)`,
      value: demo.ms,
      unit: "ms",
      key: "train_demo_step_ms",
    },
    {
      label: "train step, R50-FPN, 800×1066, batch 1",
      value: r50.ms,
      unit: "ms",
      key: "train_r50_800_step_ms",
    },
    { label: "  peak GPU memory (pool)", value: r50.peak, unit: "MiB", key: "train_r50_800_peak_mb" },
  ];
}
