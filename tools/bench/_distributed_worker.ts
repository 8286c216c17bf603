/**
 * One rank of the `distributed` benchmark (started by tools/bench/distributed.ts under mpirun): times the
 * data-parallel step of the small model (global batch 4 at 128×128, split over the ranks) with its
 * communication breakdown, and an in-place all-reduce of an R50-FPN-sized gradient (44.4 M f32). Rank 0
 * prints one JSON line.
 * @module
 */
import { createOptimizer } from "../../mod.ts";
import { getGpu } from "../../ops/mod.ts";
import { type DistributedStepTiming, distributedTrainStep, shardBatch } from "../../model/distributed.ts";
import { initMpi } from "../../ops/mpi.ts";
import { BENCH_SGD, benchTrainBatch, deterministicModel } from "./_models.ts";

const STEPS = 3, R50_PARAMS = 44_400_000;
const mpi = await initMpi();
await getGpu();
const model = deterministicModel({ preset: "small" });
const opt = createOptimizer(model, BENCH_SGD);
const step = async (s: number, timing?: DistributedStepTiming) => {
  const { shard, firstImage } = shardBatch(benchTrainBatch(s), mpi.rank, mpi.size);
  await distributedTrainStep(model, shard, opt, mpi, { seed: 0, firstImage, timing });
};
await step(0); // warm-up: pipelines, pooled buffers
const sum: DistributedStepTiming = { counts: 0, readBack: 0, allreduce: 0, upload: 0 };
await mpi.barrier();
const t0 = performance.now();
for (let s = 1; s <= STEPS; s++) {
  const timing = { counts: 0, readBack: 0, allreduce: 0, upload: 0 };
  await step(s, timing);
  for (const k of Object.keys(sum) as (keyof DistributedStepTiming)[]) sum[k] += timing[k] / STEPS;
}
const stepMs = (performance.now() - t0) / STEPS;
const gradients = opt.entries.reduce((n, e) => n + e.grad.size, 0);

const big = new Float32Array(R50_PARAMS).fill(1);
await mpi.allreduce(big); // warm-up
await mpi.barrier();
const t1 = performance.now();
for (let i = 0; i < 2; i++) await mpi.allreduce(big);
const r50Ms = (performance.now() - t1) / 2;
if (mpi.rank === 0) {
  console.log(JSON.stringify({ ranks: mpi.size, stepMs, gradients, ...sum, r50Ms, library: mpi.version }));
}
await mpi.finalize();
