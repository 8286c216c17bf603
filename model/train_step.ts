/**
 * One training step of Mask R-CNN on the GPU, torchvision's `GeneralizedRCNN.forward` in train mode plus
 * backward and the optimizer: transform (images resized on the GPU; boxes scaled and masks resized as
 * torchvision's transform does), backbone + FPN, RPN head, its targets on sampled anchors and the proposals
 * (detached), RoI-head targets, box head and mask head; then the five losses, backward through the heads
 * (RPN, box, mask), the FPN and the trainable ResNet stages, and the optimizer update — with one read-back
 * (the five losses and the non-finite flag) at the end.
 * @module
 */
import { withBoundedDispatch } from "../ops/kernel.ts";
import { positiveLabels } from "../ops/detection/sampled_labels.ts";
import { MaskRcnnGpuError, ShapeError } from "../ops/errors.ts";
import { gatherRows } from "../ops/gather.ts";
import { uploadGtBatch } from "../ops/detection/gt_batch.ts";
import { flagNonFinite } from "../ops/optimizer.ts";
import { roiTargets } from "../ops/detection/roi_targets.ts";
import { rpnTargets } from "../ops/detection/rpn_targets.ts";
import { readTensors, type Tensor, tensorFromArray, tidy } from "../ops/tensor.ts";
import { createFpnTape, fpnBackward, fpnForward, type FpnTape } from "./fpn.ts";
import { roiTargetOptions, rpnTargetOptions } from "./stage_config.ts";
import type { MaskRcnnModel } from "./mask_rcnn.ts";
import { type Optimizer, optimizerStep, zeroGradients } from "./optimizer.ts";
import { maskHeadBackward, maskHeadOnPositives, maskRcnnLoss, type MaskTrainPass } from "./mask_head.ts";
import type { PyramidGrads } from "./pyramid_grads.ts";
import { boxHead, boxHeadBackward, fastRcnnLoss, type RecordedBoxHead } from "./roi_heads.ts";
import {
  anchorsFor,
  filterProposals,
  type RecordedRpnHead,
  rpnHead,
  rpnHeadBackward,
  rpnLoss,
} from "./rpn.ts";
import { createResnetTape, resnetBackward, resnetForward, type ResnetTape } from "./resnet.ts";
import { layerGradients } from "./train_params.ts";
import { checkRawImage, checkTrainBatch } from "./input_checks.ts";
import { type RawImage, transformImages, transformTargets } from "./transform.ts";
import { NoWeightsError } from "./weights_errors.ts";

/** Ground truth of one image in input pixels. */
export interface TrainTarget {
  /** n×4 (x1, y1, x2, y2). */
  boxes: Float32Array;
  /** n labels in 1..numClasses−1. */
  labels: Int32Array;
  /** n×H×W 0/1 masks at the input size (required for Mask R-CNN). */
  masks?: Uint8Array;
}

/** A training batch of decoded images. */
export interface TrainBatch {
  images: readonly RawImage[];
  targets: readonly TrainTarget[];
}

/** The five losses of torchvision's Mask R-CNN and their sum. */
export interface Losses {
  total: number;
  rpnObjectness: number;
  rpnBoxReg: number;
  classifier: number;
  boxReg: number;
  mask: number;
}

/** The five losses as GPU scalars ([1] f32 each). */
export interface LossTensors {
  rpnObjectness: Tensor;
  rpnBoxReg: Tensor;
  classifier: Tensor;
  boxReg: Tensor;
  mask: Tensor;
}

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  /** Seed of the samplers (with the optimizer's step count, every draw is reproducible); default 0. */
  seed?: number;
}

/**
 * A loss was NaN or infinite: the step was skipped and the weights are unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { NonFiniteLossError } from "./train_step.ts";
 * const losses = { total: NaN, rpnObjectness: 0.7, rpnBoxReg: 0.1, classifier: NaN, boxReg: 0.2, mask: 0.6 };
 * const error = new NonFiniteLossError(losses);
 * assert.match(error.message, /classifier = NaN/); // names the loss at fault
 * assert.strictEqual(error.losses.rpnObjectness, 0.7);
 * ```
 */
export class NonFiniteLossError extends MaskRcnnGpuError {
  /** @param losses the losses of the step (the non-finite ones are named in the message). */
  constructor(readonly losses: Losses) {
    const bad = Object.entries(losses).filter(([k, v]) => k !== "total" && !Number.isFinite(v)).map((
      [k, v],
    ) => `${k} = ${v}`);
    super(
      `non-finite loss (${
        bad.join(", ") || "gradient norm"
      }): the step was skipped and the weights are unchanged`,
    );
  }
}

