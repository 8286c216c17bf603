/**
 * The model-facing optimizer: the list of trainable packed parameters (torchvision names, frozen layers
 * left out as torchvision's `trainable_backbone_layers` does), gradient tensors parallel to them, and SGD /
 * AdamW with the reference learning-rate schedule and optional global-norm clipping. One call to
 * {@link optimizerStep} encodes the whole update on the GPU (no read-back).
 *
 * Decisions: backbone convs are stored with their frozen batch norm folded in (W' = W·s per output
 * channel); their entries carry `columnScale` = s so the update follows torch on W (see ops/optimizer.ts).
 * Folded biases are frozen (they come from FrozenBatchNorm2d buffers) and are not listed. State tensors are
 * zero-initialised in the packed layout, named like torch's state keys (`momentum_buffer`, `exp_avg`,
 * `exp_avg_sq`). `stepCount` (completed updates, torch's `state["step"]`) is advanced on the CPU even when
 * the GPU skip flag turns an update into a no-op: callers stop training on a set flag.
 * @module
 */
import { fillInPlace } from "../ops/elementwise.ts";
import { adamwUpdate, globalGradNorm, sgdUpdate } from "../ops/optimizer.ts";
import { emptyTensor, keep, type Tensor, tensorFromArray } from "../ops/tensor.ts";
import type { PackedConv2d } from "../ops/conv2d.ts";
import { learningRate, type LrScheduleOptions, validateLrSchedule } from "./lr_schedule.ts";
import type { MaskRcnnModel } from "./mask_rcnn.ts";
import { NoWeightsError, WeightsError } from "./weights_errors.ts";
import { InvalidInputError } from "./input_checks.ts";

/** A trainable packed parameter. */
export interface TrainableParam {
  /** torchvision 0.14 name of the tensor it packs, e.g. `backbone.fpn.inner_blocks.0.0.weight`. */
  name: string;
  /** The packed GPU tensor (updated in place). */
  param: Tensor;
  /** Folded batch-norm scale per column `[cols]` (padding 1), or null. */
  columnScale: Tensor | null;
}

/** A parameter with its gradient and optimizer state. */
export interface ParamEntry extends TrainableParam {
  /** Gradient with the param's shape (accumulated by the backward kernels, zeroed by the caller). */
  grad: Tensor;
  /** State tensors, named by {@link Optimizer.stateNames}. */
  state: Tensor[];
}

/** Options common to both optimizers: the schedule (per iteration) and clipping. */
export interface OptimizerCommon extends LrScheduleOptions {
  /** Clip gradients to this global L2 norm (torch's `clip_grad_norm_`); off when absent or 0. */
  clipGradNorm?: number;
  /** Weight decay (SGD: L2 added to the gradient; AdamW: decoupled). */
  weightDecay?: number;
}

/** torch.optim.SGD (dampening 0, nesterov false). Defaults: momentum 0.9, weight decay 1e-4 (reference). */
export interface SgdOptions extends OptimizerCommon {
  type: "sgd";
  momentum?: number;
}

/** torch.optim.AdamW. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (torch's). */
export interface AdamwOptions extends OptimizerCommon {
  type: "adamw";
  betas?: [number, number];
  eps?: number;
}

/** Options of {@link createOptimizer}. */
export type OptimizerOptions = SgdOptions | AdamwOptions;

/** An optimizer over a list of parameter entries. */
export interface Optimizer {
  /** The options with defaults filled in. */
  readonly options: Required<SgdOptions> | Required<AdamwOptions>;
  /** Trainable params with their gradients and state. */
  readonly entries: ParamEntry[];
  /** Names of each entry's state tensors. */
  readonly stateNames: readonly string[];
  /** Completed updates (the next update uses `learningRate(stepCount)` and AdamW step `stepCount + 1`). */
  stepCount: number;
  /** u32 `[1]` skip flag used when a step is given none (reset to 0 each step). */
  readonly skipFlag: Tensor;
  /** The global gradient norm of the last step (f32 `[1]`), when clipping. */
  lastGradNorm: Tensor | null;
  /** Whether the column-scale tensors were made by {@link trainableParameters} (freed with the optimizer). */
  readonly ownsColumnScales: boolean;
}

