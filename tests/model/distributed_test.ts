/**
 * Data-parallel step without MPI: two "ranks" in one process (two models on the same GPU, a promise-based
 * sum standing in for MPI_Allreduce) train 3 steps on halves of a batch of 4, against one model training
 * on the whole batch: the weights must agree to 1e-5 (relative to each tensor's largest value) and the
 * losses to 1e-5 — which holds only because the loss denominators are summed over ranks first. Also
 * checks the shard split, a rank with no image, and that a non-finite loss on one rank skips the step on
 * both. The same comparison through mpirun is in tests/cli/train_mpi_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { buildModel, createOptimizer, generateShapesItem, trainStep } from "../../mod.ts";
import { readTensors } from "../../ops/mod.ts";
import { initWeights } from "../../model/init.ts";
import { distributedTrainStep, type GradientReducer, shardBatch } from "../../model/distributed.ts";
import { NonFiniteLossError } from "../../model/train_step.ts";

/** Options shared by the three models: the small preset at 64×64 with light sampling. */
const CONFIG = {
  preset: "small",
  minSize: 64,
  maxSize: 64,
  rpnPreNmsTopNTrain: 200,
  rpnPostNmsTopNTrain: 100,
  boxBatchSizePerImage: 64,
} as const;

function batch(step: number, n = 4) {
  const items = Array.from(
    { length: n },
    (_, i) => generateShapesItem(500 + 10 * step + i, { width: 64, height: 64 }),
  );
  return { images: items.map((x) => x.image), targets: items.map((x) => x.target) };
}

async function setup() {
  const model = await buildModel({ ...CONFIG });
  initWeights(model, { seed: 3 });
  const opt = createOptimizer(model, { type: "sgd", lr: 0.02, momentum: 0.9, weightDecay: 1e-4 });
  return { model, opt };
}

/** N in-process ranks whose allreduce sums the contributions in rank order (float64 accumulation). */
function localGroup(size: number): GradientReducer[] {
  let pending: { rank: number; data: Float32Array | Float64Array; done: () => void }[] = [];
  return Array.from({ length: size }, (_, rank) => ({
    rank,
    size,
    allreduce(data: Float32Array | Float64Array) {
      return new Promise<void>((done) => {
        pending.push({ rank, data, done });
        if (pending.length < size) return;
        const all = pending.sort((a, b) => a.rank - b.rank);
        pending = [];
        assert.ok(all.every((p) => p.data.length === all[0].data.length), "same length on every rank");
        const sum = new Float64Array(all[0].data.length);
        for (const p of all) for (let i = 0; i < sum.length; i++) sum[i] += p.data[i];
        for (const p of all) p.data.set(sum);
        for (const p of all) p.done();
      });
    },
  }));
}

/** max over tensors of max|a − b| / max|b|. */
function maxRelDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let worst = 0;
  a.forEach((x, t) => {
    let diff = 0, scale = 0;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - b[t][i]));
      scale = Math.max(scale, Math.abs(b[t][i]));
    }
    if (scale > 0) worst = Math.max(worst, diff / scale);
  });
  return worst;
}

Deno.test("shardBatch splits a global batch into contiguous shares", () => {
  const b = { images: [0, 1, 2, 3, 4], targets: ["a", "b", "c", "d", "e"] };
  assert.deepEqual(shardBatch(b, 0, 2), { shard: { images: [0, 1], targets: ["a", "b"] }, firstImage: 0 });
  assert.deepEqual(shardBatch(b, 1, 2), {
    shard: { images: [2, 3, 4], targets: ["c", "d", "e"] },
    firstImage: 2,
  });
  assert.deepEqual(shardBatch({ images: [7], targets: [8] }, 0, 2).shard.images, []);
  assert.deepEqual(shardBatch({ images: [7], targets: [8] }, 1, 2), {
    shard: { images: [7], targets: [8] },
    firstImage: 0,
  });
});

