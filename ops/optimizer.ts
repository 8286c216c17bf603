/**
 * Optimizer kernels: in-place SGD (momentum, weight decay) and AdamW updates over a list of parameter
 * tensors with their gradients and state, the global gradient norm for clipping (two-stage reduction into a
 * GPU `[1]` tensor, never read back) and the non-finite flag that makes an update a no-op.
 *
 * Decisions: one dispatch per tensor (a Mask R-CNN has ~100 trainable tensors, so the launch overhead is
 * small next to the ~44M-element memory traffic); learning rate, step and hyper-parameters are CPU-known
 * dispatch params; the clip factor `min(1, maxNorm / (norm + 1e-6))` (torch's `clip_grad_norm_`) and the
 * skip flag are read by the update kernels from GPU tensors. Zero-padded columns stay exactly 0 when their
 * gradients are 0 (every update of an element is a function of that element's param, grad and state only).
 * @module
 */
import {
  adamwWgsl,
  FLAG_NON_FINITE_WGSL,
  GRAD_NORM_WGSL,
  NORM_CHUNK,
  sgdWgsl,
  sumSquaresWgsl,
  type UpdateVariant,
} from "../shaders/optimizer.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { fillInPlace } from "./elementwise.ts";
import { dispatch, type NamedTensor, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertSameShape } from "./validate.ts";

/** One parameter tensor to update in place, with its gradient and optimizer state (same shape, f32). */
export interface UpdateTarget {
  /** The parameter (updated in place). */
  param: Tensor;
  /** Its gradient w.r.t. the stored parameter (read only). */
  grad: Tensor;
  /** Optimizer state: `[momentum_buffer]` for SGD, `[exp_avg, exp_avg_sq]` for AdamW (updated in place). */
  state: Tensor[];
  /**
   * Per-column scale s `[cols]` (cols = the param's last dim) when the stored param is W·s (a conv with a
   * frozen batch norm folded in): the update then follows torch on W. Padding entries must be non-zero.
   */
  columnScale?: Tensor | null;
}

/** Options shared by the update kernels. */
export interface UpdateCommon {
  /** Learning rate of this step. */
  lr: number;
  /** Decoupled (AdamW) or L2 (SGD) weight decay; default 0. */
  weightDecay?: number;
  /** u32 `[1]`: a non-zero value leaves every param and state untouched (see {@link flagNonFinite}). */
  skip?: Tensor;
  /** f32 `[1]` global gradient norm ({@link globalGradNorm}); with `maxNorm` > 0 gradients are clipped. */
  norm?: Tensor;
  /** Clip the gradients to this global L2 norm (needs `norm`). */
  maxNorm?: number;
}

/** Options of {@link sgdUpdate}: torch.optim.SGD with dampening 0 and nesterov false. */
export interface SgdUpdateOptions extends UpdateCommon {
  /** Momentum factor; default 0. */
  momentum?: number;
}

