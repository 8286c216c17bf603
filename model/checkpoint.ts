/**
 * A training checkpoint in memory: the weights (torchvision names), the optimizer state (`OptimizerState`,
 * tensors under `optimizer.<param>.<state>` in the packed layout of the GPU tensors), the step, the config
 * and the caller's RNG state, plus {@link CheckpointError}. model/ makes and restores these records
 * (`captureCheckpoint`, `restoreCheckpoint`, `readOptimizerState`, `restoreOptimizer`); the file of one is
 * `data/weights/checkpoint_file.ts`'s (`writeCheckpointFile`, `readCheckpointFile`).
 * @module
 */
import type { StateDict } from "./state_dict.ts";

/**
 * A checkpoint that cannot be written, read or restored; names the file (or `<checkpoint>` for one made
 * in memory).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { CheckpointError } from "./checkpoint.ts";
 * const e = new CheckpointError("run/ckpt.safetensors", "holds no optimizer state");
 * assert.strictEqual(e.message, "checkpoint run/ckpt.safetensors: holds no optimizer state");
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

/** An optimizer's state in memory, as {@link Checkpoint} holds it. */
export interface OptimizerState {
  /** `"sgd"` or `"adamw"`. */
  type: string;
  /** The optimizer's options (JSON values). */
  options: Record<string, unknown>;
  /** Optimizer steps taken. */
  stepCount: number;
  /** The per-parameter state tensors' names, e.g. `["momentum_buffer"]`. */
  stateNames: string[];
  /** The parameter names, in the optimizer's order. */
  params: string[];
  /** `optimizer.<param>.<state>` → tensor (packed layout). */
  state: StateDict;
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

/** A whole checkpoint in memory: what `writeCheckpointFile` writes and `readCheckpointFile` returns. */
export interface Checkpoint extends CheckpointExtra {
  /** Weights by name (no name may start with `optimizer.`). */
  weights: StateDict;
  /** The optimizer's state, or null for weights only. */
  optimizer: OptimizerState | null;
  /** Where the checkpoint was read from (names it in errors); absent for one made in memory. */
  file?: string;
}