/** Options of {@link trainableParameters}. */
export interface TrainableParametersOptions {
  /** The FrozenBatchNorm2d eps the weights were loaded with (`loadWeights`' `batchNormEps`); default 1e-5. */
  batchNormEps?: number;
}

/**
 * The model's trainable packed parameters in torchvision's `named_parameters()` order: ResNet stages per
 * `config.trainableBackboneLayers` (conv weights only; `conv1` when 5), then FPN, RPN, box and mask heads
 * (weights and biases). Folded convs get their batch-norm column scale (from `model.stateDict`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { trainableParameters } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" }); // trainableBackboneLayers 3: stem and layer1 frozen
 * initWeights(model, { seed: 1 });
 * const names = trainableParameters(model).map((p) => p.name);
 * assert.ok(names.includes("backbone.fpn.inner_blocks.0.0.weight"));
 * assert.ok(!names.some((n) => n.startsWith("backbone.body.layer1.")));
 * ```
 */
export function trainableParameters(
  model: MaskRcnnModel,
  options: TrainableParametersOptions = {},
): TrainableParam[] {
  const { params, stateDict, config } = model;
  if (!params || !stateDict) {
    throw new NoWeightsError("trainableParameters: the model has no weights (call loadWeights)");
  }
  const eps = options.batchNormEps ?? model.batchNormEps ?? 1e-5;
  const out: TrainableParam[] = [];
  const folded = (name: string, bn: string, conv: PackedConv2d) => {
    const gamma = stateDict.get(`${bn}.weight`)?.data;
    const variance = stateDict.get(`${bn}.running_var`)?.data;
    if (!gamma || !variance) {
      throw new WeightsError(
        "<state_dict>",
        `trainableParameters: state_dict lacks ${bn}.weight/running_var`,
      );
    }
    const cols = conv.weight.shape[1];
    const scale = new Float32Array(cols).fill(1);
    for (let c = 0; c < conv.cout; c++) {
      scale[c] = Math.fround(gamma[c] / Math.sqrt(Math.fround(variance[c] + eps)));
    }
    out.push({
      name: `${name}.weight`,
      param: conv.weight,
      columnScale: keep(tensorFromArray(scale, [cols])),
    });
  };
  const plain = (name: string, p: { weight: Tensor; bias: Tensor | null }) => {
    out.push({ name: `${name}.weight`, param: p.weight, columnScale: null });
    if (p.bias) out.push({ name: `${name}.bias`, param: p.bias, columnScale: null });
  };
  const trainable = config.trainableBackboneLayers;
  const body = "backbone.body";
  if (trainable === 5) folded(`${body}.conv1`, `${body}.bn1`, params.stem);
  params.layers.forEach((blocks, stage) => {
    if (stage + 1 < 5 - trainable) return;
    blocks.forEach((b, i) => {
      const prefix = `${body}.layer${stage + 1}.${i}`;
      folded(`${prefix}.conv1`, `${prefix}.bn1`, b.conv1);
      folded(`${prefix}.conv2`, `${prefix}.bn2`, b.conv2);
      folded(`${prefix}.conv3`, `${prefix}.bn3`, b.conv3);
      if (b.downsample) folded(`${prefix}.downsample.0`, `${prefix}.downsample.1`, b.downsample);
    });
  });
  params.fpnInner.forEach((p, i) => plain(`backbone.fpn.inner_blocks.${i}.0`, p));
  params.fpnLayer.forEach((p, i) => plain(`backbone.fpn.layer_blocks.${i}.0`, p));
  plain("rpn.head.conv.0.0", params.rpnConv);
  plain("rpn.head.cls_logits", params.rpnCls);
  plain("rpn.head.bbox_pred", params.rpnBbox);
  plain("roi_heads.box_head.fc6", params.fc6);
  plain("roi_heads.box_head.fc7", params.fc7);
  plain("roi_heads.box_predictor.cls_score", params.clsScore);
  plain("roi_heads.box_predictor.bbox_pred", params.bboxPred);
  if (params.mask) {
    params.mask.convs.forEach((p, i) => plain(`roi_heads.mask_head.${i}.0`, p));
    plain("roi_heads.mask_predictor.conv5_mask", params.mask.upsample);
    plain("roi_heads.mask_predictor.mask_fcn_logits", params.mask.logits);
  }
  return out;
}