/** Options of {@link adamwUpdate}: torch.optim.AdamW without amsgrad. */
export interface AdamwUpdateOptions extends UpdateCommon {
  /** 1-based step count of this update (after increment, as torch's `state["step"]`). */
  step: number;
  /** (β1, β2); default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
}

function checkTarget(op: string, t: UpdateTarget, index: number, stateCount: number): UpdateVariant {
  const name = `targets[${index}]`;
  t.param.check(op, `${name}.param`);
  t.grad.check(op, `${name}.grad`);
  assertDType(op, `${name}.param`, t.param, ["f32"]);
  assertDType(op, `${name}.grad`, t.grad, ["f32"]);
  assertSameShape(op, [`${name}.param`, t.param], [`${name}.grad`, t.grad]);
  if (t.state.length !== stateCount) {
    throw new ShapeError(op, `${name} has ${t.state.length} state tensors, expected ${stateCount}`);
  }
  t.state.forEach((s, k) => {
    s.check(op, `${name}.state[${k}]`);
    assertDType(op, `${name}.state[${k}]`, s, ["f32"]);
    assertSameShape(op, [`${name}.param`, t.param], [`${name}.state[${k}]`, s]);
  });
  const scale = t.columnScale;
  if (scale) {
    scale.check(op, `${name}.columnScale`);
    assertDType(op, `${name}.columnScale`, scale, ["f32"]);
    const cols = t.param.shape.at(-1) ?? 1;
    if (scale.rank !== 1 || scale.size !== cols) {
      throw new ShapeError(
        op,
        `${name}.columnScale ${scale.describe()} must be [${cols}] for ${t.param.describe()}`,
      );
    }
  }
  const cols = scale ? scale.size : 4;
  return { vec4: t.param.size % 4 === 0 && cols % 4 === 0, scaled: !!scale };
}

function checkScalar(op: string, name: string, t: Tensor, dtype: "u32" | "f32"): void {
  t.check(op, name);
  assertDType(op, name, t, [dtype]);
  if (t.size !== 1) throw new ShapeError(op, `${name} must hold one element, got ${t.describe()}`);
}

/** Runs `body` with the skip and norm tensors to bind (temporary ones when not given). */
function withFlags(op: string, o: UpdateCommon, body: (skip: Tensor, norm: Tensor, maxNorm: number) => void) {
  const maxNorm = o.maxNorm ?? 0;
  if (maxNorm > 0 && !o.norm) throw new ShapeError(op, `maxNorm ${maxNorm} needs the norm tensor`);
  if (o.skip) checkScalar(op, "skip", o.skip, "u32");
  if (o.norm) checkScalar(op, "norm", o.norm, "f32");
  const skip = o.skip ?? fillInPlace(emptyTensor([1], "u32"), 0);
  const norm = o.norm ?? emptyTensor([1], "f32"); // bound but not read when maxNorm ≤ 0
  try {
    body(skip, norm, maxNorm);
  } finally {
    if (skip !== o.skip) skip.dispose();
    if (norm !== o.norm) norm.dispose();
  }
}

function dispatchUpdate(
  op: string,
  kind: "sgd" | "adamw",
  t: UpdateTarget,
  v: UpdateVariant,
  words: readonly (readonly ["u32" | "f32", number])[],
  skip: Tensor,
  norm: Tensor,
  maxNorm: number,
  lr: number,
): void {
  if (t.param.size === 0) return;
  const width = v.vec4 ? 4 : 1;
  const n = t.param.size / width;
  const cols = (t.columnScale?.size ?? width) / width;
  const names = kind === "sgd" ? ["momentum_buffer"] : ["exp_avg", "exp_avg_sq"];
  const tensors: NamedTensor[] = [
    ["param", t.param],
    ["grad", t.grad],
    ...t.state.map((s, k) => [names[k], s] as const),
    ["skip", skip],
    ["norm", norm],
  ];
  if (t.columnScale) tensors.push(["columnScale", t.columnScale]);
  const source = kind === "sgd" ? sgdWgsl(v) : adamwWgsl(v);
  dispatch({ key: `optimizer/${kind}/${v.vec4 ? "v4" : "s"}${v.scaled ? "/scaled" : ""}`, source }, {
    op,
    tensors,
    params: params(["u32", n], ["u32", cols], ["f32", maxNorm], ["f32", lr], ...words),
    workgroups: Math.ceil(n / WORKGROUP_1D),
  });
}

/**
 * One torch.optim.SGD step (dampening 0, nesterov false) over every target, in place:
 * g = c·grad + wd·p; buf = momentum·buf + g; p −= lr·buf, with c the clip factor (1 without clipping).
 * Momentum buffers must start at 0 (the first step then gives buf = g, like torch). Shapes: param, grad,
 * state[0] identical, f32.
 *
 * @example
 * ```ts
 * import { fill, getGpu, tensorFromArray } from "./mod.ts";
 * import { sgdUpdate } from "./optimizer.ts";
 * await getGpu();
 * const param = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const grad = tensorFromArray(new Float32Array([0.5, -1]), [2]);
 * sgdUpdate([{ param, grad, state: [fill([2], 0)] }], { lr: 0.1, momentum: 0.9 });
 * console.log(await param.read()); // [0.95, 2.1]
 * ```
 */
export function sgdUpdate(targets: readonly UpdateTarget[], options: SgdUpdateOptions): void {
  const op = "sgdUpdate";
  const variants = targets.map((t, i) => checkTarget(op, t, i, 1));
  const words = [["f32", options.momentum ?? 0], ["f32", options.weightDecay ?? 0]] as const;
  withFlags(op, options, (skip, norm, maxNorm) => {
    targets.forEach((t, i) =>
      dispatchUpdate(op, "sgd", t, variants[i], words, skip, norm, maxNorm, options.lr)
    );
  });
}

/**
 * One torch.optim.AdamW step (amsgrad false) over every target, in place: p ·= 1 − lr·wd;
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr/(1−β1^t) · m / (√v / √(1−β2^t) + eps), with g the
 * (clipped) gradient and t = `options.step`. State: [exp_avg, exp_avg_sq], zero-initialised.
 *
 * @example
 * ```ts
 * import { fill, getGpu, tensorFromArray } from "./mod.ts";
 * import { adamwUpdate } from "./optimizer.ts";
 * await getGpu();
 * const param = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const grad = tensorFromArray(new Float32Array([0.5, -1]), [2]);
 * adamwUpdate([{ param, grad, state: [fill([2], 0), fill([2], 0)] }], { lr: 0.01, step: 1 });
 * console.log(await param.read()); // ≈ [0.99, 2.01]
 * ```
 */
export function adamwUpdate(targets: readonly UpdateTarget[], options: AdamwUpdateOptions): void {
  const op = "adamwUpdate";
  if (!Number.isInteger(options.step) || options.step < 1) {
    throw new ShapeError(op, `step must be an integer ≥ 1, got ${options.step}`);
  }
  const variants = targets.map((t, i) => checkTarget(op, t, i, 2));
  const [beta1, beta2] = options.betas ?? [0.9, 0.999];
  const lr = options.lr;
  const words = [
    ["f32", 1 - lr * (options.weightDecay ?? 0)],
    ["f32", beta1],
    ["f32", beta2],
    ["f32", 1 - beta1],
    ["f32", 1 - beta2],
    ["f32", lr / (1 - beta1 ** options.step)],
    ["f32", Math.sqrt(1 - beta2 ** options.step)],
    ["f32", options.eps ?? 1e-8],
  ] as const;
  withFlags(op, options, (skip, norm, maxNorm) => {
    targets.forEach((t, i) => dispatchUpdate(op, "adamw", t, variants[i], words, skip, norm, maxNorm, lr));
  });
}

/** A gradient and its optional column scale, as taken by {@link globalGradNorm}. */
export type NormSource = Pick<UpdateTarget, "grad" | "columnScale">;

/**
 * The global L2 norm of all gradients (of s·grad for targets with a column scale) as an f32 `[1]` GPU
 * tensor: stage 1 writes one partial sum of squares per 16,384 elements, stage 2 sums them in one workgroup.
 * When `flag` (u32 `[1]`) is given, a non-finite norm ORs bit 31 into it, so updates reading that flag
 * are skipped.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { globalGradNorm } from "./optimizer.ts";
 * await getGpu();
 * const grad = tensorFromArray(new Float32Array([3, 4]), [2]);
 * console.log(await globalGradNorm([{ grad }]).read()); // [5]
 * ```
 */
export function globalGradNorm(sources: readonly NormSource[], flag?: Tensor): Tensor {
  const op = "globalGradNorm";
  if (flag) checkScalar(op, "flag", flag, "u32");
  const groups = sources.map((s, i) => {
    s.grad.check(op, `grads[${i}]`);
    assertDType(op, `grads[${i}]`, s.grad, ["f32"]);
    if (s.columnScale && s.columnScale.size !== (s.grad.shape.at(-1) ?? 1)) {
      throw new ShapeError(op, `grads[${i}] ${s.grad.describe()}: columnScale ${s.columnScale.describe()}`);
    }
    return Math.ceil(s.grad.size / NORM_CHUNK);
  });
  const total = groups.reduce((a, b) => a + b, 0);
  const partials = emptyTensor([Math.max(1, total)], "f32");
  if (total === 0) fillInPlace(partials, 0);
  let offset = 0;
  sources.forEach((s, i) => {
    if (groups[i] === 0) return;
    const tensors: NamedTensor[] = [["grad", s.grad], ["partials", partials]];
    if (s.columnScale) tensors.push(["columnScale", s.columnScale]);
    const cols = s.columnScale?.size ?? 4;
    const v = { vec4: s.grad.size % 4 === 0 && cols % 4 === 0, scaled: !!s.columnScale };
    const width = v.vec4 ? 4 : 1;
    const key = `optimizer/sum_squares/${v.vec4 ? "v4" : "s"}${v.scaled ? "/scaled" : ""}`;
    dispatch({ key, source: sumSquaresWgsl(v) }, {
      op,
      tensors,
      params: params(["u32", s.grad.size / width], ["u32", offset], ["u32", cols / width]),
      workgroups: groups[i],
    });
    offset += groups[i];
  });
  const norm = emptyTensor([1], "f32");
  const flagTensor = flag ?? emptyTensor([1], "u32");
  dispatch({ key: "optimizer/grad_norm", source: GRAD_NORM_WGSL }, {
    op,
    tensors: [["partials", partials], ["norm", norm], ["flag", flagTensor]],
    params: params(["u32", Math.max(1, total)]),
    workgroups: 1,
  });
  partials.dispose();
  if (flagTensor !== flag) flagTensor.dispose();
  return norm;
}

/**
 * A u32 `[1]` flag that is non-zero when any loss is NaN or ±Inf (computed on the GPU; pass it as `skip`
 * to the updates). A single tensor (e.g. `[5]` stacked losses) sets bit min(i, 30) for each non-finite
 * element i; a list of tensors sets bit min(j, 30) when tensor j has a non-finite element. With `into`,
 * the bits are ORed into that existing flag instead of a new zeroed one.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { flagNonFinite } from "./optimizer.ts";
 * await getGpu();
 * const losses = tensorFromArray(new Float32Array([0.5, NaN, 1]), [3]);
 * console.log(await flagNonFinite(losses).read()); // [2]
 * ```
 */
export function flagNonFinite(losses: Tensor | readonly Tensor[], into?: Tensor): Tensor {
  const op = "flagNonFinite";
  const list = Array.isArray(losses) ? losses as readonly Tensor[] : [losses as Tensor];
  list.forEach((t, j) => {
    t.check(op, `losses[${j}]`);
    assertDType(op, `losses[${j}]`, t, ["f32"]);
  });
  if (into) checkScalar(op, "into", into, "u32");
  const flag = into ?? fillInPlace(emptyTensor([1], "u32"), 0);
  list.forEach((t, j) => {
    if (t.size === 0) return;
    dispatch({ key: "optimizer/flag_non_finite", source: FLAG_NON_FINITE_WGSL }, {
      op,
      tensors: [["losses", t], ["flag", flag]],
      params: params(["u32", t.size], ["u32", Array.isArray(losses) ? Math.min(j, 30) : 0xffffffff]),
      workgroups: 1,
    });
  });
  return flag;
}