const LOSS_NAMES = ["rpnObjectness", "rpnBoxReg", "classifier", "boxReg", "mask"] as const;

function checkBatch(model: MaskRcnnModel, batch: TrainBatch): void {
  checkTrainBatch("trainStep", batch, checkRawImage);
  if (batch.images.length === 0 || batch.images.length !== batch.targets.length) {
    throw new ShapeError("trainStep", `${batch.images.length} images and ${batch.targets.length} targets`);
  }
  batch.targets.forEach((t, i) => {
    const n = t.labels.length;
    const { width, height } = batch.images[i];
    if (t.boxes.length !== 4 * n) {
      throw new ShapeError("trainStep", `target ${i}: ${t.boxes.length / 4} boxes for ${n} labels`);
    }
    const bad = Array.from(t.labels).find((l) => !(l >= 1 && l < model.config.numClasses));
    if (bad !== undefined) {
      throw new ShapeError(
        "trainStep",
        `target ${i}: label ${bad} outside 1..${model.config.numClasses - 1}`,
      );
    }
    if (model.config.maskHead) {
      if (!t.masks) throw new ShapeError("trainStep", `target ${i} has no masks, which a Mask R-CNN needs`);
      if (t.masks.length !== n * width * height) {
        throw new ShapeError(
          "trainStep",
          `target ${i}: masks of ${t.masks.length} bytes are not ${n}×${height}×${width}`,
        );
      }
    }
  });
}

function first(totals: Tensor, index: number): Tensor {
  return gatherRows(totals.reshape([totals.size, 1]), tensorFromArray(new Int32Array([index]), [1])).reshape([
    1,
  ]);
}

/** Options of {@link trainForward}. */
export interface TrainForwardOptions {
  /** Sampler seed. */
  seed: number;
  /** Optimizer step (a new sampler draw per step). */
  step: number;
  /** Index of this batch's first image in the global batch (data-parallel ranks; default 0). */
  firstImage?: number;
}

/**
 * What {@link trainForward} leaves for {@link trainBackward}: the backbone's tape, the recorded heads (RPN,
 * box, mask), the RPN and RoI targets (GPU tensors, no read-back). `normalisers` are this batch's own loss
 * denominators (u32 `[1]` each: sampled anchors, sampled RoIs, positive RoIs); data-parallel ranks replace
 * them with the sums over all ranks, so the gradients add up to those of one process holding the whole batch.
 */
export interface TrainForward {
  readonly normalisers: LossNormalisers;
  /** @internal */
  readonly state: unknown;
}

/** The three loss denominators of a batch (u32 or f32 `[1]` tensors, or numbers). */
export interface LossNormalisers {
  /** Sampled anchors (RPN objectness and box losses). */
  rpn: Tensor | number;
  /** Sampled RoIs (classifier and box losses). */
  box: Tensor | number;
  /** Positive RoIs (mask loss). */
  mask: Tensor | number;
}

interface ForwardState {
  params: NonNullable<MaskRcnnModel["params"]>;
  grads: ReturnType<typeof layerGradients>;
  tape: { resnet: ResnetTape; fpn: FpnTape };
  head: RecordedRpnHead;
  rpn: ReturnType<typeof rpnTargets>;
  roi: ReturnType<typeof roiTargets>;
  box: RecordedBoxHead;
  /** The mask head's passes over the positives (null without a mask head). */
  mask: MaskTrainPass[] | null;
}

/**
 * The forward half of a training step: transform, backbone + FPN, RPN head, RPN targets, proposals, RoI
 * targets, box head and mask head (everything before the losses; the heads record what their backward
 * needs). Run it inside `tidy` together with {@link trainBackward}, or return its result from one `tidy` and
 * pass it to the next.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readTensors } from "../ops/tensor.ts";
 * import { ShapesDataset } from "../data/shapes.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import { trainBackward, trainForward } from "./train_step.ts";
 * // forwardBackward = trainForward + trainBackward (a data-parallel step reduces the normalisers between).
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
 * const { image, target } = new ShapesDataset({ count: 1, width: 64, height: 64 }).item(0);
 * const forward = trainForward(model, opt, { images: [image], targets: [target] }, { seed: 0, step: 0 });
 * const losses = trainBackward(forward, forward.normalisers);
 * const values = await readTensors([losses.rpnObjectness, losses.classifier, losses.mask]);
 * assert.ok(values.every(([v]) => Number.isFinite(v) && v > 0));
 * ```
 */
