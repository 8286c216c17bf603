/**
 * Training checkpoints: ONE safetensors file holding the weights (torchvision 0.14 names), the optimizer
 * state (`optimizer.<param>.<state>`, e.g. `optimizer.rpn.head.conv.0.0.weight.momentum_buffer`, in the
 * packed layout of the GPU tensors) and, in `__metadata__`, the step, the config, the RNG state and the
 * optimizer's type, options and parameter list (JSON strings).
 *
 * Decisions: written to a temporary file in the same directory, fsynced, then renamed over the target, so
 * a crash or a failed write never leaves a broken checkpoint (the previous one stays intact). Data is
 * streamed tensor by tensor (no second copy of a 0.5 GB file in memory). Loading validates everything and
 * names the file and what is missing.
 * @module
 */
import { readSafetensors } from "./safetensors.ts";
import { CHECKSUM_KEY, checksumMetadata } from "./checksum.ts";
import type { StateDict, WeightTensor } from "./weights_dtype.ts";
import type { Optimizer } from "./optimizer.ts";
import { keep, readTensors, type Tensor, tensorFromArray } from "../ops/tensor.ts";
import { ShapeError } from "../ops/errors.ts";

/**
 * A checkpoint that cannot be written, read or restored; names the file.
 *
 * @example
 * ```ts
 * import { CheckpointError, loadCheckpoint } from "./checkpoint.ts";
 * try { await loadCheckpoint("missing.safetensors"); } catch (e) { console.log(e instanceof CheckpointError); }
 * ```
 */
export class CheckpointError extends Error {
  /** The checkpoint's path. */
  readonly file: string;
  /** Creates the error. */
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`checkpoint ${file}: ${detail}`, options);
    this.name = "CheckpointError";
    this.file = file;
  }
}

/** Non-tensor contents of a checkpoint. */
export interface CheckpointExtra {
  /** Completed training steps. */
  step: number;
  /** The data/sampling RNG state (any JSON value). */
  rngState?: unknown;
  /** The run's configuration (any JSON value). */
  config?: unknown;
}

/** Writes the temporary file: all chunks in order, durably. Injectable for tests. */
export type ChunkWriter = (path: string, chunks: readonly Uint8Array[]) => Promise<void>;

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Replaces the file writer (tests inject failures here). */
  writeFile?: ChunkWriter;
}

/** The optimizer part of a loaded checkpoint. */
export interface LoadedOptimizerState {
  type: string;
  options: Record<string, unknown>;
  stepCount: number;
  stateNames: string[];
  params: string[];
  /** `optimizer.<param>.<state>` → tensor (packed layout). */
  state: StateDict;
}

/** What {@link loadCheckpoint} returns. */
export interface LoadedCheckpoint extends Required<CheckpointExtra> {
  file: string;
  weights: StateDict;
  optimizer: LoadedOptimizerState | null;
}

const MAGIC = "maskrcnn_webgpu_checkpoint";
const READ_BATCH_BYTES = 256 * 1024 * 1024;

/**
 * Reads the optimizer's state tensors back (in batches of ≤ 256 MiB) under `optimizer.<param>.<state>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readOptimizerState } from "./checkpoint.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * const state = await readOptimizerState(opt);
 * assert.deepStrictEqual([...state.keys()], ["optimizer.w.momentum_buffer"]);
 * assert.deepStrictEqual(state.get("optimizer.w.momentum_buffer")?.shape, [2]);
 * ```
 */
export async function readOptimizerState(opt: Optimizer): Promise<StateDict> {
  const items: [string, Tensor][] = opt.entries.flatMap((e) =>
    e.state.map((t, k) => [`optimizer.${e.name}.${opt.stateNames[k]}`, t] as [string, Tensor])
  );
  const out: StateDict = new Map();
  for (let i = 0; i < items.length;) {
    let bytes = 0;
    let j = i;
    while (j < items.length && (j === i || bytes + items[j][1].byteLength <= READ_BATCH_BYTES)) {
      bytes += items[j++][1].byteLength;
    }
    const data = await readTensors(items.slice(i, j).map(([, t]) => t));
    items.slice(i, j).forEach(([name, t], k) =>
      out.set(name, { shape: [...t.shape], data: data[k] as Float32Array })
    );
    i = j;
  }
  return out;
}

function safetensorsChunks(
  tensors: [string, WeightTensor][],
  metadata: Record<string, string>,
): Uint8Array[] {
  const bytesOf = (t: WeightTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new ShapeError(
        "saveCheckpoint",
        `tensor ${name} has ${t.data.length} values but shape [${t.shape}]`,
      );
    }
  }
  const sums = checksumMetadata(tensors.map(([name, t]) => [name, bytesOf(t)]), metadata);
  const header: Record<string, unknown> = { __metadata__: { ...metadata, [CHECKSUM_KEY]: sums } };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(8 + Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  new DataView(padded.buffer).setBigUint64(0, BigInt(padded.byteLength - 8), true);
  padded.set(json, 8);
  return [
    padded,
    ...tensors.map(([, t]) => bytesOf(t)),
  ];
}

