/**
 * The training loop shared by `train` and `demo`: batches from a seeded `DataLoader`, `trainStep` per
 * batch, a progress line (step/total, images/s, ETA, the five losses; a status line on a terminal, an
 * ordinary line every `logEvery` steps otherwise), one JSON line per step in `RUNDIR/losses.jsonl`,
 * checkpoints every `checkpointEvery` steps and at the end (`RUNDIR/checkpoint.safetensors`, atomic, with
 * the data position in its RNG state), the loss-curve PNG with each checkpoint, and an optional evaluation
 * callback every `evalEvery` steps and at the end. Stops at `totalSteps` or at a wall-clock deadline.
 *
 * Resuming bit for bit: the model and optimizer come back exactly (`loadCheckpoint`), `trainStep`'s
 * samplers are seeded by (seed, step), and the data position is (epoch, batches done in that epoch) of a
 * loader whose epoch order is seeded: the loop re-enters that epoch and skips the batches already used
 * (they are loaded again, which costs their decoding time for image datasets).
 * @module
 */
import {
  type Batch,
  type DataErrorSummary,
  type DataLoader,
  learningRate,
  type Losses,
  type MaskRcnnModel,
  type Optimizer,
  saveCheckpoint,
  type TrainItem,
  trainStep,
} from "../mod.ts";
import type { CliIo } from "./_common.ts";
import { drawLossCurve, type LossRecord } from "./_loss_curve.ts";

/** Where the data stands: the epoch and how many of its batches were used. */
export interface DataPosition {
  epoch: number;
  batchInEpoch: number;
}

/** One line of `losses.jsonl`. */
export interface LossLine extends LossRecord {
  epoch: number;
  /** Learning rate of the step. */
  lr: number;
  /** Images in the batch. */
  images: number;
  /** Seconds since the loop (this process) started. */
  seconds: number;
}

/** Options of {@link trainLoop}. */
export interface TrainLoopOptions<T extends TrainItem> {
  model: MaskRcnnModel;
  opt: Optimizer;
  loader: DataLoader<T, Batch>;
  /** Run folder (losses.jsonl, checkpoint.safetensors, loss_curve.png). */
  out: string;
  /** Stop after this many steps in all (counting earlier runs). */
  totalSteps: number;
  /** Where the data stands (from the checkpoint's RNG state; epoch 0, batch 0 for a new run). */
  position: DataPosition;
  /** Seed of `trainStep`'s samplers. */
  seed: number;
  /** Extra RNG-state fields saved with each checkpoint (dataset, batch size, ...). */
  runState: Record<string, unknown>;
  /** Stop when `performance.now()` passes this (demo's time box); the step under way finishes. */
  deadline?: number;
  /** Progress line every this many steps when not on a terminal (default 10). */
  logEvery?: number;
  /** Checkpoint (and loss curve) every this many steps; 0: only at the end (default 100). */
  checkpointEvery?: number;
  /** Evaluation every this many steps (0: only at the end); needs `evaluate`. */
  evalEvery?: number;
  /** Runs an evaluation and returns the line to print (the caller logs it). */
  evaluate?: (step: number) => Promise<string>;
  /** Earlier records (from losses.jsonl of a resumed run), for the loss curve. */
  history?: LossRecord[];
  /** Write the checkpoint at the end (default true). */
  finalCheckpoint?: boolean;
  /** Called after each step with the step number and the recent milliseconds per step. */
  onStep?: (step: number, msPerStep: number) => void;
  /** Runs one step on a batch instead of `trainStep` (data-parallel training: this rank's share). */
  step?: (batch: Batch) => Promise<Losses>;
  /** Write losses.jsonl, checkpoints and the loss curve (default true; false on ranks other than 0). */
  writeFiles?: boolean;
}

/** What {@link trainLoop} returns. */
export interface TrainLoopResult {
  /** Completed steps in all (the optimizer's step count). */
  step: number;
  /** Steps run by this call. */
  stepsRun: number;
  /** Seconds spent in this call. */
  seconds: number;
  /** Where the data stands now. */
  position: DataPosition;
  /** All loss records (history + this call). */
  records: LossRecord[];
  /** Items the loader skipped (bad data), by reason. */
  skipped: DataErrorSummary;
}

const SHORT: [keyof Losses, string][] = [
  ["rpnObjectness", "obj"],
  ["rpnBoxReg", "rpn_box"],
  ["classifier", "cls"],
  ["boxReg", "box"],
  ["mask", "mask"],
];

/**
 * "1m05s" / "42s" / "1h02m".
 *
 * @example
 * ```ts
 * import { formatDuration } from "./_train_loop.ts";
 * console.log(formatDuration(65)); // "1m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The progress line: step/total (a string total such as "~250" for an estimate), images/s, ETA, total
 * and the five losses.
 *
 * @example
 * ```ts
 * import { progressLine } from "./_train_loop.ts";
 * const l = { total: 1.5, rpnObjectness: 0.1, rpnBoxReg: 0.1, classifier: 0.5, boxReg: 0.3, mask: 0.5 };
 * console.log(progressLine(10, 100, 2.5, 36, l)); // "step 10/100  2.5 img/s  ETA 36s  loss 1.500 (obj 0.100 …)"
 * ```
 */
export function progressLine(
  step: number,
  total: number | string,
  imagesPerSecond: number,
  etaSeconds: number,
  losses: Losses,
): string {
  const parts = SHORT.map(([k, name]) => `${name} ${losses[k].toFixed(3)}`).join(" ");
  const width = String(total).length;
  return `step ${String(step).padStart(width)}/${total}  ${imagesPerSecond.toFixed(1)} img/s  ETA ` +
    `${formatDuration(etaSeconds)}  loss ${losses.total.toFixed(3)} (${parts})`;
}