export function trainForward(
  model: MaskRcnnModel,
  opt: Optimizer,
  batch: TrainBatch,
  options: TrainForwardOptions,
): TrainForward {
  const params = model.params;
  if (!params) throw new NoWeightsError("trainStep: the model has no weights; call loadWeights first");
  checkBatch(model, batch);
  const config = model.config;
  const grads = layerGradients(config, params, opt.entries);
  const transformed = transformImages(config, batch.images);
  const { imageSizes } = transformed;
  const gt = uploadGtBatch(transformTargets(batch.targets, transformed));
  const tape = {
    resnet: createResnetTape({ trainableLayers: config.trainableBackboneLayers }),
    fpn: createFpnTape(),
  };
  const features = resnetForward(params, transformed.images, { tape: tape.resnet });
  const pyramid = fpnForward(params, features, { tape: tape.fpn });
  const firstImage = options.firstImage ?? 0;

  // RPN: the head; targets on the anchors; proposals from the (detached) outputs.
  const head = rpnHead(params, pyramid, { record: true });
  const anchors = anchorsFor(model.anchorCache, config, [
    transformed.images.shape[1],
    transformed.images.shape[2],
  ], pyramid);
  const rpn = rpnTargets(anchors, gt, {
    ...rpnTargetOptions(config),
    seed: options.seed,
    step: options.step,
    firstImage,
  });
  const proposals = filterProposals(config, head, anchors, imageSizes, {
    preNmsTopN: config.rpnPreNmsTopNTrain,
    postNmsTopN: config.rpnPostNmsTopNTrain,
  });

  // RoI heads: targets of the sampled proposals (+ GT); the box head on them, the mask head on the positives.
  const roi = roiTargets(proposals.boxes, gt, {
    ...roiTargetOptions(config),
    seed: options.seed,
    step: options.step,
    firstImage,
    proposalValid: proposals.valid,
  });
  const box = boxHead(params, pyramid, roi.sampled.rois, imageSizes, { record: true });
  const positives = roi.positive.labels.size;
  const mask = config.maskHead
    ? maskHeadOnPositives(params, pyramid, imageSizes, {
      rois: roi.positive.rois,
      labels: roi.positive.labels.reshape([positives]),
      positive: roi.positive.valid.reshape([positives]),
      targets: roi.maskTargets!,
    })
    : null;
  const state: ForwardState = { params, grads, tape, head, rpn, roi, box, mask };
  return {
    normalisers: {
      rpn: first(rpn.sample.totals, 0),
      box: first(roi.totals, 0),
      mask: first(roi.totals, 1),
    },
    state,
  };
}

/**
 * The five losses of a {@link trainForward} result with the given denominators, and backward through the
 * heads (RPN, box, mask), the FPN and the trainable ResNet stages, accumulating into the optimizer's
 * gradients.
 *
 * @example
 * ```ts
 * import { trainBackward } from "./train_step.ts";
 * // const losses = trainBackward(forward, forward.normalisers): run in full in trainForward's example
 * console.assert(trainBackward.length === 2);
 * ```
 */
export function trainBackward(
  forward: TrainForward,
  normalisers: LossNormalisers,
): LossTensors {
  const { params, grads, tape, head, rpn, roi, box, mask } = forward.state as ForwardState;

  // Losses: RPN (sampled anchors), box head (sampled RoIs), mask head (positive RoIs).
  const rpnLosses = rpnLoss(head, {
    positive: rpn.sample.positive,
    negative: rpn.sample.negative,
    regressionTargets: rpn.regressionTargets,
  }, normalisers.rpn);
  const sampledRows = roi.sampled.labels.size;
  const labels = roi.sampled.labels.reshape([sampledRows]);
  const boxLosses = fastRcnnLoss(box, {
    labels,
    valid: roi.sampled.valid.reshape([sampledRows]),
    positive: positiveLabels(labels),
    regressionTargets: roi.sampled.regressionTargets.reshape([sampledRows, 4]),
  }, normalisers.box);
  const maskLosses = mask ? maskRcnnLoss(mask, normalisers.mask) : null;

  // Backward: the heads add their pyramid gradients in stage order (RPN, box, mask), then the backbone.
  const pyramidGrads: PyramidGrads = tape.fpn.pyramid.map(() => null);
  rpnHeadBackward(params, head.tape, rpnLosses.gradLogits, rpnLosses.gradDeltas, grads, pyramidGrads);
  boxHeadBackward(params, box.tape, boxLosses.gradLogits, boxLosses.gradDeltas, grads, pyramidGrads);
  mask?.forEach((pass, i) =>
    maskHeadBackward(params, pass.head.tape, maskLosses!.gradLogits[i], grads, pyramidGrads)
  );
  const featureGrads = fpnBackward(params, tape.fpn, pyramidGrads as Tensor[], grads, {
    featureGradsFrom: tape.resnet.firstTrainableStage,
  });
  resnetBackward(params, tape.resnet, featureGrads, grads);
  return {
    rpnObjectness: rpnLosses.objectness,
    rpnBoxReg: rpnLosses.boxReg,
    classifier: boxLosses.classifier,
    boxReg: boxLosses.boxReg,
    mask: maskLosses?.mask ?? tensorFromArray(new Float32Array([0]), [1]),
  };
}

