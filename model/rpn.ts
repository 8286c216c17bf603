/**
 * The region proposal network as torchvision's `RPNHead` + `RegionProposalNetwork.filter_proposals` (eval):
 * per level 3×3 conv + ReLU, objectness and box-delta 1×1 convs; per image and level the top
 * `preNmsTopN` logits; decode against the anchors, clip to the image, drop boxes smaller than 1e-3,
 * `score >= scoreThresh`, NMS per level at `nmsThresh`, keep the best `postNmsTopN`. All on the GPU; the
 * proposals come out as a fixed-capacity list with a validity flag per slot.
 *
 * NHWC conv outputs are already in torchvision's `permute_and_flatten` order (location-major, anchor inner).
 * @module
 */
import { anchorsTensor, torchvisionAnchors } from "../ops/detection/anchors.ts";
import { decodeBoxes } from "../ops/box_coder.ts";
import { conv2d } from "../ops/conv2d.ts";
import { rpnCandidates } from "../ops/detection/candidates.ts";
import { gatherSlots } from "../ops/detection/rois.ts";
import { concatLastAxis, gatherRows } from "../ops/gather.ts";
import { batchedNms } from "../ops/nms.ts";
import { keep, type Tensor, tidy } from "../ops/tensor.ts";
import { topk } from "../ops/topk.ts";
import { BBOX_XFORM_CLIP, type MaskRcnnConfig, RPN_BOX_WEIGHTS } from "./config.ts";
import type { ModelParams } from "./params.ts";

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
  /** Per level the 3×3 conv's ReLU output (kept for training's backward). */
  hidden: Tensor[];
}

/**
 * The shared RPN head on every level: pyramid [P2..P6] each [B, Hl, Wl, C] → {@link RpnHeadOutput}.
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
export function rpnHead(params: ModelParams, pyramid: readonly Tensor[]): RpnHeadOutput {
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
    return {
      logits: concatLastAxis(logitParts),
      deltas: concatLastAxis(deltaParts).reshape([batch * total, 4]),
      levelLengths,
      hidden,
    };
  });
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