const defaultWriter: ChunkWriter = async (path, chunks) => {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength;) at += await file.write(chunk.subarray(at));
    }
    await file.syncData();
  } finally {
    file.close();
  }
};

function splitPath(path: string): [string, string] {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? [".", path] : [path.slice(0, cut) || "/", path.slice(cut + 1)];
}

/**
 * The temporary file an atomic write of `path` goes through: `.<name>.<pid>.<8 hex>.tmp` beside it (the
 * pattern {@link removeStaleTempFiles} cleans up).
 *
 * @example
 * ```ts
 * import { tempPathFor } from "./checkpoint.ts";
 * console.log(tempPathFor("run/model.safetensors").startsWith("run/.model.safetensors.")); // true
 * ```
 */
export function tempPathFor(path: string): string {
  const [dir, base] = splitPath(path);
  return `${dir}/.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/** `.<name>.<pid>.<8 hex>.tmp`, as {@link tempPathFor} names them. */
const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temporary files that killed writes of {@link saveCheckpoint} / {@link tempPathFor} left in
 * `dir` (`.<name>.<pid>.<8 hex>.tmp` of another process than this one, plus the names in `legacy`);
 * nothing else is touched. Returns the removed file names. A missing `dir` removes nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { removeStaleTempFiles } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * // A temporary file left by a crashed writer (process 4711) and the checkpoint itself.
 * await Deno.writeTextFile(`${dir}/.checkpoint.safetensors.4711.0a1b2c3d.tmp`, "partial");
 * await Deno.writeTextFile(`${dir}/checkpoint.safetensors`, "kept");
 * const removed = await removeStaleTempFiles(dir);
 * assert.deepStrictEqual(removed, [".checkpoint.safetensors.4711.0a1b2c3d.tmp"]);
 * assert.strictEqual(await Deno.readTextFile(`${dir}/checkpoint.safetensors`), "kept");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTempFiles(dir: string, legacy: readonly string[] = []): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = TEMP_FILE.exec(entry.name);
      const stale = (m !== null && Number(m[2]) !== Deno.pid) || legacy.includes(entry.name);
      if (!entry.isFile || !stale) continue;
      await Deno.remove(`${dir}/${entry.name}`);
      removed.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed.sort();
}

/**
 * Writes weights, optimizer state (read back from the GPU, if `opt` is given), step, config and RNG state
 * into ONE safetensors file, atomically: a temporary file next to `path` is written, synced and renamed;
 * on any failure it is removed and the previous checkpoint at `path` is untouched.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * await saveCheckpoint(`${dir}/ckpt.safetensors`, weights, opt, { step: 1000, rngState: 42, config: { lr: 0.1 } });
 * const back = await loadCheckpoint(`${dir}/ckpt.safetensors`);
 * assert.deepStrictEqual([back.step, back.rngState], [1000, 42]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  weights: StateDict,
  opt: Optimizer | null,
  extra: CheckpointExtra,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  if (!Number.isInteger(extra.step) || extra.step < 0) {
    throw new CheckpointError(path, `step must be an integer ≥ 0, got ${extra.step}`);
  }
  for (const name of weights.keys()) {
    if (name.startsWith("optimizer.")) throw new CheckpointError(path, `weight name ${name} is reserved`);
  }
  const metadata: Record<string, string> = {
    format: "pt",
    [MAGIC]: "1",
    step: String(extra.step),
    config: JSON.stringify(extra.config ?? null),
    rng_state: JSON.stringify(extra.rngState ?? null),
  };
  const tensors: [string, WeightTensor][] = [...weights];
  if (opt) {
    metadata.optimizer = JSON.stringify({
      type: opt.options.type,
      options: opt.options,
      step_count: opt.stepCount,
      state_names: opt.stateNames,
      params: opt.entries.map((e) => e.name),
    });
    tensors.push(...await readOptimizerState(opt));
  }
  const chunks = safetensorsChunks(tensors, metadata);
  const tmp = tempPathFor(path);
  try {
    await (options.writeFile ?? defaultWriter)(tmp, chunks);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new CheckpointError(
      path,
      `writing failed, previous checkpoint kept (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

function parseJson(file: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new CheckpointError(file, `metadata "${key}" is missing`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `metadata "${key}" is not JSON (${(e as Error).message})`);
  }
}

/**
 * Reads and validates a checkpoint written by {@link saveCheckpoint}: the checksums of every tensor and of
 * the metadata (checkpoints written before checksums existed load unverified), weights, optimizer state
 * (every `optimizer.<param>.<state>` the metadata lists must be present), step, config and RNG state.
 * Throws {@link CheckpointError} naming the file and what is missing, malformed or corrupt (its `cause` is
 * a `ChecksumMismatchError` listing the damaged tensors when the integrity check fails).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [3], data: new Float32Array([0.5, 1, 2]) }]]);
 * await saveCheckpoint(`${dir}/ckpt.safetensors`, weights, null, { step: 7 });
 * const { weights: loaded, optimizer, step } = await loadCheckpoint(`${dir}/ckpt.safetensors`);
 * assert.deepStrictEqual(loaded.get("w")?.data, new Float32Array([0.5, 1, 2]));
 * assert.deepStrictEqual([optimizer, step], [null, 7]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new CheckpointError(path, `cannot read the file (${(e as Error).message})`, { cause: e });
  }
  let parsed;
  try {
    parsed = readSafetensors(bytes, path);
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message, { cause: e });
  }
  const { tensors, metadata } = parsed;
  if (metadata[MAGIC] !== "1") {
    throw new CheckpointError(path, `not a training checkpoint (no "${MAGIC}" metadata)`);
  }
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) {
    throw new CheckpointError(path, `metadata "step" is invalid (${metadata.step})`);
  }
  const weights: StateDict = new Map();
  const rest: StateDict = new Map();
  for (const [name, t] of tensors) (name.startsWith("optimizer.") ? rest : weights).set(name, t);
  let optimizer: LoadedOptimizerState | null = null;
  if (metadata.optimizer !== undefined) {
    const o = parseJson(path, "optimizer", metadata.optimizer) as Record<string, unknown>;
    const params = o?.params, stateNames = o?.state_names;
    const isStrings = (v: unknown): v is string[] =>
      Array.isArray(v) && v.every((s) => typeof s === "string");
    if (
      !isStrings(params) || !isStrings(stateNames) || typeof o.type !== "string" ||
      !Number.isInteger(o.step_count)
    ) {
      throw new CheckpointError(path, `metadata "optimizer" lacks type, step_count, params or state_names`);
    }
    const missing = params.flatMap((p) => stateNames.map((s) => `optimizer.${p}.${s}`)).filter((n) =>
      !rest.has(n)
    );
    if (missing.length) {
      throw new CheckpointError(
        path,
        `optimizer state missing: ${missing.slice(0, 10).join(", ")}${
          missing.length > 10 ? ` and ${missing.length - 10} more` : ""
        }`,
      );
    }
    optimizer = {
      type: o.type,
      options: (o.options ?? {}) as Record<string, unknown>,
      stepCount: o.step_count as number,
      stateNames,
      params,
      state: rest,
    };
  } else if (rest.size) {
    throw new CheckpointError(path, `optimizer tensors present but metadata "optimizer" is missing`);
  }
  return {
    file: path,
    step,
    weights,
    optimizer,
    config: parseJson(path, "config", metadata.config),
    rngState: parseJson(path, "rng_state", metadata.rng_state),
  };
}

/**
 * Puts a loaded checkpoint's optimizer state onto the GPU (replacing `opt`'s state tensors) and restores
 * `stepCount`. The optimizer type, parameter names and shapes must match; the error lists the differences.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { loadCheckpoint, restoreOptimizer, saveCheckpoint } from "./checkpoint.ts";
 * import { optimizerStep } from "./optimizer.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * fillInPlace(opt.entries[0].grad, 1);
 * optimizerStep(opt); // momentum buffer is now [1, 1]
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [2], data: new Float32Array(await w.read()) }]]);
 * await saveCheckpoint(`${dir}/ckpt.safetensors`, weights, opt, { step: 1 });
 * const fresh = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * restoreOptimizer(fresh, await loadCheckpoint(`${dir}/ckpt.safetensors`));
 * assert.strictEqual(fresh.stepCount, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function restoreOptimizer(opt: Optimizer, checkpoint: LoadedCheckpoint): void {
  const file = checkpoint.file;
  const saved = checkpoint.optimizer;
  if (!saved) throw new CheckpointError(file, "holds no optimizer state");
  if (saved.type !== opt.options.type) {
    throw new CheckpointError(file, `optimizer is ${saved.type}, this one is ${opt.options.type}`);
  }
  const ours = new Set(opt.entries.map((e) => e.name));
  const theirs = new Set(saved.params);
  const missing = [...ours].filter((n) => !theirs.has(n));
  const unexpected = [...theirs].filter((n) => !ours.has(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing params: ${missing.join(", ")}`);
  if (unexpected.length) problems.push(`unexpected params: ${unexpected.join(", ")}`);
  const uploads: [number, number, WeightTensor][] = [];
  opt.entries.forEach((e, i) => {
    if (!theirs.has(e.name)) return;
    opt.stateNames.forEach((s, k) => {
      const t = saved.state.get(`optimizer.${e.name}.${s}`);
      const same = t && t.shape.length === e.param.rank && t.shape.every((d, j) => d === e.param.shape[j]);
      if (!t || !same) {
        problems.push(`optimizer.${e.name}.${s}: ${t ? `[${t.shape}]` : "absent"} ≠ [${e.param.shape}]`);
      } else uploads.push([i, k, t]);
    });
  });
  if (problems.length) {
    throw new CheckpointError(file, `optimizer state does not match: ${problems.join("; ")}`);
  }
  for (const [i, k, t] of uploads) {
    const entry = opt.entries[i];
    entry.state[k].dispose();
    entry.state[k] = keep(tensorFromArray(t.data, entry.param.shape));
  }
  opt.stepCount = saved.stepCount;
}
