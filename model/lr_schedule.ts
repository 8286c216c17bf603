/**
 * The learning-rate schedule of torchvision's detection reference, per iteration: a linear warm-up from
 * `warmupFactor` to 1 over `warmupIters` (torch's `LinearLR`) times a step decay by `gamma` at each
 * milestone (torch's `MultiStepLR`), both counted in iterations (the reference steps `MultiStepLR` per
 * epoch: pass milestones as epoch · iterations per epoch). A pure function of the step, so a resumed run
 * gets the same rates.
 * @module
 */

/** Options of {@link learningRate}. */
export interface LrScheduleOptions {
  /** Base learning rate. */
  lr: number;
  /** Warm-up length in iterations (0: none). Default 0. */
  warmupIters?: number;
  /** Factor at iteration 0 of the warm-up (torchvision's reference: 1/1000). Default 0.001. */
  warmupFactor?: number;
  /** Iterations at which the rate is multiplied by `gamma` (from that iteration on). Default none. */
  milestones?: readonly number[];
  /** Decay factor at each milestone. Default 0.1. */
  gamma?: number;
}

/**
 * Checks the schedule options; throws a RangeError naming the bad option.
 *
 * @example
 * ```ts
 * import { validateLrSchedule } from "./lr_schedule.ts";
 * validateLrSchedule({ lr: 0.02, warmupIters: 1000, milestones: [16000, 22000] });
 * ```
 */
export function validateLrSchedule(o: LrScheduleOptions): void {
  const bad = (what: string, value: unknown): never => {
    throw new RangeError(`learning-rate schedule: ${what} is invalid (${JSON.stringify(value)})`);
  };
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) bad("lr", o.lr);
  const warmup = o.warmupIters ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) bad("warmupIters", o.warmupIters);
  const factor = o.warmupFactor ?? 0.001;
  if (!(Number.isFinite(factor) && factor > 0 && factor <= 1)) bad("warmupFactor", o.warmupFactor);
  if (!(Number.isFinite(o.gamma ?? 0.1) && (o.gamma ?? 0.1) > 0)) bad("gamma", o.gamma);
  const m = o.milestones ?? [];
  if (!m.every((v, i) => Number.isInteger(v) && v > 0 && (i === 0 || v >= m[i - 1]))) {
    bad("milestones (positive integers, ascending)", m);
  }
}

/**
 * The learning rate at iteration `step` (0-based: the rate used by the step-th update):
 * lr · w(step) · gamma^#{m ∈ milestones : m ≤ step}, with w = warmupFactor·(1 − α) + α, α = step/warmupIters
 * during the warm-up and 1 after it. Matches torch's LinearLR + MultiStepLR chained (each stepped once per
 * iteration) up to the rounding of torch's recursive form (relative 1e-15).
 *
 * @example
 * ```ts
 * import { learningRate } from "./lr_schedule.ts";
 * const o = { lr: 0.02, warmupIters: 100, warmupFactor: 0.001, milestones: [1000], gamma: 0.1 };
 * console.log(learningRate(0, o), learningRate(50, o), learningRate(500, o), learningRate(1000, o));
 * // 0.00002 0.010010 0.02 0.002
 * ```
 */
export function learningRate(step: number, options: LrScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`learningRate: step must be an integer ≥ 0, got ${step}`);
  }
  const warmup = options.warmupIters ?? 0;
  const factor = options.warmupFactor ?? 0.001;
  let w = 1;
  if (step < warmup) {
    const alpha = step / warmup;
    w = factor * (1 - alpha) + alpha;
  }
  let decays = 0;
  for (const m of options.milestones ?? []) if (m <= step) decays++;
  return options.lr * w * (options.gamma ?? 0.1) ** decays;
}
