/**
 * The region proposal network as torchvision's `RPNHead` + `RegionProposalNetwork`: the head
 * ({@link rpnHead}: per level 3×3 conv + ReLU, objectness and box-delta 1×1 convs) is the one forward of
 * inference and training, with its backward ({@link rpnHeadBackward}) and `compute_loss` ({@link rpnLoss})
 * beside it; `filter_proposals`: per image and level the top `preNmsTopN` logits; decode against the
 * anchors, clip to the image, drop boxes smaller than 1e-3, `score >= scoreThresh`, NMS per level at
 * `nmsThresh`, keep the best `postNmsTopN`. All on the GPU; the proposals come out as a fixed-capacity list
 * with a validity flag per slot.
 *
 * NHWC conv outputs are already in torchvision's `permute_and_flatten` order (location-major, anchor inner).
 * @module
 */
import { anchorsTensor, torchvisionAnchors } from "../ops/detection/anchors.ts";
import { decodeBoxes } from "../ops/box_coder.ts";
import { conv2d } from "../ops/conv2d.ts";
import { conv2dBackward } from "../ops/conv2d_backward.ts";
import { rpnCandidates } from "../ops/detection/candidates.ts";
import { gatherSlots } from "../ops/detection/rois.ts";
import { sampledBinaryTargets } from "../ops/detection/sampled_labels.ts";
import { addInto } from "../ops/elementwise.ts";
import { concatLastAxis, gatherRows, splitLastAxis } from "../ops/gather.ts";
import { bceWithLogits, type Normaliser, smoothL1 } from "../ops/losses.ts";
import { batchedNms } from "../ops/nms.ts";
import { keep, type Tensor, tidy } from "../ops/tensor.ts";
import { topk } from "../ops/topk.ts";
import { BBOX_XFORM_CLIP, type MaskRcnnConfig, RPN_BOX_WEIGHTS } from "./config.ts";
import type { ModelParams } from "./params.ts";
import { addPyramidGrad, type HeadGrads, type PyramidGrads } from "./pyramid_grads.ts";

/** Proposals of a batch: `perImage` slots per image, padding slots marked invalid. */
export interface Proposals {
  /** [B·perImage, 4] f32 (x1, y1, x2, y2) in resized-image pixels; zeros in padding slots. */
  boxes: Tensor;
  /** [B·perImage, 5] f32 (image, x1, y1, x2, y2): the boxes as RoIs (image index in every slot). */
  rois: Tensor;
  /** [B·perImage] u32, 1 = a real proposal. */
  valid: Tensor;
  /** [B] u32 real proposals per image (the first `count[b]` slots of image b). */
  count: Tensor;
  /** Slots per image (postNmsTopN). */
  perImage: number;
}

/** RPN numbers that differ between training and inference. */
export interface RpnMode {
  preNmsTopN: number;
  postNmsTopN: number;
}

/** Anchors per padded image size, uploaded once and kept. */
export type AnchorCache = Map<string, Tensor>;

/** The RPN head's outputs over all levels. */
export interface RpnHeadOutput {
  /** [B, T] objectness logits, levels concatenated (location-major, anchor inner within a level). */
  logits: Tensor;
  /** [B·T, 4] box deltas in the same order. */
  deltas: Tensor;
  /** Anchors per level (H·W·A), summing to T. */
  levelLengths: number[];
}

/** What {@link rpnHeadBackward} needs from the forward. */
export interface RpnHeadTape {
  /** The head's input, [P2..P6] each [B, Hl, Wl, C]. */
  pyramid: readonly Tensor[];
  /** Per level the 3×3 conv's ReLU output [B, Hl, Wl, C]. */
  hidden: Tensor[];
}

/** {@link RpnHeadOutput} of a forward run with `record: true`. */
export interface RecordedRpnHead extends RpnHeadOutput {
  tape: RpnHeadTape;
}

/** Options of {@link rpnHead}. */
export interface RpnHeadOptions {
  /** Keep what {@link rpnHeadBackward} needs (`tape`), for training; default false. */
  record?: boolean;
}

