/**
 * Data-parallel training step: each of N ranks runs forward and backward on its share of a step's global
 * batch, and the ranks sum their gradients before the optimizer, so every rank applies the same update —
 * the one a single process would apply to the whole global batch.
 *
 * Why sums, and the normalisers: torchvision averages each loss over what was sampled in the *whole*
 * batch (anchors for the RPN losses, RoIs for the box losses, positive RoIs for the mask loss). A rank
 * therefore first exchanges its three counts (one small read-back and all-reduce), divides its partial
 * losses by the global counts, and the gradients of the N ranks then add up exactly to the single-process
 * gradient (only the order of the float additions differs). Averaging per-rank means instead would
 * weight the images of a rank with few samples differently.
 *
 * Per step: zero the gradients; forward to the targets; read back and all-reduce the counts; losses and
 * backward with the global counts; one read-back of every gradient, the five losses and the non-finite
 * flag (one staging buffer, one map); one in-place all-reduce of the flat f32 gradient array and one of
 * the losses and flag; one upload of the summed gradients (into a flat GPU buffer, copied into each
 * gradient); the optimizer, skipped on every rank when any rank saw a non-finite loss.
 *
 * What equality holds: N ranks × B images give the weights of 1 process × N·B images up to float
 * summation order when every rank pads its images to the same size (fixed-size data, or the model's
 * min/max size making them equal); each rank pads its own shard, as torchvision's DDP does.
 * @module
 */
import { withBoundedDispatch } from "../ops/kernel.ts";
import { flagNonFinite } from "../ops/optimizer.ts";
import { currentGpu } from "../ops/gpu.ts";
import {
  emptyTensor,
  keep,
  readTensors,
  type Tensor,
  type TensorData,
  tensorFromArray,
  tidy,
  tidyHeld,
  writeTensor,
} from "../ops/tensor.ts";
import type { MaskRcnnModel } from "./mask_rcnn.ts";
import { type Optimizer, optimizerStep, zeroGradients } from "./optimizer.ts";
import {
  type Losses,
  NonFiniteLossError,
  trainBackward,
  type TrainBatch,
  trainForward,
} from "./train_step.ts";

/** The collective a data-parallel step needs: an in-place element-wise sum over all ranks. */
export interface GradientReducer {
  /** This process's rank, 0..size−1. */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  /** Sums `data` element-wise over all ranks, in place; every rank must call it in the same order. */
  allreduce(data: Float32Array | Float64Array, op?: "sum"): Promise<void>;
}

/** Options of {@link distributedTrainStep}. */
export interface DistributedStepOptions {
  /** Sampler seed (as `trainStep`'s). */
  seed?: number;
  /** Index of this rank's first image in the step's global batch (for the samplers' draws). */
  firstImage: number;
  /** Filled with the step's communication times in milliseconds, when given. */
  timing?: DistributedStepTiming;
}

/** Where a data-parallel step spent its communication time (milliseconds). */
export interface DistributedStepTiming {
  /** Read-back and all-reduce of the loss denominators. */
  counts: number;
  /** Read-back of the gradients, losses and flag (includes waiting for backward to finish). */
  readBack: number;
  /** All-reduce of the gradients, losses and flag. */
  allreduce: number;
  /** Upload of the summed gradients. */
  upload: number;
}

const LOSS_NAMES = ["rpnObjectness", "rpnBoxReg", "classifier", "boxReg", "mask"] as const;

interface FlatGradients {
  tensor: Tensor;
  offsets: number[];
  total: number;
}

const flatCache = new WeakMap<Optimizer, FlatGradients>();

function flatGradients(opt: Optimizer): FlatGradients {
  let flat = flatCache.get(opt);
  if (!flat || flat.tensor.disposed) {
    const offsets: number[] = [];
    let total = 0;
    for (const e of opt.entries) {
      offsets.push(total);
      total += e.grad.size;
    }
    flat = { tensor: keep(emptyTensor([Math.max(1, total)], "f32")), offsets, total };
    flatCache.set(opt, flat);
  }
  return flat;
}

/**
 * Frees the flat gradient buffer {@link distributedTrainStep} keeps per optimizer (it is also made again
 * when needed).
 *
 * @example
 * ```ts
 * import { releaseDistributedBuffers } from "./distributed.ts";
 * // releaseDistributedBuffers(opt);
 * console.log(typeof releaseDistributedBuffers);
 * ```
 */
export function releaseDistributedBuffers(opt: Optimizer): void {
  flatCache.get(opt)?.tensor.dispose();
  flatCache.delete(opt);
}

/**
 * One data-parallel optimisation step on this rank's share of the global batch (`shard`, possibly
 * empty when a short last batch has fewer images than ranks). Returns the losses of the whole global
 * batch (the same on every rank); throws `NonFiniteLossError` on every rank when any rank's loss is
 * not finite (no rank applies the update).
 *
 * @example One rank of one: the reducer is MPI's communicator (`initMpi`) in a real job
 * ```ts
 * import assert from "node:assert";
 * import { distributedTrainStep, shardBatch } from "./distributed.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import { generateShapesItem } from "../data/shapes.ts";
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
 * const item = generateShapesItem(3, { width: 64, height: 64 });
 * const single = { rank: 0, size: 1, allreduce: () => Promise.resolve() }; // sums over one rank
 * // rank r of N takes its share of the global batch; firstImage keeps the samplers' draws per image.
 * const { shard, firstImage } = shardBatch({ images: [item.image], targets: [item.target] }, 0, 1);
 * const losses = await distributedTrainStep(model, shard, opt, single, { seed: 0, firstImage });
 * assert.ok(Number.isFinite(losses.total));
 * assert.strictEqual(opt.stepCount, 1);
 * ```
 */