/**
 * Zero-filled gradient tensors parallel to `params` (same shapes), exempt from `tidy` scopes.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { allocateGradients } from "./optimizer.ts";
 * await getGpu();
 * const weight = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const [grad] = allocateGradients([{ param: weight }]);
 * assert.deepStrictEqual(grad.shape, [3]);
 * assert.deepStrictEqual(await grad.read(), new Float32Array([0, 0, 0]));
 * ```
 */
export function allocateGradients(params: readonly { param: Tensor }[]): Tensor[] {
  return params.map(({ param }) => keep(fillInPlace(emptyTensor(param.shape, "f32"), 0)));
}

/**
 * Sets every entry's gradient to 0 (one dispatch per tensor); call at the start of each training step.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { zeroGradients } from "./optimizer.ts";
 * await getGpu();
 * const entries = [{ grad: tensorFromArray(new Float32Array([0.5, -2]), [2]) }];
 * zeroGradients(entries);
 * assert.deepStrictEqual(await entries[0].grad.read(), new Float32Array([0, 0]));
 * ```
 */
export function zeroGradients(entries: readonly { grad: Tensor }[]): void {
  for (const e of entries) fillInPlace(e.grad, 0);
}

function resolveOptions(o: OptimizerOptions): Optimizer["options"] {
  validateLrSchedule(o);
  const common = {
    lr: o.lr,
    warmupIters: o.warmupIters ?? 0,
    warmupFactor: o.warmupFactor ?? 0.001,
    milestones: [...(o.milestones ?? [])],
    gamma: o.gamma ?? 0.1,
    clipGradNorm: o.clipGradNorm ?? 0,
  };
  const bad = (what: string, v: unknown) => new RangeError(`createOptimizer: ${what} is invalid (${v})`);
  if (!(common.clipGradNorm >= 0)) throw bad("clipGradNorm", o.clipGradNorm);
  if (o.type === "sgd") {
    const r = {
      ...common,
      type: "sgd" as const,
      momentum: o.momentum ?? 0.9,
      weightDecay: o.weightDecay ?? 1e-4,
    };
    if (!(r.momentum >= 0 && r.momentum < 1)) throw bad("momentum", o.momentum);
    if (!(r.weightDecay >= 0)) throw bad("weightDecay", o.weightDecay);
    return r;
  }
  if (o.type !== "adamw") throw bad("type", (o as { type: unknown }).type);
  const betas: [number, number] = o.betas ? [o.betas[0], o.betas[1]] : [0.9, 0.999];
  const r = {
    ...common,
    type: "adamw" as const,
    betas,
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0.01,
  };
  if (!betas.every((b) => b >= 0 && b < 1)) throw bad("betas", o.betas);
  if (!(r.eps > 0)) throw bad("eps", o.eps);
  if (!(r.weightDecay >= 0)) throw bad("weightDecay", o.weightDecay);
  return r;
}

/**
 * Creates an optimizer over a model's trainable parameters (or an explicit list): allocates zeroed
 * gradients and state. Options follow torch (`sgd`: lr, momentum, weightDecay; `adamw`: lr, betas, eps,
 * weightDecay) plus the schedule (warmupIters, warmupFactor, milestones, gamma) and clipGradNorm.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * // Usually over a model: createOptimizer(model, { type: "sgd", lr: 0.02, warmupIters: 1000, milestones: [16000, 22000] })
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "adamw", lr: 1e-3 });
 * assert.deepStrictEqual(opt.entries.map((e) => e.name), ["w"]);
 * assert.deepStrictEqual(await opt.entries[0].grad.read(), new Float32Array([0, 0]));
 * ```
 */