/**
 * The shared RPN head on every level (torchvision's `RPNHead`): pyramid [P2..P6] each [B, Hl, Wl, C] →
 * {@link RpnHeadOutput}; with `record: true` also the {@link RpnHeadTape} of its backward. The one forward
 * of inference and training.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { rpnHead } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const head = rpnHead(params, fpnForward(params, resnetForward(params, images)));
 * assert.deepStrictEqual(head.levelLengths, [16 * 16 * 3, 8 * 8 * 3, 4 * 4 * 3, 2 * 2 * 3, 3]); // 3 aspect ratios
 * assert.deepStrictEqual(head.logits.shape, [1, 1023]);
 * assert.deepStrictEqual(head.deltas.shape, [1023, 4]);
 * ```
 */
export function rpnHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  options: { record: true },
): RecordedRpnHead;
/** The RPN head without a tape (inference). */
export function rpnHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  options?: RpnHeadOptions,
): RpnHeadOutput;
export function rpnHead(
  params: ModelParams,
  pyramid: readonly Tensor[],
  options: RpnHeadOptions = {},
): RpnHeadOutput | RecordedRpnHead {
  const batch = pyramid[0].shape[0];
  return tidy(() => {
    const logitParts: Tensor[] = [];
    const deltaParts: Tensor[] = [];
    const levelLengths: number[] = [];
    const hidden: Tensor[] = [];
    for (const level of pyramid) {
      const [, h, w] = level.shape;
      const t = conv2d(level, params.rpnConv, { padding: 1, relu: true });
      const logits = conv2d(t, params.rpnCls);
      const deltas = conv2d(t, params.rpnBbox);
      const perLocation = logits.shape[3];
      levelLengths.push(h * w * perLocation);
      hidden.push(t);
      logitParts.push(logits.reshape([batch, h * w * perLocation]));
      deltaParts.push(deltas.reshape([batch, h * w * perLocation * 4]));
    }
    const total = levelLengths.reduce((a, b) => a + b, 0);
    const output: RpnHeadOutput = {
      logits: concatLastAxis(logitParts),
      deltas: concatLastAxis(deltaParts).reshape([batch * total, 4]),
      levelLengths,
    };
    return options.record ? { ...output, tape: { pyramid, hidden } } : output;
  });
}

/**
 * Backward of {@link rpnHead}: gradLogits [B, T], gradDeltas [B·T, 4] (from {@link rpnLoss}) → adds the
 * head's parameter gradients into `grads` and each level's input gradient into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { rpnHead, rpnHeadBackward } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import type { PyramidGrads } from "./pyramid_grads.ts";
 * import { layerGradients } from "./train_params.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const grads = layerGradients(model.config, params, opt.entries); // layer → its gradient tensors in `opt`
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const head = rpnHead(params, pyramid, { record: true });
 * const pyramidGrads: PyramidGrads = pyramid.map(() => null);
 * rpnHeadBackward(params, head.tape, fill(head.logits.shape, 0.01), fill(head.deltas.shape, 0.01), grads, pyramidGrads);
 * assert.ok(pyramidGrads.every((g, l) => g !== null && g.shape.join() === pyramid[l].shape.join()));
 * const bias = await grads.get(params.rpnCls)!.bias!.read();
 * assert.ok(Math.abs(bias[0] - 0.01 * 1023 / 3) < 1e-3); // Σ over the anchors of its aspect ratio
 * ```
 */
export function rpnHeadBackward(
  params: ModelParams,
  tape: RpnHeadTape,
  gradLogits: Tensor,
  gradDeltas: Tensor,
  grads: HeadGrads,
  pyramidGrads: PyramidGrads,
): void {
  const batch = gradLogits.shape[0];
  const perLocation = params.rpnCls.cout; // anchors per location
  const levelLengths = tape.pyramid.map((level) => level.shape[1] * level.shape[2] * perLocation);
  const logitParts = splitLastAxis(gradLogits, levelLengths);
  const deltaParts = splitLastAxis(
    gradDeltas.reshape([batch, gradDeltas.size / batch]),
    levelLengths.map((l) => 4 * l),
  );
  tape.pyramid.forEach((level, l) => {
    const [, h, w] = level.shape;
    const hidden = tape.hidden[l];
    const gCls = logitParts[l].reshape([batch, h, w, perLocation]);
    const gBox = deltaParts[l].reshape([batch, h, w, 4 * perLocation]);
    const g1 = conv2dBackward(hidden, params.rpnCls, gCls, grads.get(params.rpnCls) ?? {})
      .gradInput!;
    const g2 = conv2dBackward(hidden, params.rpnBbox, gBox, grads.get(params.rpnBbox) ?? {})
      .gradInput!;
    const gHidden = addInto(g1, g2);
    const gLevel = conv2dBackward(level, params.rpnConv, gHidden, grads.get(params.rpnConv) ?? {}, {
      padding: 1,
      relu: true,
      out: hidden,
    })
      .gradInput!;
    addPyramidGrad(pyramidGrads, l, gLevel);
  });
}