Deno.test("2 in-process ranks × batch 2 give the weights and losses of 1 process × batch 4 (3 steps)", async () => {
  const single = await setup();
  const ranks = [await setup(), await setup()];
  const group = localGroup(2);
  for (let step = 0; step < 3; step++) {
    const global = batch(step);
    const one = await trainStep(single.model, global, single.opt, { seed: 7 });
    const parts = await Promise.all(ranks.map((r, k) => {
      const { shard, firstImage } = shardBatch(global, k, 2);
      return distributedTrainStep(r.model, shard, r.opt, group[k], { seed: 7, firstImage });
    }));
    assert.deepEqual(parts[0], parts[1], "every rank reports the same losses");
    for (const [k, v] of Object.entries(one)) {
      const rel = Math.abs(parts[0][k as keyof typeof one] - v) / Math.max(Math.abs(v), 1e-6);
      assert.ok(rel <= 1e-5, `step ${step} ${k}: ${parts[0][k as keyof typeof one]} vs ${v} (rel ${rel})`);
    }
  }
  const want = await readTensors(single.opt.entries.map((e) => e.param));
  const got = await Promise.all(ranks.map((r) => readTensors(r.opt.entries.map((e) => e.param))));
  got[1].forEach((p, i) =>
    assert.deepEqual(p, got[0][i], `ranks agree bit for bit on ${ranks[0].opt.entries[i].name}`)
  );
  const start = await setup();
  const initial = await readTensors(start.opt.entries.map((e) => e.param));
  const moved = maxRelDiff(want as Float32Array[], initial as Float32Array[]);
  const rel = maxRelDiff(got[0] as Float32Array[], want as Float32Array[]);
  console.log(
    `max relative weight difference after 3 steps: ${rel.toExponential(2)} (training moved them ${
      moved.toExponential(2)
    })`,
  );
  assert.ok(moved > 1e-3, "the weights did change");
  assert.ok(rel <= 1e-5, `max relative weight difference ${rel}`);
});

Deno.test("a rank with no image contributes nothing; a non-finite loss on one rank skips the step on all", async () => {
  const single = await setup();
  const ranks = [await setup(), await setup()];
  const group = localGroup(2);
  const global = batch(9, 1);
  const one = await trainStep(single.model, global, single.opt, { seed: 1 });
  const parts = await Promise.all(ranks.map((r, k) => {
    const { shard, firstImage } = shardBatch(global, k, 2);
    return distributedTrainStep(r.model, shard, r.opt, group[k], { seed: 1, firstImage });
  }));
  assert.ok(Math.abs(parts[0].total - one.total) <= 1e-5 * one.total, `${parts[0].total} vs ${one.total}`);
  const want = await readTensors(single.opt.entries.map((e) => e.param));
  const got = await readTensors(ranks[0].opt.entries.map((e) => e.param));
  assert.ok(maxRelDiff(got as Float32Array[], want as Float32Array[]) <= 1e-5);

  // A NaN weight on rank 1 only (its classifier bias; NaN inputs are refused before any GPU work): both
  // ranks throw NonFiniteLossError and keep their weights.
  const poisoned = batch(10, 2);
  const bias = ranks[1].opt.entries.find((e) => e.name.endsWith("box_predictor.cls_score.bias"));
  assert.ok(bias, "the classifier bias is trainable");
  bias.param.gpu.device.queue.writeBuffer(bias.param.buffer, bias.param.byteOffset, new Float32Array([NaN]));
  const before = await readTensors(ranks[0].opt.entries.map((e) => e.param));
  const results = await Promise.allSettled(ranks.map((r, k) => {
    const { shard, firstImage } = shardBatch(poisoned, k, 2);
    return distributedTrainStep(r.model, shard, r.opt, group[k], { seed: 1, firstImage });
  }));
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok((r as PromiseRejectedResult).reason instanceof NonFiniteLossError);
  }
  const after = await readTensors(ranks[0].opt.entries.map((e) => e.param));
  after.forEach((p, i) => assert.deepEqual(p, before[i], "rank 0's weights are unchanged"));
  assert.equal(ranks[0].opt.stepCount, ranks[1].opt.stepCount);
});
