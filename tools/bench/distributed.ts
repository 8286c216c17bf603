/**
 * Data-parallel training over MPI on this machine: the small model's step (global batch 4 at 128×128) in
 * one process against 2 Open MPI ranks with 2 images each (the 2-rank step includes the all-reduce of
 * the gradients), where the 2-rank step spends its communication time, and the time to all-reduce an
 * R50-FPN-sized gradient (44.4 M f32, 178 MB) between 2 ranks. The ranks run tools/bench/_distributed_worker.ts
 * under `mpirun.openmpi` (skipped with NaN figures when Open MPI is not installed).
 * @module
 */
import { createOptimizer, trainStep } from "../../mod.ts";
import { getGpu } from "../../ops/mod.ts";
import { disposeOptimizer } from "../../model/optimizer.ts";
import { paramTensors } from "../../model/params.ts";
import type { BenchRow } from "./_report.ts";
import { BENCH_SGD, benchTrainBatch, deterministicModel } from "./_models.ts";

async function singleStepMs(steps: number): Promise<number> {
  await getGpu();
  const model = deterministicModel({ preset: "small" });
  const opt = createOptimizer(model, BENCH_SGD);
  await trainStep(model, benchTrainBatch(0), opt);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) await trainStep(model, benchTrainBatch(s), opt);
  const ms = (performance.now() - t0) / steps;
  disposeOptimizer(opt);
  for (const t of paramTensors(model.params!)) t.dispose();
  return ms;
}

interface WorkerResult {
  stepMs: number;
  gradients: number;
  counts: number;
  readBack: number;
  allreduce: number;
  upload: number;
  r50Ms: number;
}

async function twoRanks(): Promise<WorkerResult | null> {
  const worker = new URL("./_distributed_worker.ts", import.meta.url).pathname;
  let out;
  try {
    out = await new Deno.Command("mpirun.openmpi", {
      args: ["-np", "2", "--bind-to", "none", "deno", "run", "-A", "--unstable-webgpu", worker],
      env: {
        OMPI_ALLOW_RUN_AS_ROOT: "1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
        OMPI_MCA_btl: "self,vader",
        OMPI_MCA_rmaps_base_oversubscribe: "1",
        OMPI_MCA_hwloc_base_binding_policy: "none",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      console.error("distributed: mpirun.openmpi not found (apt-get install openmpi-bin); figures are NaN");
      return null;
    }
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!out.success || !line) {
    throw new Error(`distributed: the 2-rank run failed:\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(line) as WorkerResult;
}

/** Runs the data-parallel benchmarks. */
export async function benchDistributed(): Promise<BenchRow[]> {
  const single = await singleStepMs(3);
  const two = await twoRanks();
  const nan = Number.NaN;
  return [
    {
      label: "train step, small, 128×128, batch 4, 1 process",
      value: single,
      unit: "ms",
      key: "dp_small_1rank_step_ms",
    },
    {
      label: "train step, same global batch, 2 ranks × 2 (Open MPI)",
      value: two?.stepMs ?? nan,
      unit: "ms",
      key: "dp_small_2rank_step_ms",
    },
    {
      label: "  2-rank speed-up",
      value: two ? single / two.stepMs : nan,
      unit: "×",
      key: "dp_small_speedup",
    },
    {
      label: "  all-reduce of the gradients per step",
      value: two?.allreduce ?? nan,
      unit: "ms",
      key: "dp_small_allreduce_ms",
    },
    {
      label: "  gradient read-back (with backward's tail)",
      value: two?.readBack ?? nan,
      unit: "ms",
      key: "dp_small_readback_ms",
    },
    {
      label: "  upload of the summed gradients + update",
      value: two?.upload ?? nan,
      unit: "ms",
      key: "dp_small_upload_ms",
    },
    {
      label: "  loss-normaliser exchange (with forward)",
      value: two?.counts ?? nan,
      unit: "ms",
      key: "dp_small_counts_ms",
    },
    {
      label: "  gradient values all-reduced",
      value: two?.gradients ?? nan,
      unit: "f32",
      key: "dp_small_gradients",
    },
    {
      label: "all-reduce of R50-FPN gradients (44.4 M f32), 2 ranks",
      value: two?.r50Ms ?? nan,
      unit: "ms",
      key: "dp_r50_allreduce_ms",
    },
  ];
}