/** The sampled anchors and their targets (as `rpnTargets` assigns them) that {@link rpnLoss} needs. */
export interface RpnLossTargets {
  /** [B, T] u32 1 = sampled positive anchor. */
  positive: Tensor;
  /** [B, T] u32 1 = sampled negative anchor. */
  negative: Tensor;
  /** [B, T, 4] f32 the positives' boxes encoded against their anchors with (1, 1, 1, 1). */
  regressionTargets: Tensor;
}

/** The two RPN losses ([1] f32 each) and their gradients w.r.t. the head's outputs. */
export interface RpnLosses {
  objectness: Tensor;
  boxReg: Tensor;
  /** [B, T] d objectness / d logits. */
  gradLogits: Tensor;
  /** [B·T, 4] d boxReg / d deltas. */
  gradDeltas: Tensor;
}

/**
 * torchvision's `RegionProposalNetwork.compute_loss`: binary cross-entropy of the objectness logits over
 * the sampled anchors and smooth L1 (beta 1/9) of the positives' deltas, both divided by `sampledCount`
 * (the sampled anchors of the batch; data-parallel ranks pass the sum over all ranks).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { getGpu } from "../ops/gpu.ts";
 * import { rpnLoss } from "./rpn.ts";
 * await getGpu();
 * // Two anchors of one image, both logits 0: a sampled positive and a sampled negative.
 * const head = { logits: fill([1, 2], 0), deltas: fill([2, 4], 0), levelLengths: [2] };
 * const targets = {
 *   positive: tensorFromArray(new Uint32Array([1, 0]), [1, 2]),
 *   negative: tensorFromArray(new Uint32Array([0, 1]), [1, 2]),
 *   regressionTargets: tensorFromArray(new Float32Array(8), [1, 2, 4]),
 * };
 * const losses = rpnLoss(head, targets, 2);
 * const [objectness] = await losses.objectness.read();
 * assert.ok(Math.abs(objectness - Math.log(2)) < 1e-6); // σ(0) = 1/2 for both anchors
 * assert.deepStrictEqual(await losses.boxReg.read(), new Float32Array([0])); // deltas equal their targets
 * ```
 */
export function rpnLoss(head: RpnHeadOutput, targets: RpnLossTargets, sampledCount: Normaliser): RpnLosses {
  const [batch, total] = head.logits.shape;
  const anchorSample = sampledBinaryTargets(
    targets.positive.reshape([batch * total]),
    targets.negative.reshape([batch * total]),
  );
  const objectness = bceWithLogits(
    head.logits.reshape([batch * total]),
    anchorSample.targets,
    anchorSample.valid,
    sampledCount,
  );
  const boxReg = smoothL1(
    head.deltas,
    targets.regressionTargets.reshape([batch * total, 4]),
    targets.positive.reshape([batch * total]),
    1 / 9,
    sampledCount,
  );
  return {
    objectness: objectness.loss,
    boxReg: boxReg.loss,
    gradLogits: objectness.grad.reshape([batch, total]),
    gradDeltas: boxReg.grad,
  };
}

/**
 * torchvision's `filter_proposals`: per image and level the top `preNmsTopN` logits, decode against the
 * anchors, clip, drop boxes under 1e-3, `score >= rpnScoreThresh`, NMS per level, keep `postNmsTopN`.
 * No gradient flows through proposals (torchvision detaches them too).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { anchorsFor, filterProposals, rpnHead } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const head = rpnHead(params, pyramid);
 * const anchors = anchorsFor(model.anchorCache, model.config, [64, 64], pyramid);
 * const proposals = filterProposals(model.config, head, anchors, [[64, 64]], { preNmsTopN: 50, postNmsTopN: 10 });
 * assert.strictEqual(proposals.perImage, 10);
 * const boxes = await proposals.boxes.read();
 * assert.ok(boxes.every((v) => v >= 0 && v <= 64)); // clipped to the image
 * ```
 */
