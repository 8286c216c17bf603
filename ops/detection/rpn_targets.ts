/**
 * The RPN's training targets for a batch, on the GPU with no read-back: {@link assignAnchorTargets} /
 * {@link rpnTargets} are torchvision `RegionProposalNetwork.assign_targets_to_anchors` (a Matcher with
 * low-quality matches), the regression targets of `box_coder.encode`, and the balanced sampler that
 * `compute_loss` runs. Thresholds, sampler sizes and box weights are arguments (torchvision's 0.7 / 0.3,
 * 256 per image at 0.5 and (1, 1, 1, 1) are the model's, in `model/config.ts`).
 *
 * Layout: GT as in `ops/detection/gt_batch.ts`; targets per (image, anchor).
 * @module
 */
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { RPN_ASSIGN_WGSL } from "../../shaders/detection/rpn_targets.wgsl.ts";
import type { BoxWeights } from "../box_coder.ts";
import { bindable, checkGtBatch, type GtBatch } from "./gt_batch.ts";
import { dispatch, params } from "../kernel.ts";
import { matchBoxes } from "./matcher.ts";
import { sampleBalanced, type SampleResult } from "./sampler.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/** Per-anchor RPN targets of B images × A anchors. */
export interface AnchorTargets {
  /** i32 [B, A]: matched GT index within the image, −1 background, −2 between thresholds. */
  matches: Tensor;
  /** i32 [B, A]: 1 foreground, 0 background, −1 ignored (torchvision's float labels as integers). */
  labels: Tensor;
  /** f32 [B, A, 4]: the matched GT box (index clamped at 0; zeros for images without GT). */
  matchedBoxes: Tensor;
  /** f32 [B, A, 4]: `encode(matchedBoxes, anchors)` with weights (1, 1, 1, 1); zeros without GT. */
  regressionTargets: Tensor;
}

/** Thresholds and box-coder weights of {@link assignAnchorTargets}. */
export interface AnchorMatchOptions {
  /** IoU at or above which an anchor is foreground (torchvision's RPN: 0.7). */
  fgIouThresh: number;
  /** IoU below which an anchor is background (torchvision's RPN: 0.3). */
  bgIouThresh: number;
  /** Weights (wx, wy, ww, wh) of the regression targets (torchvision's RPN: (1, 1, 1, 1)). */
  boxWeights: BoxWeights;
}

/**
 * torchvision's `assign_targets_to_anchors` + `box_coder.encode`. anchors: [A, 4] f32 (shared by the
 * batch, as `model/rpn.ts` keeps them) or [B, A, 4], gt: {@link GtBatch} → {@link AnchorTargets}.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { assignAnchorTargets } from "./rpn_targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) }]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 9, 10, 20, 20, 30, 30]), [2, 4]);
 * const thresholds = { fgIouThresh: 0.7, bgIouThresh: 0.3, boxWeights: [1, 1, 1, 1] } as const; // torchvision's RPN
 * console.log(await assignAnchorTargets(anchors, gt, thresholds).labels.read()); // [1, 0]
 * ```
 */
export function assignAnchorTargets(
  anchors: Tensor,
  gt: GtBatch,
  options: AnchorMatchOptions,
): AnchorTargets {
  const op = "assignAnchorTargets";
  const images = checkGtBatch(op, gt);
  const matches = matchBoxes(gt, anchors, {
    highThreshold: options.fgIouThresh,
    lowThreshold: options.bgIouThresh,
    allowLowQualityMatches: true,
  });
  const a = matches.shape[1];
  const out = {
    matches,
    labels: emptyTensor([images, a], "i32"),
    matchedBoxes: emptyTensor([images, a, 4], "f32"),
    regressionTargets: emptyTensor([images, a, 4], "f32"),
  };
  if (images * a === 0) return out;
  dispatch({ key: "targets/rpn_assign", source: RPN_ASSIGN_WGSL }, {
    op,
    tensors: [
      ["matches", matches],
      ["gt.table", gt.table],
      ["gt.boxes", bindable(gt.boxes)],
      ["anchors", anchors],
      ["labels", out.labels],
      ["matchedBoxes", out.matchedBoxes],
      ["regressionTargets", out.regressionTargets],
    ],
    params: params(
      ["u32", images * a],
      ["u32", a],
      ["u32", anchors.rank === 3 ? a : 0],
      ["u32", 0],
      ...options.boxWeights.map((w) => ["f32", w] as const),
    ),
    workgroups: groups(images * a),
  });
  return out;
}

/** Options of {@link rpnTargets}: thresholds and the sampler. */
export interface RpnTargetOptions extends AnchorMatchOptions {
  /** u32 seed of the run. */
  seed: number;
  /** u32 training step (a new draw per step). */
  step: number;
  /** Index of image 0 in the global batch (data-parallel ranks; default 0), see `sampleBalanced`. */
  firstImage?: number;
  /** Anchors sampled per image (torchvision's RPN: 256). */
  batchSizePerImage: number;
  /** Largest fraction of positives among them (torchvision's RPN: 0.5). */
  positiveFraction: number;
}

/** {@link AnchorTargets} plus the sampled anchors. */
export interface RpnTargets extends AnchorTargets {
  /** Sampled positives / negatives per anchor ([B, A] u32 masks) and counts; `totals[0]` normalises the loss. */
  sample: SampleResult;
}

/**
 * RPN targets and the anchors `compute_loss` samples. anchors: [A, 4] or [B, A, 4] f32 → {@link RpnTargets}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { rpnTargets } from "./rpn_targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) }]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 9, 10, 20, 20, 30, 30, 0, 0, 6, 10]), [3, 4]);
 * const t = rpnTargets(anchors, gt, {
 *   seed: 1,
 *   step: 0,
 *   fgIouThresh: 0.7, // torchvision's RPN defaults (model/config.ts)
 *   bgIouThresh: 0.3,
 *   boxWeights: [1, 1, 1, 1],
 *   batchSizePerImage: 256,
 *   positiveFraction: 0.5,
 * });
 * assert.deepStrictEqual(await t.labels.read(), new Int32Array([1, 0, -1])); // IoU 0.9 / 0 / 0.6 (ignored)
 * assert.deepStrictEqual(await t.sample.positive.read(), new Uint32Array([1, 0, 0]));
 * assert.deepStrictEqual(await t.sample.negative.read(), new Uint32Array([0, 1, 0]));
 * ```
 */
export function rpnTargets(anchors: Tensor, gt: GtBatch, options: RpnTargetOptions): RpnTargets {
  const targets = assignAnchorTargets(anchors, gt, options);
  const sample = sampleBalanced(targets.labels, {
    batchSizePerImage: options.batchSizePerImage,
    positiveFraction: options.positiveFraction,
    seed: options.seed,
    step: options.step,
    firstImage: options.firstImage,
  });
  return { ...targets, sample };
}
