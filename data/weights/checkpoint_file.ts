/**
 * The file of a training checkpoint: ONE safetensors file holding the weights (torchvision 0.14 names),
 * the optimizer state (`optimizer.<param>.<state>`, e.g. `optimizer.rpn.head.conv.0.0.weight.momentum_buffer`,
 * in the packed layout of the GPU tensors) and, in `__metadata__`, the step, the config, the RNG state and
 * the optimizer's type, options and parameter list (JSON strings), with checksums of all of it.
 *
 * Decisions: written atomically (`writeChunksAtomic`: a temporary file in the same directory, synced, then
 * renamed over the target), so a crash or a failed write never leaves a broken checkpoint (the previous one
 * stays intact). Data is streamed tensor by tensor (no second copy of a 0.5 GB file in memory). Reading
 * validates everything and names the file and what is missing. The record itself (`Checkpoint`) and its
 * capture from / restore into a model are model/'s.
 * @module
 */
import { type Checkpoint, CheckpointError, type OptimizerState } from "../../model/checkpoint.ts";
import type { StateDict, WeightTensor } from "../../model/state_dict.ts";
import { type WriteAtomicOptions, writeChunksAtomic } from "../atomic_file.ts";
import { numel } from "./dtype.ts";
import { readSafetensors, safetensorsChunks } from "./safetensors.ts";

const MAGIC = "maskrcnn_webgpu_checkpoint";

/** Options of {@link writeCheckpointFile}. */
export type WriteCheckpointOptions = WriteAtomicOptions;

/**
 * Writes a checkpoint (weights, optimizer state, step, config, RNG state) into ONE safetensors file at
 * `path`, atomically: on any failure the previous checkpoint at `path` is untouched and the
 * {@link CheckpointError} says so.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readCheckpointFile, writeCheckpointFile } from "./checkpoint_file.ts";
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * await writeCheckpointFile(`${dir}/ckpt.safetensors`, { step: 1000, weights, optimizer: null, rngState: 42 });
 * const back = await readCheckpointFile(`${dir}/ckpt.safetensors`);
 * assert.deepStrictEqual([back.step, back.rngState, back.optimizer], [1000, 42, null]);
 * assert.deepStrictEqual(back.weights.get("w")?.data, new Float32Array([1, 2]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeCheckpointFile(
  path: string,
  checkpoint: Checkpoint,
  options: WriteCheckpointOptions = {},
): Promise<void> {
  const { step, weights, optimizer } = checkpoint;
  if (!Number.isInteger(step) || step < 0) {
    throw new CheckpointError(path, `step must be an integer ≥ 0, got ${step}`);
  }
  for (const name of weights.keys()) {
    if (name.startsWith("optimizer.")) throw new CheckpointError(path, `weight name ${name} is reserved`);
  }
  const metadata: Record<string, string> = {
    format: "pt",
    [MAGIC]: "1",
    step: String(step),
    config: JSON.stringify(checkpoint.config ?? null),
    rng_state: JSON.stringify(checkpoint.rngState ?? null),
  };
  const tensors: [string, WeightTensor][] = [...weights];
  if (optimizer) {
    metadata.optimizer = JSON.stringify({
      type: optimizer.type,
      options: optimizer.options,
      step_count: optimizer.stepCount,
      state_names: optimizer.stateNames,
      params: optimizer.params,
    });
    tensors.push(...optimizer.state);
  }
  for (const [name, t] of tensors) {
    if (numel(t.shape) !== t.data.length) {
      throw new CheckpointError(path, `tensor ${name} has ${t.data.length} values but shape [${t.shape}]`);
    }
  }
  const chunks = safetensorsChunks(new Map(tensors), metadata);
  try {
    await writeChunksAtomic(path, chunks, options);
  } catch (error) {
    throw new CheckpointError(
      path,
      `writing failed, previous checkpoint kept (${(error as Error).message})`,
      { cause: error },
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

function optimizerState(path: string, json: string, rest: StateDict): OptimizerState {
  const o = parseJson(path, "optimizer", json) as Record<string, unknown>;
  const params = o?.params, stateNames = o?.state_names;
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
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
  return {
    type: o.type,
    options: (o.options ?? {}) as Record<string, unknown>,
    stepCount: o.step_count as number,
    stateNames,
    params,
    state: rest,
  };
}

/**
 * Reads and validates a checkpoint written by {@link writeCheckpointFile}: the checksums of every tensor
 * and of the metadata (checkpoints written before checksums existed load unverified), weights, optimizer
 * state (every `optimizer.<param>.<state>` the metadata lists must be present), step, config and RNG
 * state. Throws {@link CheckpointError} naming the file and what is missing, malformed or corrupt (its
 * `cause` is a `ChecksumMismatchError` listing the damaged tensors when the integrity check fails).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readCheckpointFile, writeCheckpointFile } from "./checkpoint_file.ts";
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [3], data: new Float32Array([0.5, 1, 2]) }]]);
 * await writeCheckpointFile(`${dir}/ckpt.safetensors`, { step: 7, weights, optimizer: null });
 * const { weights: loaded, optimizer, step, file } = await readCheckpointFile(`${dir}/ckpt.safetensors`);
 * assert.deepStrictEqual(loaded.get("w")?.data, new Float32Array([0.5, 1, 2]));
 * assert.deepStrictEqual([optimizer, step, file], [null, 7, `${dir}/ckpt.safetensors`]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readCheckpointFile(
  path: string,
): Promise<Required<Checkpoint>> {
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
  let optimizer: OptimizerState | null = null;
  if (metadata.optimizer !== undefined) optimizer = optimizerState(path, metadata.optimizer, rest);
  else if (rest.size) {
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