export function filterProposals(
  config: MaskRcnnConfig,
  head: RpnHeadOutput,
  anchors: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  mode: RpnMode,
): Proposals {
  const batch = head.logits.shape[0];
  const total = head.logits.shape[1];
  return tidy(() => {
    const top = topk(head.logits, mode.preNmsTopN, { segments: head.levelLengths }); // indices [B, L, K]
    const [, levels, perLevel] = top.indices.shape;
    const slots = levels * perLevel;
    const flatIdx = top.indices.reshape([batch * slots]);
    const anchorRows = gatherRows(anchors, flatIdx, { idxGroup: slots, srcGroup: 0 });
    const deltaRows = gatherRows(head.deltas, flatIdx, { idxGroup: slots, srcGroup: total });
    const boxes = decodeBoxes(deltaRows, anchorRows, RPN_BOX_WEIGHTS, BBOX_XFORM_CLIP, imageSizes)
      .reshape([batch * slots, 4]);
    const candidates = rpnCandidates(top.indices, head.logits, boxes, {
      minSize: 1e-3,
      scoreThresh: config.rpnScoreThresh,
    });
    const kept = batchedNms(boxes, candidates.scores, candidates.levels, config.rpnNmsThresh, levels, {
      valid: candidates.valid,
      maxOut: mode.postNmsTopN,
      imageLengths: Array(batch).fill(slots),
      maxPerSegment: perLevel,
    });
    const perImage = kept.keep.shape[kept.keep.rank - 1];
    const filled = gatherSlots(boxes, kept.keep.reshape([kept.keep.size]), perImage);
    return {
      boxes: filled.boxes,
      rois: filled.rois,
      valid: filled.valid!,
      count: kept.count.reshape([batch]),
      perImage,
    };
  });
}

/**
 * The anchors of a padded image size and its feature sizes (uploaded once per size and cached).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { anchorsFor } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const anchors = anchorsFor(model.anchorCache, model.config, [64, 64], pyramid);
 * assert.deepStrictEqual(anchors.shape, [1023, 4]); // Σ H·W·3 over P2..P6
 * assert.strictEqual(anchorsFor(model.anchorCache, model.config, [64, 64], pyramid), anchors); // cached
 * ```
 */
export function anchorsFor(
  cache: AnchorCache,
  config: MaskRcnnConfig,
  paddedSize: readonly [number, number],
  pyramid: readonly Tensor[],
): Tensor {
  const featureSizes = pyramid.map((p) => [p.shape[1], p.shape[2]] as [number, number]);
  const key = `${paddedSize}|${featureSizes.flat()}`;
  let anchors = cache.get(key);
  if (!anchors || anchors.disposed) {
    const values = torchvisionAnchors(paddedSize, featureSizes, config.anchorSizes, config.aspectRatios);
    anchors = keep(anchorsTensor(values));
    cache.set(key, anchors);
  }
  return anchors;
}

/**
 * Inference RPN: {@link rpnHead} then {@link filterProposals}. pyramid: [P2..P6] → {@link Proposals}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { rpnForward } from "./rpn.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const mode = { preNmsTopN: 50, postNmsTopN: 10 };
 * const proposals = rpnForward(params, model.config, pyramid, [[64, 64]], [64, 64], model.anchorCache, mode);
 * assert.deepStrictEqual(proposals.boxes.shape, [10, 4]);
 * const valid = await proposals.valid.read();
 * assert.ok(valid.some((v) => v === 1));
 * ```
 */
export function rpnForward(
  params: ModelParams,
  config: MaskRcnnConfig,
  pyramid: readonly Tensor[],
  imageSizes: readonly (readonly [number, number])[],
  paddedSize: readonly [number, number],
  anchorCache: AnchorCache,
  mode: RpnMode,
): Proposals {
  const anchors = anchorsFor(anchorCache, config, paddedSize, pyramid);
  return tidy(() => filterProposals(config, rpnHead(params, pyramid), anchors, imageSizes, mode));
}
