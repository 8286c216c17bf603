/**
 * One training step of Mask R-CNN on the GPU, torchvision's `GeneralizedRCNN.forward` in train mode plus
 * backward and the optimizer: transform (images resized on the GPU; boxes scaled and masks resized as
 * torchvision's transform does), backbone + FPN, RPN losses on sampled anchors, proposals (detached),
 * RoI-head targets and losses, mask loss, backward through the heads, the FPN and the trainable ResNet
 * stages, then the optimizer update — with one read-back (the five losses and the non-finite flag) at the end.
 * @module
 */
import { withBoundedDispatch } from "../ops/kernel.ts";
import { positiveLabels, sampledBinaryTargets } from "../ops/detection.ts";
import { MaskRcnnGpuError, ShapeError } from "../ops/errors.ts";
import { gatherRows } from "../ops/gather.ts";
import { uploadGtBatch } from "../ops/gt_batch.ts";
import { bceWithLogits, smoothL1 } from "../ops/losses.ts";
import { flagNonFinite } from "../ops/optimizer.ts";
import { roiTargets } from "../ops/roi_targets.ts";
import { rpnTargets } from "../ops/targets.ts";
import { readTensors, type Tensor, tensorFromArray, tidy } from "../ops/tensor.ts";
import { resizeMasksNearest } from "../ops/upsample.ts";
import { type RawImage, transformImages } from "./detect.ts";
import type { MaskRcnnModel } from "./mask_rcnn.ts";
import { type Optimizer, optimizerStep, zeroGradients } from "./optimizer.ts";
import { anchorsFor, filterProposals, rpnHead } from "./rpn.ts";
import { backboneBackward, backboneForwardTrain } from "./train_backbone.ts";
import { boxHeadTrain, maskHeadTrain, rpnHeadBackward } from "./train_heads.ts";
import { layerGradients } from "./train_params.ts";
import { checkRawImage, checkTrainBatch } from "./input_checks.ts";
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

/** A loss was NaN or infinite: the step was skipped and the weights are unchanged. */
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
 * What {@link trainForward} leaves for {@link trainBackward}: the tape, the RPN head outputs, the RPN and
 * RoI targets (GPU tensors, no read-back). `normalisers` are this batch's own loss denominators (u32
 * `[1]` each: sampled anchors, sampled RoIs, positive RoIs); data-parallel ranks replace them with the
 * sums over all ranks, so the gradients add up to those of one process holding the whole batch.
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
  config: MaskRcnnModel["config"];
  params: NonNullable<MaskRcnnModel["params"]>;
  grads: ReturnType<typeof layerGradients>;
  tape: ReturnType<typeof backboneForwardTrain>;
  imageSizes: ReturnType<typeof transformImages>["imageSizes"];
  head: ReturnType<typeof rpnHead>;
  rpn: ReturnType<typeof rpnTargets>;
  roi: ReturnType<typeof roiTargets>;
}

