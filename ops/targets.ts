/**
 * The training targets of Mask R-CNN for a batch, all on the GPU with no read-back:
 * - {@link assignAnchorTargets} / {@link rpnTargets}: torchvision `RegionProposalNetwork.assign_targets_to_anchors`
 *   (Matcher 0.7 / 0.3 with low-quality matches), regression targets with weights (1, 1, 1, 1), and the
 *   balanced sampler (256 per image, half positive) that `compute_loss` runs;
 * - {@link roiTargets}: `RoIHeads.select_training_samples` (GT appended to the proposals, Matcher 0.5 / 0.5,
 *   512 samples per image at 0.25, targets with weights (10, 10, 5, 5)) and, with masks,
 *   `project_masks_on_boxes` for the positives (28 × 28).
 *
 * Layout: GT as in `ops/gt_batch.ts`. Sampled RoIs come out in fixed-capacity slots per image, in
 * torchvision's order (ascending candidate index: the valid proposals in order, then the GT boxes), −1
 * padded, with counts as GPU tensors; the positives again in a second, smaller slot list (⌊512 · 0.25⌋ =
 * 128 per image) that the mask branch uses.
 * @module
 */
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { RPN_ASSIGN_WGSL } from "../shaders/targets.wgsl.ts";
import { RPN_BOX_WEIGHTS } from "./box_coder.ts";
import { bindable, checkGtBatch, type GtBatch } from "./gt_batch.ts";
import { dispatch, params } from "./kernel.ts";
import { matchBoxes } from "./matcher.ts";
import { sampleBalanced, type SampleResult } from "./sampler.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";

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

/** Thresholds of {@link assignAnchorTargets}. */
export interface AnchorMatchOptions {
  /** Default 0.7. */
  fgIouThresh?: number;
  /** Default 0.3. */
  bgIouThresh?: number;
}

/**
 * torchvision's `assign_targets_to_anchors` + `box_coder.encode`. anchors: [A, 4] f32 (shared by the
 * batch, as `model/rpn.ts` keeps them) or [B, A, 4], gt: {@link GtBatch} → {@link AnchorTargets}.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { assignAnchorTargets } from "./targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) }]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 9, 10, 20, 20, 30, 30]), [2, 4]);
 * console.log(await assignAnchorTargets(anchors, gt).labels.read()); // [1, 0]
 * ```
 */
export function assignAnchorTargets(
  anchors: Tensor,
  gt: GtBatch,
  options: AnchorMatchOptions = {},
): AnchorTargets {
  const op = "assignAnchorTargets";
  const images = checkGtBatch(op, gt);
  const matches = matchBoxes(gt, anchors, {
    highThreshold: options.fgIouThresh ?? 0.7,
    lowThreshold: options.bgIouThresh ?? 0.3,
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
      ...RPN_BOX_WEIGHTS.map((w) => ["f32", w] as const),
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
  /** Default 256. */
  batchSizePerImage?: number;
  /** Default 0.5. */
  positiveFraction?: number;
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
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { rpnTargets } from "./targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) }]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 9, 10, 20, 20, 30, 30, 0, 0, 6, 10]), [3, 4]);
 * const t = rpnTargets(anchors, gt, { seed: 1, step: 0 });
 * assert.deepStrictEqual(await t.labels.read(), new Int32Array([1, 0, -1])); // IoU 0.9 / 0 / 0.6 (ignored)
 * assert.deepStrictEqual(await t.sample.positive.read(), new Uint32Array([1, 0, 0]));
 * assert.deepStrictEqual(await t.sample.negative.read(), new Uint32Array([0, 1, 0]));
 * ```
 */
export function rpnTargets(anchors: Tensor, gt: GtBatch, options: RpnTargetOptions): RpnTargets {
  const targets = assignAnchorTargets(anchors, gt, options);
  const sample = sampleBalanced(targets.labels, {
    batchSizePerImage: options.batchSizePerImage ?? 256,
    positiveFraction: options.positiveFraction ?? 0.5,
    seed: options.seed,
    step: options.step,
    firstImage: options.firstImage,
  });
  return { ...targets, sample };
}
