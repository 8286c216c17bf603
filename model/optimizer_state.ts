/**
 * An optimizer's state between the GPU and memory: {@link readOptimizerState} reads the state tensors back
 * (in batches of ≤ 256 MiB) with the type, options, step count and parameter list;
 * {@link restoreOptimizer} checks a checkpoint's state against an optimizer and uploads it. Files are
 * `data/weights/checkpoint_file.ts`'s.
 * @module
 */
import { type Checkpoint, CheckpointError, type OptimizerState } from "./checkpoint.ts";
import type { StateDict, WeightTensor } from "./state_dict.ts";
import type { Optimizer } from "./optimizer.ts";
import { keep, readTensors, type Tensor, tensorFromArray } from "../ops/tensor.ts";

const READ_BATCH_BYTES = 256 * 1024 * 1024;

/**
 * Reads the optimizer's state back from the GPU: tensors under `optimizer.<param>.<state>` (packed layout)
 * and the type, options, step count, state names and parameter names.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readOptimizerState } from "./optimizer_state.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * const { state, stateNames, params } = await readOptimizerState(opt);
 * assert.deepStrictEqual([...state.keys()], ["optimizer.w.momentum_buffer"]);
 * assert.deepStrictEqual(state.get("optimizer.w.momentum_buffer")?.shape, [2]);
 * assert.deepStrictEqual([stateNames, params], [["momentum_buffer"], ["w"]]);
 * ```
 */
export async function readOptimizerState(opt: Optimizer): Promise<OptimizerState> {
  const items: [string, Tensor][] = opt.entries.flatMap((e) =>
    e.state.map((t, k) => [`optimizer.${e.name}.${opt.stateNames[k]}`, t] as [string, Tensor])
  );
  const state: StateDict = new Map();
  for (let i = 0; i < items.length;) {
    let bytes = 0;
    let j = i;
    while (j < items.length && (j === i || bytes + items[j][1].byteLength <= READ_BATCH_BYTES)) {
      bytes += items[j++][1].byteLength;
    }
    const data = await readTensors(items.slice(i, j).map(([, t]) => t));
    items.slice(i, j).forEach(([name, t], k) =>
      state.set(name, { shape: [...t.shape], data: data[k] as Float32Array })
    );
    i = j;
  }
  return {
    type: opt.options.type,
    options: { ...opt.options } as Record<string, unknown>,
    stepCount: opt.stepCount,
    stateNames: [...opt.stateNames],
    params: opt.entries.map((e) => e.name),
    state,
  };
}

/**
 * Puts a checkpoint's optimizer state onto the GPU (replacing `opt`'s state tensors) and restores
 * `stepCount`. The optimizer type, parameter names and shapes must match; the {@link CheckpointError}
 * (naming the checkpoint's file) lists the differences.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { readOptimizerState, restoreOptimizer } from "./optimizer_state.ts";
 * import { createOptimizer, optimizerStep } from "./optimizer.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * fillInPlace(opt.entries[0].grad, 1);
 * optimizerStep(opt); // the momentum buffer is now the gradient plus weight decay
 * const checkpoint = { step: 1, weights: new Map(), optimizer: await readOptimizerState(opt) };
 * const fresh = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1, momentum: 0.9 });
 * restoreOptimizer(fresh, checkpoint);
 * assert.strictEqual(fresh.stepCount, 1);
 * assert.deepStrictEqual(await fresh.entries[0].state[0].read(), await opt.entries[0].state[0].read());
 * ```
 */
export function restoreOptimizer(opt: Optimizer, checkpoint: Checkpoint): void {
  const file = checkpoint.file ?? "<checkpoint>";
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