export async function distributedTrainStep(
  model: MaskRcnnModel,
  shard: TrainBatch,
  opt: Optimizer,
  reducer: GradientReducer,
  options: DistributedStepOptions,
): Promise<Losses> {
  const seed = options.seed ?? 0;
  const step = opt.stepCount;
  const empty = shard.images.length === 0;
  const clock = () => performance.now();
  zeroGradients(opt.entries);

  // 1. Forward to the targets; exchange the loss denominators.
  let t = clock();
  const held = empty ? null : tidyHeld(() =>
    withBoundedDispatch(
      true, // as trainStep (see TRAIN_STEP_BOUNDED_DISPATCH there): bounded, still bit for bit
      () => trainForward(model, opt, shard, { seed, step, firstImage: options.firstImage }),
    )
  );
  const forward = held?.result;
  const counts = new Float64Array(3);
  if (forward) {
    const { rpn, box, mask } = forward.normalisers;
    const values = await readTensors([rpn, box, mask] as Tensor[]);
    values.forEach((v, i) => (counts[i] = v[0]));
  }
  await reducer.allreduce(counts);
  const timing: DistributedStepTiming = { counts: clock() - t, readBack: 0, allreduce: 0, upload: 0 };

  // 2. Losses and backward with the global denominators; read everything back at once.
  const grads = opt.entries.map((e) => e.grad);
  const localLosses = new Float64Array(LOSS_NAMES.length + 1);
  let gradValues: Float32Array;
  t = clock();
  if (forward) {
    const { list, flag } = tidy(() => {
      const l = withBoundedDispatch(
        true,
        () => trainBackward(forward, { rpn: counts[0], box: counts[1], mask: counts[2] }),
      );
      const list = LOSS_NAMES.map((k) => l[k]);
      return { list, flag: flagNonFinite(list) };
    });
    held!.dispose();
    const values = await readTensors([...grads, ...list, flag]);
    for (const x of [...list, flag]) x.dispose();
    LOSS_NAMES.forEach((_, i) => (localLosses[i] = (values[grads.length + i] as Float32Array)[0]));
    localLosses[LOSS_NAMES.length] = (values.at(-1) as Uint32Array)[0] !== 0 ? 1 : 0;
    gradValues = gradientView(values, grads);
  } else {
    const values = await readTensors(grads);
    gradValues = gradientView(values, grads);
  }
  timing.readBack = clock() - t;

  // 3. Sum over ranks; upload; update (or skip on every rank).
  t = clock();
  await reducer.allreduce(gradValues);
  await reducer.allreduce(localLosses);
  timing.allreduce = clock() - t;
  t = clock();
  const flat = flatGradients(opt);
  writeTensor(flat.tensor, gradValues);
  const gpu = currentGpu();
  const encoder = gpu.commandEncoder();
  opt.entries.forEach((e, i) => {
    encoder.copyBufferToBuffer(
      flat.tensor.buffer,
      flat.tensor.byteOffset + 4 * flat.offsets[i],
      e.grad.buffer,
      e.grad.byteOffset,
      4 * e.grad.size,
    );
  });
  const skip = localLosses[LOSS_NAMES.length] !== 0;
  tidy(() => {
    optimizerStep(opt, { skip: tensorFromArray(new Uint32Array([skip ? 1 : 0]), [1]) });
  });
  gpu.flush();
  timing.upload = clock() - t;
  if (options.timing) Object.assign(options.timing, timing);

  const result = Object.fromEntries(LOSS_NAMES.map((k, i) => [k, localLosses[i]])) as unknown as Losses;
  result.total = LOSS_NAMES.reduce((s, k) => s + result[k], 0);
  if (skip) {
    opt.stepCount = step; // the update was skipped on every rank
    throw new NonFiniteLossError(result);
  }
  return result;
}

/** The gradients as one Float32Array: readTensors lays them out back to back in one buffer. */
function gradientView(values: TensorData[], grads: Tensor[]): Float32Array {
  if (grads.length === 0) return new Float32Array(0);
  const first = values[0] as Float32Array;
  const total = grads.reduce((s, g) => s + g.size, 0);
  return new Float32Array(first.buffer, first.byteOffset, total);
}

/**
 * Rank `rank`'s share of a global batch of n images among `size` ranks: images ⌊r·n/N⌋ .. ⌊(r+1)·n/N⌋−1
 * (contiguous, so rank r's first image has global index ⌊r·n/N⌋). A batch smaller than the rank count
 * leaves some ranks empty.
 *
 * @example
 * ```ts
 * import { shardBatch } from "./distributed.ts";
 * const batch = { images: ["a", "b", "c", "d"], targets: [1, 2, 3, 4] };
 * console.log(shardBatch(batch, 1, 2)); // { shard: { images: ["c", "d"], targets: [3, 4] }, firstImage: 2 }
 * ```
 */
export function shardBatch<I, T>(
  batch: { images: readonly I[]; targets: readonly T[] },
  rank: number,
  size: number,
): { shard: { images: I[]; targets: T[] }; firstImage: number } {
  const n = batch.images.length;
  const lo = Math.floor((rank * n) / size), hi = Math.floor(((rank + 1) * n) / size);
  return {
    shard: { images: batch.images.slice(lo, hi), targets: batch.targets.slice(lo, hi) },
    firstImage: lo,
  };
}