/**
 * Forward and backward of one batch: accumulates every trainable parameter's gradient into `opt`'s
 * gradients (zero them first) and returns the five losses as GPU scalars. No read-back.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readTensors } from "../ops/tensor.ts";
 * import { ShapesDataset } from "../data/shapes.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import { forwardBackward } from "./train_step.ts";
 * // trainStep = zeroGradients + forwardBackward + optimizerStep; small samplers keep this example quick.
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
 * const { image, target } = new ShapesDataset({ count: 1, width: 64, height: 64 }).item(0);
 * const losses = forwardBackward(model, opt, { images: [image], targets: [target] }, { seed: 0, step: 0 });
 * const values = await readTensors([losses.rpnObjectness, losses.classifier, losses.mask]);
 * assert.ok(values.every(([v]) => Number.isFinite(v) && v > 0));
 * const [grad] = await readTensors([opt.entries.at(-1)!.grad]);
 * assert.ok(grad.some((v) => v !== 0)); // gradients accumulated, no update applied
 * ```
 */
export function forwardBackward(
  model: MaskRcnnModel,
  opt: Optimizer,
  batch: TrainBatch,
  options: { seed: number; step: number },
): LossTensors {
  const forward = trainForward(model, opt, batch, options);
  return trainBackward(forward, forward.normalisers);
}

/**
 * Whether `trainStep` bounds the training mask head by its positives (indirect dispatches from GPU-side
 * counts). On: repeated runs are bit for bit the same because RoIAlign's backward is the deterministic
 * gather (ops/roi_align_gather.ts). With the float-atomic scatter they differed in the last bits (~1e-7):
 * fewer workgroups let lavapipe's threads share the scatter, so the order of the f32 adds varied.
 * `forwardBackward` itself follows the process-wide `setBoundedDispatch` (tests/model/mask_head_test.ts
 * compares both paths).
 */
const TRAIN_STEP_BOUNDED_DISPATCH = true;

/**
 * One optimisation step on a batch: forward, the five losses, backward, the optimizer update (skipped
 * and reported with {@link NonFiniteLossError} when a loss is not finite). Returns the losses.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, createOptimizer, initWeights, ShapesDataset } from "../mod.ts";
 * import { trainStep } from "./train_step.ts";
 * // loadWeights(model, file) to fine-tune; small samplers keep this example quick.
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
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
 * const { image, target } = new ShapesDataset({ count: 1, width: 64, height: 64 }).item(0);
 * const losses = await trainStep(model, { images: [image], targets: [target] }, opt);
 * const parts = losses.rpnObjectness + losses.rpnBoxReg + losses.classifier + losses.boxReg + losses.mask;
 * assert.ok(Math.abs(losses.total - parts) < 1e-4 * parts); // total is the sum of the five losses
 * assert.strictEqual(opt.stepCount, 1);
 * ```
 */
export async function trainStep(
  model: MaskRcnnModel,
  batch: TrainBatch,
  opt: Optimizer,
  options: TrainStepOptions = {},
): Promise<Losses> {
  checkBatch(model, batch); // before touching the optimizer's state
  zeroGradients(opt.entries);
  const step = opt.stepCount;
  const { losses, flag } = tidy(() => {
    const l = withBoundedDispatch(
      TRAIN_STEP_BOUNDED_DISPATCH,
      () => forwardBackward(model, opt, batch, { seed: options.seed ?? 0, step }),
    );
    const list = LOSS_NAMES.map((k) => l[k]);
    const f = flagNonFinite(list);
    optimizerStep(opt, { skip: f });
    return { losses: list, flag: f };
  });
  const values = await readTensors([...losses, flag]);
  for (const t of [...losses, flag]) t.dispose();
  const result = Object.fromEntries(
    LOSS_NAMES.map((k, i) => [k, (values[i] as Float32Array)[0]]),
  ) as unknown as Losses;
  result.total = LOSS_NAMES.reduce((s, k) => s + result[k], 0);
  if ((values[LOSS_NAMES.length] as Uint32Array)[0] !== 0) {
    opt.stepCount = step; // the update was skipped on the GPU
    throw new NonFiniteLossError(result);
  }
  return result;
}