/**
 * The forward half of a training step: transform, backbone + FPN, RPN head, RPN targets, proposals and
 * RoI targets (everything before the losses). Run it inside `tidy` together with {@link trainBackward},
 * or return its result from one `tidy` and pass it to the next.
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
  const { imageSizes, originalSizes } = transformed;
  const gt = uploadGtBatch(batch.targets.map((t, i) => {
    const [h, w] = imageSizes[i];
    const [oh, ow] = originalSizes[i];
    const rh = Math.fround(Math.fround(h) / Math.fround(oh)),
      rw = Math.fround(Math.fround(w) / Math.fround(ow));
    const boxes = t.boxes.map((v, k) => Math.fround(v * (k % 2 === 0 ? rw : rh)));
    const masks = t.masks ? resizeMasksNearest(t.masks, t.labels.length, oh, ow, h, w) : undefined;
    return { boxes, labels: t.labels, masks, maskSize: [h, w] as const };
  }));
  const tape = backboneForwardTrain(config, params, transformed.images);
  const pyramid = tape.pyramid;
  const firstImage = options.firstImage ?? 0;

  // RPN: targets on the anchors; proposals from the (detached) outputs; RoI-head targets.
  const head = rpnHead(params, pyramid);
  const anchors = anchorsFor(model.anchorCache, config, [
    transformed.images.shape[1],
    transformed.images.shape[2],
  ], pyramid);
  const rpn = rpnTargets(anchors, gt, {
    seed: options.seed,
    step: options.step,
    firstImage,
    batchSizePerImage: config.rpnBatchSizePerImage,
    positiveFraction: config.rpnPositiveFraction,
    fgIouThresh: config.rpnFgIouThresh,
    bgIouThresh: config.rpnBgIouThresh,
  });
  const proposals = filterProposals(config, head, anchors, imageSizes, {
    preNmsTopN: config.rpnPreNmsTopNTrain,
    postNmsTopN: config.rpnPostNmsTopNTrain,
  });
  const roi = roiTargets(proposals.boxes, gt, {
    seed: options.seed,
    step: options.step,
    firstImage,
    proposalValid: proposals.valid,
    fgIouThresh: config.boxFgIouThresh,
    bgIouThresh: config.boxBgIouThresh,
    batchSizePerImage: config.boxBatchSizePerImage,
    positiveFraction: config.boxPositiveFraction,
    maskSize: config.maskHead ? 28 : 0,
  });
  const state: ForwardState = { config, params, grads, tape, imageSizes, head, rpn, roi };
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
 * heads, the FPN and the trainable ResNet stages, accumulating into the optimizer's gradients.
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
  const { config, params, grads, tape, imageSizes, head, rpn, roi } = forward.state as ForwardState;
  const pyramid = tape.pyramid;
  const batchSize = imageSizes.length;
  const total = head.logits.shape[1];
  const anchorSample = sampledBinaryTargets(
    rpn.sample.positive.reshape([batchSize * total]),
    rpn.sample.negative.reshape([batchSize * total]),
  );
  const objectness = bceWithLogits(
    head.logits.reshape([batchSize * total]),
    anchorSample.targets,
    anchorSample.valid,
    normalisers.rpn,
  );
  const rpnBox = smoothL1(
    head.deltas,
    rpn.regressionTargets.reshape([batchSize * total, 4]),
    rpn.sample.positive.reshape([batchSize * total]),
    1 / 9,
    normalisers.rpn,
  );
  const pyramidGrads: (Tensor | null)[] = pyramid.map(() => null);
  rpnHeadBackward(
    params,
    pyramid,
    head,
    objectness.grad.reshape([batchSize, total]),
    rpnBox.grad,
    grads,
    pyramidGrads,
  );

  // RoI heads: sampled proposals (+ GT), box losses, mask loss on the positives.
  const sampledRows = roi.sampled.labels.size;
  const labels = roi.sampled.labels.reshape([sampledRows]);
  const boxLosses = boxHeadTrain(
    params,
    pyramid,
    imageSizes,
    {
      rois: roi.sampled.rois,
      labels,
      valid: roi.sampled.valid.reshape([sampledRows]),
      positive: positiveLabels(labels),
      regressionTargets: roi.sampled.regressionTargets.reshape([sampledRows, 4]),
      sampledCount: normalisers.box,
    },
    grads,
    pyramidGrads,
  );
  let maskLoss = tensorFromArray(new Float32Array([0]), [1]);
  if (config.maskHead) {
    const rows = roi.positive.labels.size;
    maskLoss = maskHeadTrain(
      params,
      pyramid,
      imageSizes,
      {
        rois: roi.positive.rois,
        labels: roi.positive.labels.reshape([rows]),
        positive: roi.positive.valid.reshape([rows]),
        targets: roi.maskTargets!,
        count: normalisers.mask,
      },
      grads,
      pyramidGrads,
    );
  }
  backboneBackward(params, tape, pyramidGrads as Tensor[], grads);
  return {
    rpnObjectness: objectness.loss,
    rpnBoxReg: rpnBox.loss,
    classifier: boxLosses.classifier,
    boxReg: boxLosses.boxReg,
    mask: maskLoss,
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
 * `forwardBackward` itself follows the process-wide `setBoundedDispatch` (tests/model/train_heads_test.ts
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
