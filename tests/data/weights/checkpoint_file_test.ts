/**
 * Checkpoint files: a round trip keeps weights, optimizer state (read off the GPU by model/'s
 * `readOptimizerState`), step, config and RNG state, and the restored optimizer continues exactly; a failed
 * write keeps the previous file and leaves no temporary file; reading names the file and what is wrong.
 * @module
 */
import assert from "node:assert/strict";
import { type Checkpoint, CheckpointError } from "../../../model/checkpoint.ts";
import { readCheckpointFile, writeCheckpointFile } from "../../../data/weights/checkpoint_file.ts";
import { readOptimizerState, restoreOptimizer } from "../../../model/optimizer_state.ts";
import {
  createOptimizer,
  disposeOptimizer,
  type Optimizer,
  optimizerStep,
  type TrainableParam,
} from "../../../model/optimizer.ts";
import { readSafetensors, writeSafetensors } from "../../../data/weights/safetensors.ts";
import type { StateDict } from "../../../model/state_dict.ts";
import { getGpu } from "../../../ops/gpu.ts";
import { fillInPlace } from "../../../ops/elementwise.ts";
import { readTensors, tensorFromArray } from "../../../ops/tensor.ts";
import { randomFloats } from "../../_util.ts";

await getGpu();

const SHAPES: [string, number[]][] = [["rpn.head.conv.0.0.weight", [27, 8]], ["rpn.head.conv.0.0.bias", [8]]];

function params(seed: number): TrainableParam[] {
  return SHAPES.map(([name, shape], i) => ({
    name,
    param: tensorFromArray(randomFloats(shape.reduce((a, b) => a * b, 1), seed + i), shape),
    columnScale: null,
  }));
}

const WEIGHTS: StateDict = new Map([
  ["rpn.head.conv.0.0.weight", { shape: [8, 3, 3, 3], data: randomFloats(216, 5) }],
  ["rpn.head.conv.0.0.bias", { shape: [8], data: randomFloats(8, 6) }],
]);

async function trainedOptimizer(type: "sgd" | "adamw") {
  const opt = createOptimizer(params(1), { type, lr: 0.01, clipGradNorm: 1 });
  for (let step = 0; step < 2; step++) {
    for (const e of opt.entries) fillInPlace(e.grad, 0.1 * (step + 1));
    optimizerStep(opt);
  }
  await opt.entries[0].param.read();
  return opt;
}

/** The checkpoint of `WEIGHTS` and `opt` (its state read back from the GPU) at `step`. */
async function checkpointOf(opt: Optimizer | null, extra: Omit<Checkpoint, "weights" | "optimizer">) {
  return { weights: WEIGHTS, optimizer: opt ? await readOptimizerState(opt) : null, ...extra };
}

function tempFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
}