/**
 * Runs training steps until `totalSteps` (or the deadline), logging, checkpointing and evaluating as set.
 * A non-finite loss stops the loop with `NonFiniteLossError` (the step was not applied).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, createOptimizer, DataLoader, initWeights, ShapesDataset } from "../mod.ts";
 * import { trainLoop } from "./_train_loop.ts";
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTrain: 100,
 *   rpnPostNmsTopNTrain: 50,
 *   rpnBatchSizePerImage: 32,
 *   boxBatchSizePerImage: 32,
 * });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const loader = new DataLoader(new ShapesDataset({ count: 1, width: 64, height: 64 }), { batchSize: 1, seed: 0 });
 * const out = await Deno.makeTempDir();
 * const lines: string[] = [];
 * const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
 * const result = await trainLoop(io, {
 *   model,
 *   opt,
 *   loader,
 *   out,
 *   totalSteps: 1,
 *   position: { epoch: 0, batchInEpoch: 0 },
 *   seed: 0,
 *   runState: {},
 * });
 * assert.strictEqual(result.step, 1);
 * assert.ok(Number.isFinite(result.records[0].total));
 * await Deno.stat(`${out}/checkpoint.safetensors`); // written at the end
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function trainLoop<T extends TrainItem>(
  io: CliIo,
  o: TrainLoopOptions<T>,
): Promise<TrainLoopResult> {
  const { model, opt, loader, out, totalSteps } = o;
  const logEvery = o.logEvery ?? 10, checkpointEvery = o.checkpointEvery ?? 100, evalEvery = o.evalEvery ?? 0;
  const records: LossRecord[] = [...(o.history ?? [])];
  const position = { ...o.position };
  const start = performance.now();
  const firstStep = opt.stepCount;
  const writeFiles = o.writeFiles ?? true;
  const lossFile = writeFiles ? await Deno.open(`${out}/losses.jsonl`, { append: true, create: true }) : null;
  const encoder = new TextEncoder();
  // Throughput over the last steps (the first steps compile shaders and are slow).
  const recent: { ms: number; images: number }[] = [];
  let lastStepEnd = performance.now();
  let lastLosses: Losses | null = null;
  let lastProgress = "";

  const checkpoint = async () => {
    if (!writeFiles) return;
    await saveCheckpoint(`${out}/checkpoint.safetensors`, model, opt, {
      rngState: { ...o.runState, seed: o.seed, data: position },
    });
    await Deno.writeFile(`${out}/loss_curve.png`, drawLossCurve(records));
  };
  const evaluate = async (step: number) => {
    if (!o.evaluate) return;
    io.status?.("");
    io.out(await o.evaluate(step));
    lastStepEnd = performance.now(); // evaluation time is not training time
  };

  try {
    let done = opt.stepCount >= totalSteps;
    while (!done) {
      const skip = position.batchInEpoch;
      let yielded = 0;
      for await (const { batch } of loader.epoch(position.epoch)) {
        if (yielded++ < skip) continue;
        if (o.deadline !== undefined && performance.now() >= o.deadline) {
          done = true;
          break;
        }
        const lr = learningRate(opt.stepCount, opt.options);
        const losses = o.step ? await o.step(batch) : await trainStep(model, batch, opt, { seed: o.seed });
        const step = opt.stepCount;
        position.batchInEpoch++;
        const now = performance.now();
        recent.push({ ms: now - lastStepEnd, images: batch.images.length });
        if (recent.length > 20) recent.shift();
        lastStepEnd = now;
        const record: LossLine = {
          step,
          epoch: position.epoch,
          lr,
          images: batch.images.length,
          seconds: Math.round((now - start) / 10) / 100,
          ...losses,
        };
        records.push(record);
        await lossFile?.write(encoder.encode(JSON.stringify(record) + "\n"));
        lastLosses = losses;

        const window = recent.length > 2 ? recent.slice(1) : recent;
        const msPerStep = window.reduce((s, r) => s + r.ms, 0) / window.length;
        const imagesPerSecond = 1000 * window.reduce((s, r) => s + r.images, 0) /
          window.reduce((s, r) => s + r.ms, 0);
        let eta = (totalSteps - step) * msPerStep / 1000;
        let shownTotal: number | string = totalSteps;
        if (o.deadline !== undefined && (o.deadline - now) / 1000 < eta) {
          eta = Math.max(0, (o.deadline - now) / 1000);
          shownTotal = `~${step + Math.ceil(eta * 1000 / msPerStep)}`;
        }
        o.onStep?.(step, msPerStep);
        lastProgress = progressLine(step, shownTotal, imagesPerSecond, eta, losses);
        if (io.status) io.status(lastProgress);
        else if (step % logEvery === 0 || step === firstStep + 1) io.out(lastProgress);

        done = step >= totalSteps;
        if (checkpointEvery > 0 && step % checkpointEvery === 0 && !done) await checkpoint();
        if (evalEvery > 0 && step % evalEvery === 0 && !done) await evaluate(step);
        if (done) break;
      }
      if (!done) {
        if (yielded === 0) throw new Error("the training data yielded no batch (every item was skipped?)");
        position.epoch++;
        position.batchInEpoch = 0;
      }
    }
  } finally {
    lossFile?.close();
    io.status?.("");
  }
  if (lastLosses && io.status) io.out(lastProgress);
  if (o.finalCheckpoint ?? true) await checkpoint();
  else if (writeFiles) await Deno.writeFile(`${out}/loss_curve.png`, drawLossCurve(records));
  await evaluate(opt.stepCount);
  return {
    step: opt.stepCount,
    stepsRun: opt.stepCount - firstStep,
    seconds: (performance.now() - start) / 1000,
    position,
    records,
    skipped: loader.stats().skipped,
  };
}