export function createOptimizer(
  source: MaskRcnnModel | readonly TrainableParam[],
  options: OptimizerOptions,
): Optimizer {
  const resolved = resolveOptions(options);
  const explicit = Array.isArray(source);
  const list = explicit ? source as readonly TrainableParam[] : trainableParameters(source as MaskRcnnModel);
  const names = new Set<string>();
  for (const p of list) {
    if (names.has(p.name)) {
      throw new InvalidInputError(
        "createOptimizer",
        `parameter ${p.name}`,
        "listed twice",
        "each parameter once",
      );
    }
    names.add(p.name);
  }
  const stateNames = resolved.type === "sgd" ? ["momentum_buffer"] : ["exp_avg", "exp_avg_sq"];
  const grads = allocateGradients(list);
  const entries = list.map((p, i) => ({
    ...p,
    grad: grads[i],
    state: stateNames.map(() => keep(fillInPlace(emptyTensor(p.param.shape, "f32"), 0))),
  }));
  const skipFlag = keep(fillInPlace(emptyTensor([1], "u32"), 0));
  return {
    options: resolved,
    entries,
    stateNames,
    stepCount: 0,
    skipFlag,
    lastGradNorm: null,
    ownsColumnScales: !explicit,
  };
}

/** What {@link optimizerStep} did. */
export interface StepInfo {
  /** The learning rate used. */
  lr: number;
  /** The skip flag the update read (u32 `[1]`; non-zero → nothing changed). */
  skip: Tensor;
  /** The global gradient norm before clipping (f32 `[1]`), when clipping. */
  gradNorm: Tensor | null;
}

/**
 * Encodes one update of every entry from its gradient (clipped when `clipGradNorm` is set), with the
 * scheduled learning rate, and advances `stepCount`. `skip` (e.g. from `flagNonFinite(losses)`) makes the
 * update a no-op on the GPU when non-zero; a non-finite gradient norm also sets bit 31 of the flag used.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer, optimizerStep } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2, 3]), [3]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], {
 *   type: "sgd",
 *   lr: 0.5,
 *   momentum: 0,
 *   weightDecay: 0,
 * });
 * fillInPlace(opt.entries[0].grad, 1); // what a backward pass would accumulate
 * const { lr } = optimizerStep(opt); // plain SGD: w ← w − lr·g
 * assert.strictEqual(lr, 0.5);
 * assert.deepStrictEqual(await w.read(), new Float32Array([0.5, 1.5, 2.5]));
 * ```
 */
export function optimizerStep(opt: Optimizer, options: { skip?: Tensor } = {}): StepInfo {
  const o = opt.options;
  const lr = learningRate(opt.stepCount, o);
  const skip = options.skip ?? fillInPlace(opt.skipFlag, 0);
  opt.lastGradNorm?.dispose();
  opt.lastGradNorm = o.clipGradNorm > 0 ? keep(globalGradNorm(opt.entries, skip)) : null;
  const common = {
    lr,
    weightDecay: o.weightDecay,
    skip,
    norm: opt.lastGradNorm ?? undefined,
    maxNorm: o.clipGradNorm,
  };
  if (o.type === "sgd") sgdUpdate(opt.entries, { ...common, momentum: o.momentum });
  else adamwUpdate(opt.entries, { ...common, step: opt.stepCount + 1, betas: o.betas, eps: o.eps });
  opt.stepCount++;
  return { lr, skip, gradNorm: opt.lastGradNorm };
}

/**
 * Frees the optimizer's gradients, state and flags, and the column scales it made (not the parameters).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { createOptimizer, disposeOptimizer } from "./optimizer.ts";
 * await getGpu();
 * const w = tensorFromArray(new Float32Array([1, 2]), [2]);
 * const opt = createOptimizer([{ name: "w", param: w, columnScale: null }], { type: "sgd", lr: 0.1 });
 * disposeOptimizer(opt);
 * assert.ok(opt.entries[0].grad.disposed);
 * assert.ok(!w.disposed); // the parameters stay
 * ```
 */
export function disposeOptimizer(opt: Optimizer): void {
  for (const e of opt.entries) {
    e.grad.dispose();
    for (const s of e.state) s.dispose();
    if (opt.ownsColumnScales) e.columnScale?.dispose();
  }
  opt.skipFlag.dispose();
  opt.lastGradNorm?.dispose();
}