for (const type of ["sgd", "adamw"] as const) {
  Deno.test(`${type} checkpoint round trip: weights, optimizer state, step, config, RNG; training resumes identically`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/ckpt.safetensors`;
    const opt = await trainedOptimizer(type);
    const config = { preset: "small", lr: 0.01, nested: { a: [1, 2] } };
    await writeCheckpointFile(
      path,
      await checkpointOf(opt, { step: 2, rngState: { seed: 7, counter: 12345 }, config }),
    );
    assert.deepEqual(tempFiles(dir), []);
    const loaded = await readCheckpointFile(path);
    assert.equal(loaded.step, 2);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.rngState, { seed: 7, counter: 12345 });
    assert.deepEqual([...loaded.weights.keys()], [...WEIGHTS.keys()]);
    for (const [name, t] of WEIGHTS) assert.deepEqual(loaded.weights.get(name)!.data, t.data);
    assert.equal(loaded.optimizer!.type, type);
    assert.equal(loaded.optimizer!.stepCount, 2);
    // a fresh optimizer on the same params restored from the file continues exactly like the original
    const fresh = createOptimizer(
      opt.entries.map((e, i) => ({
        name: e.name,
        param: tensorFromArray(randomFloats(e.param.size, 1 + i), e.param.shape),
        columnScale: null,
      })),
      { type, lr: 0.01, clipGradNorm: 1 },
    );
    const [p0, p1] = await readTensors(opt.entries.map((e) => e.param));
    fresh.entries.forEach((e, i) => {
      e.param.dispose();
      e.param = tensorFromArray([p0, p1][i] as Float32Array, e.param.shape);
    });
    restoreOptimizer(fresh, loaded);
    assert.equal(fresh.stepCount, 2);
    const [a, b] = [(await readOptimizerState(opt)).state, (await readOptimizerState(fresh)).state];
    for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, name);
    for (const o of [opt, fresh]) {
      for (const e of o.entries) fillInPlace(e.grad, 0.3);
      optimizerStep(o);
    }
    const after = await readTensors([...opt.entries, ...fresh.entries].map((e) => e.param));
    assert.deepEqual(after[0], after[2]);
    assert.deepEqual(after[1], after[3]);
    disposeOptimizer(opt);
    disposeOptimizer(fresh);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a failed checkpoint write leaves the previous checkpoint intact and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.safetensors`;
  const opt = await trainedOptimizer("sgd");
  await writeCheckpointFile(path, await checkpointOf(opt, { step: 2 }));
  const good = await Deno.readFile(path);
  // the writer dies half-way through the temporary file (disk full, crash of the writer…)
  const failing = async (tmp: string, chunks: readonly Uint8Array[]) => {
    await Deno.writeFile(tmp, chunks[0].subarray(0, 10));
    throw new Error("No space left on device");
  };
  await assert.rejects(
    async () => writeCheckpointFile(path, await checkpointOf(opt, { step: 3 }), { writeFile: failing }),
    (e: Error) => e instanceof CheckpointError && /previous checkpoint kept.*No space/.test(e.message),
  );
  assert.deepEqual(await Deno.readFile(path), good);
  assert.deepEqual(tempFiles(dir), []);
  assert.equal((await readCheckpointFile(path)).step, 2);
  // the rename fails (the target is a directory): the temporary file is removed too
  await Deno.mkdir(`${dir}/taken`);
  await assert.rejects(
    async () => writeCheckpointFile(`${dir}/taken`, await checkpointOf(null, { step: 1 })),
    CheckpointError,
  );
  assert.deepEqual(tempFiles(dir), []);
  disposeOptimizer(opt);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readCheckpointFile names the file and what is missing; restoreOptimizer lists mismatches", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.safetensors`;
  await assert.rejects(() => readCheckpointFile(path), /ckpt.safetensors: cannot read/);
  await Deno.writeFile(path, writeSafetensors(WEIGHTS, { format: "pt" }));
  await assert.rejects(() => readCheckpointFile(path), /ckpt.safetensors: not a training checkpoint/);
  const opt = await trainedOptimizer("adamw");
  await writeCheckpointFile(path, await checkpointOf(opt, { step: 2 }));
  const loaded = await readCheckpointFile(path);
  // drop one optimizer tensor and re-write the file with the same metadata
  const meta = readSafetensors(await Deno.readFile(path)).metadata;
  const tensors = new Map([...loaded.weights, ...loaded.optimizer!.state]);
  tensors.delete("optimizer.rpn.head.conv.0.0.bias.exp_avg_sq");
  await Deno.writeFile(path, writeSafetensors(tensors, meta));
  await assert.rejects(
    () => readCheckpointFile(path),
    /ckpt.safetensors: optimizer state missing: optimizer.rpn.head.conv.0.0.bias.exp_avg_sq/,
  );
  await Deno.writeFile(path, writeSafetensors(tensors, { ...meta, step: "x" }));
  await assert.rejects(() => readCheckpointFile(path), /metadata "step" is invalid/);
  // restoring into an optimizer of another type or over other params fails with the differences
  const sgd = createOptimizer(params(3), { type: "sgd", lr: 0.1 });
  assert.throws(() => restoreOptimizer(sgd, loaded), /optimizer is adamw, this one is sgd/);
  const other = createOptimizer([params(3)[0]], { type: "adamw", lr: 0.1 });
  other.entries[0].name = "rpn.head.cls_logits.weight";
  assert.throws(
    () => restoreOptimizer(other, loaded),
    /missing params: rpn.head.cls_logits.weight; unexpected params/,
  );
  await assert.rejects(async () => writeCheckpointFile(path, await checkpointOf(null, { step: -1 })), /step/);
  // a tensor whose values do not fill its shape, and a weight under the reserved prefix, are refused by name
  const short = new Map([["w", { shape: [2, 3], data: new Float32Array(5) }]]);
  await assert.rejects(
    () => writeCheckpointFile(path, { step: 1, weights: short, optimizer: null }),
    (e: Error) =>
      e instanceof CheckpointError &&
      /ckpt.safetensors: tensor w has 5 values but shape \[2,3\]/.test(e.message),
  );
  const reserved = new Map([["optimizer.w", { shape: [1], data: new Float32Array(1) }]]);
  await assert.rejects(
    () => writeCheckpointFile(path, { step: 1, weights: reserved, optimizer: null }),
    /weight name optimizer.w is reserved/,
  );
  for (const o of [opt, sgd, other]) disposeOptimizer(o);
  await Deno.remove(dir, { recursive: true });
});
