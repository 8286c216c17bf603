/**
 * The run folder of `train`: `run.json` (the settings a run was started with, which `--resume` reuses),
 * reading `losses.jsonl` / `eval.jsonl` back (cut at the checkpoint's step, so a resumed run rewrites the
 * steps it repeats), and the optimizer settings from the command line.
 * @module
 */
import type { MaskRcnnConfig, OptimizerOptions } from "../mod.ts";
import { numberOption, type ParsedValues, stringOption, UsageError } from "./_common.ts";
import type { LossRecord } from "./_loss_curve.ts";

/** What `run.json` holds. */
export interface RunSettings {
  /** Format version (1). */
  version: 1;
  /** `--dataset` spec. */
  dataset: string;
  /** Images per step. */
  batch: number;
  /** Seed of the initial weights, data order and samplers. */
  seed: number;
  /** Optimizer options (schedule included). */
  optimizer: OptimizerOptions;
  /** The full model config. */
  config: MaskRcnnConfig;
  /** Class names by label (0 = background). */
  classNames: string[];
  /** Weights the run started from, or null (from scratch). */
  weights: string | null;
  /** Classification ResNet checkpoint loaded into the backbone (`--backbone-weights`), if any. */
  backboneWeights?: string | null;
  /** COCO category id per label 1.. (what detect / eval write for each label). */
  categoryIds?: number[];
  /** FrozenBatchNorm eps the weights were loaded with. */
  batchNormEps?: number;
}

/** Paths of the files in a run folder. */
export function runFiles(out: string) {
  return {
    run: `${out}/run.json`,
    checkpoint: `${out}/checkpoint.safetensors`,
    losses: `${out}/losses.jsonl`,
    evals: `${out}/eval.jsonl`,
    curve: `${out}/loss_curve.png`,
    model: `${out}/model.safetensors`,
    config: `${out}/config.json`,
  };
}

/**
 * Reads `run.json` of a run to resume; a missing or unreadable file is a usage error.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resolveConfig } from "../mod.ts";
 * import { readRunSettings } from "./_train_run.ts";
 * const out = await Deno.makeTempDir(); // a run folder written by `train`
 * const run = {
 *   version: 1,
 *   dataset: "shapes",
 *   batch: 2,
 *   seed: 0,
 *   optimizer: { type: "sgd", lr: 0.02 },
 *   config: resolveConfig({ preset: "small" }),
 *   classNames: ["background", "square", "circle", "triangle"],
 *   weights: null,
 * };
 * await Deno.writeTextFile(`${out}/run.json`, JSON.stringify(run));
 * await assert.rejects(readRunSettings(out), /checkpoint\.safetensors is missing/); // nothing to resume yet
 * await Deno.writeFile(`${out}/checkpoint.safetensors`, new Uint8Array()); // (train writes a real one)
 * const settings = await readRunSettings(out);
 * assert.strictEqual(settings.config.fpnChannels, 64);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function readRunSettings(out: string): Promise<RunSettings> {
  const files = runFiles(out);
  let text: string;
  try {
    text = await Deno.readTextFile(files.run);
  } catch {
    throw new UsageError(`--resume: no run to resume in ${out} (${files.run} is missing)`);
  }
  try {
    await Deno.stat(files.checkpoint);
  } catch {
    throw new UsageError(`--resume: ${files.checkpoint} is missing (no checkpoint was written yet)`);
  }
  const settings = JSON.parse(text) as RunSettings;
  if (settings?.version !== 1 || typeof settings.dataset !== "string" || !settings.config) {
    throw new UsageError(`--resume: ${files.run} is not a run.json written by train`);
  }
  return settings;
}

/**
 * The JSON lines of `path` whose `step` is at most `maxStep`; rewrites the file to exactly those (a run
 * resumed from an earlier checkpoint repeats the later steps).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { truncateJsonLines } from "./_train_run.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/losses.jsonl`;
 * await Deno.writeTextFile(path, [1, 2, 3].map((step) => JSON.stringify({ step, total: 1 / step })).join("\n") + "\n");
 * const records = await truncateJsonLines<{ step: number; total: number }>(path, 2); // resumed at step 2
 * assert.deepStrictEqual(records.map((r) => r.step), [1, 2]);
 * assert.strictEqual((await Deno.readTextFile(path)).trim().split("\n").length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function truncateJsonLines<T extends { step: number }>(
  path: string,
  maxStep: number,
): Promise<T[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const kept: T[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const record = JSON.parse(line) as T;
      if (record.step <= maxStep) kept.push(record);
    } catch { /* a line cut short by an interrupted write */ }
  }
  await Deno.writeTextFile(path, kept.map((r) => JSON.stringify(r) + "\n").join(""));
  return kept;
}

/** The loss records of `losses.jsonl` up to `maxStep` (see {@link truncateJsonLines}). */
export function readLossHistory(out: string, maxStep: number): Promise<LossRecord[]> {
  return truncateJsonLines<LossRecord>(runFiles(out).losses, maxStep);
}

/**
 * Optimizer options from the command line (`--optimizer`, `--lr`, `--momentum`, `--weight-decay`,
 * `--warmup`, `--milestones`, `--gamma`, `--clip-grad`) with the defaults for a run of `steps` steps.
 *
 * @example
 * ```ts
 * import { optimizerFromArgs } from "./_train_run.ts";
 * console.log(optimizerFromArgs({ lr: "0.01" }, 1000).lr); // 0.01
 * ```
 */
export function optimizerFromArgs(values: ParsedValues, steps: number): OptimizerOptions {
  const type = stringOption(values, "optimizer") ?? "sgd";
  if (type !== "sgd" && type !== "adamw") {
    throw new UsageError(`--optimizer must be sgd or adamw, got ${JSON.stringify(type)}`);
  }
  const lr = numberOption(values, "lr", { min: 0 }, type === "sgd" ? 0.02 : 0.001);
  const weightDecay = numberOption(values, "weight-decay", { min: 0 }, type === "sgd" ? 1e-4 : 0.01);
  const warmupIters = numberOption(
    values,
    "warmup",
    { min: 0, integer: true },
    Math.min(100, Math.floor(steps / 10)),
  );
  const gamma = numberOption(values, "gamma", { min: 0 }, 0.1);
  const clipGradNorm = numberOption(values, "clip-grad", { min: 0 }, 0);
  const milestonesText = stringOption(values, "milestones");
  const milestones = milestonesText === undefined
    ? []
    : milestonesText.split(",").map((t) => Number(t.trim()));
  if (!milestones.every((m, i) => Number.isInteger(m) && m > 0 && (i === 0 || m >= milestones[i - 1]))) {
    throw new UsageError(
      `--milestones must be ascending positive step numbers separated by commas, got ${
        JSON.stringify(milestonesText)
      }`,
    );
  }
  const common = { lr, weightDecay, warmupIters, warmupFactor: 0.001, milestones, gamma, clipGradNorm };
  if (type === "sgd") {
    return { type, ...common, momentum: numberOption(values, "momentum", { min: 0, max: 1 }, 0.9) };
  }
  if (stringOption(values, "momentum") !== undefined) {
    throw new UsageError("--momentum is for --optimizer sgd");
  }
  return { type, ...common };
}
