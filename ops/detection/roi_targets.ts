/**
 * The RoI heads' training targets, torchvision `RoIHeads.select_training_samples` (+ the mask branch's
 * positive selection and `project_masks_on_boxes`), for a batch on the GPU with no read-back:
 * 1. candidates [B, P + Gmax] = each image's proposals, then its GT boxes (`add_gt_proposals`);
 * 2. a Matcher without low-quality matches; labels = matched GT's class, 0 background, −1 ignored;
 * 3. balanced sampling (`batchSizePerImage` per image, `positiveFraction` positive) from (seed, step);
 * 4. an in-order compaction into fixed slots: `sampled` (S = min(batch, P + Gmax) per image) and
 *    `positive` (Pc = min(⌊batch · fraction⌋, P + Gmax)), each with RoIs, labels, matched GT, regression
 *    targets (`boxWeights`) and validity; empty slots have image −1 in `rois` (RoIAlign pools zeros);
 * 5. with GT masks, `maskSize` × `maskSize` mask targets of the positive slots.
 * With every candidate sampled (batch ≥ candidates) the slots equal torchvision's outputs in order.
 * torchvision's values (Matcher 0.5 / 0.5, 512 per image at 0.25, weights (10, 10, 5, 5), 28 × 28 masks)
 * are the model's, in `model/config.ts`.
 * @module
 */
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import {
  APPEND_GT_WGSL,
  CANDIDATE_LABELS_WGSL,
  GATHER_SLOT_BOXES_WGSL,
  GATHER_SLOT_INTS_WGSL,
  SELECT_SAMPLED_WGSL,
} from "../../shaders/detection/roi_targets.wgsl.ts";
import type { BoxWeights } from "../box_coder.ts";
import { ShapeError } from "../errors.ts";
import { bindable, checkGtBatch, type GtBatch } from "./gt_batch.ts";
import { dispatch, params } from "../kernel.ts";
import { maskTargets } from "./mask_targets.ts";
import { matchBoxes } from "./matcher.ts";
import { sampleBalanced } from "./sampler.ts";
import { emptyTensor, type Tensor, tidy } from "../tensor.ts";
import { assertDType } from "../validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/** Options of {@link roiTargets}. */
export interface RoiTargetOptions {
  /** u32 seed of the run. */
  seed: number;
  /** u32 training step. */
  step: number;
  /** Index of image 0 in the global batch (data-parallel ranks; default 0), see `sampleBalanced`. */
  firstImage?: number;
  /** u32 [B·P] (or [B, P]): 1 = real proposal (`Proposals.valid` of `model/rpn.ts`). Default: all. */
  proposalValid?: Tensor;
  /** IoU at or above which a candidate is foreground (torchvision: 0.5). */
  fgIouThresh: number;
  /** IoU below which a candidate is background (torchvision: 0.5). */
  bgIouThresh: number;
  /** Candidates sampled per image (torchvision: 512). */
  batchSizePerImage: number;
  /** Largest fraction of positives among them (torchvision: 0.25). */
  positiveFraction: number;
  /** Weights (wx, wy, ww, wh) of the regression targets (torchvision's box head: (10, 10, 5, 5)). */
  boxWeights: BoxWeights;
  /** Side of the mask targets (torchvision: 28); 0 skips them. Needs `gt.masks`. */
  maskSize: number;
}

/** K fixed slots per image of sampled candidates. */
export interface RoiSlots {
  /** i32 [B, K]: candidate index (< P: proposal, else GT P + j), −1 in empty slots. */
  indices: Tensor;
  /** f32 [B·K, 5]: (image, x1, y1, x2, y2); image −1 in empty slots. */
  rois: Tensor;
  /** i32 [B, K]: class (0 background), −1 in empty slots. */
  labels: Tensor;
  /** i32 [B, K]: GT index within the image (0 for background, as torchvision's clamped matched_idxs), −1 empty. */
  matchedGt: Tensor;
  /** f32 [B, K, 4]: encode(matched GT, RoI) with weights (10, 10, 5, 5); 0 in empty slots / images without GT. */
  regressionTargets: Tensor;
  /** u32 [B, K]: 1 = filled. */
  valid: Tensor;
}

/** Result of {@link roiTargets}. */
export interface RoiTargets {
  /** All sampled RoIs (S slots per image): the box head's inputs and targets. */
  sampled: RoiSlots;
  /** The positive ones again (Pc slots per image), in the same order: the mask branch's inputs. */
  positive: RoiSlots;
  /** f32 [B·Pc, M, M] soft mask targets of `positive` (zeros in empty slots); absent without masks. */
  maskTargets?: Tensor;
  /** u32 [B] sampled positives per image. */
  numPositive: Tensor;
  /** u32 [B] sampled negatives per image. */
  numNegative: Tensor;
  /** u32 [2]: (Σ sampled, Σ positives): the box-loss and mask-loss normalisers. */
  totals: Tensor;
}

/**
 * proposals: [B·P, 4] or [B, P, 4] f32 (resized-image pixels), gt: {@link GtBatch} → {@link RoiTargets}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { roiTargets } from "./roi_targets.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([10, 10, 30, 30]), labels: new Int32Array([3]) }]);
 * // Two proposals of one image: one overlaps the GT (IoU 0.81), one does not; the GT box joins as a candidate.
 * const proposals = tensorFromArray(new Float32Array([10, 10, 28, 28, 40, 40, 60, 60]), [2, 4]);
 * const boxWeights = [10, 10, 5, 5] as const;
 * const options = { seed: 1, step: 0, fgIouThresh: 0.5, bgIouThresh: 0.5, boxWeights, batchSizePerImage: 4, positiveFraction: 0.5, maskSize: 0 };
 * const t = roiTargets(proposals, gt, options);
 * const labels = [...await t.sampled.labels.read()].filter((l) => l >= 0).sort();
 * assert.deepStrictEqual(labels, [0, 3, 3]); // background, the overlapping proposal and the GT itself
 * assert.deepStrictEqual(await t.numPositive.read(), new Uint32Array([2]));
 * ```
 */
export function roiTargets(proposals: Tensor, gt: GtBatch, options: RoiTargetOptions): RoiTargets {
  const op = "roiTargets";
  const images = checkGtBatch(op, gt);
  assertDType(op, "proposals", proposals.check(op, "proposals"), ["f32"]);
  const rows = proposals.size / 4;
  if (
    proposals.shape[proposals.rank - 1] !== 4 || (proposals.rank !== 2 && proposals.rank !== 3) ||
    rows % images !== 0 || (proposals.rank === 3 && proposals.shape[0] !== images)
  ) {
    throw new ShapeError(
      op,
      `proposals ${proposals.describe()} must be [${images}·P, 4] or [${images}, P, 4]`,
    );
  }
  const valid = options.proposalValid;
  if (valid) {
    assertDType(op, "proposalValid", valid.check(op, "proposalValid"), ["u32"]);
    if (valid.size !== rows) {
      throw new ShapeError(
        op,
        `proposalValid ${valid.describe()} must hold ${rows} flags (proposals ${proposals.describe()})`,
      );
    }
  }
  const maskSize = options.maskSize;
  if (maskSize > 0 && !gt.masks) {
    throw new ShapeError(op, "gt has no masks; pass maskSize: 0 to skip mask targets");
  }
  const batch = options.batchSizePerImage;
  const fraction = options.positiveFraction;
  const p = rows / images;
  if (p === 0) throw new ShapeError(op, `proposals ${proposals.describe()} need at least one slot per image`);
  const len = p + Math.max(0, ...gt.counts);
  const cap = Math.max(1, Math.min(batch, len));
  const posCap = Math.max(1, Math.min(Math.floor(batch * fraction), len));
  return tidy(() => {
    const total = images * len;
    const cand = emptyTensor([images, len, 4], "f32");
    const candValid = emptyTensor([images, len], "u32");
    dispatch({ key: "targets/append_gt", source: APPEND_GT_WGSL }, {
      op,
      tensors: [
        ["proposals", proposals],
        ["proposalValid", valid ?? proposals],
        ["gt.table", gt.table],
        [
          "gt.boxes",
          bindable(gt.boxes),
        ],
        ["candidates", cand],
        ["candidateValid", candValid],
      ],
      params: params(["u32", total], ["u32", len], ["u32", p], ["u32", valid ? 1 : 0]),
      workgroups: groups(total),
    });
    const matches = matchBoxes(gt, cand, {
      highThreshold: options.fgIouThresh,
      lowThreshold: options.bgIouThresh,
      valid: candValid,
    });
    const labels = emptyTensor([images, len], "i32");
    dispatch({ key: "targets/candidate_labels", source: CANDIDATE_LABELS_WGSL }, {
      op,
      tensors: [["matches", matches], ["gt.table", gt.table], ["gt.labels", gt.labels], ["labels", labels]],
      params: params(["u32", total], ["u32", len]),
      workgroups: groups(total),
    });
    const sample = sampleBalanced(labels, {
      batchSizePerImage: batch,
      positiveFraction: fraction,
      seed: options.seed,
      step: options.step,
      firstImage: options.firstImage,
    });
    const sampledIdx = emptyTensor([images, cap], "i32");
    const positiveIdx = emptyTensor([images, posCap], "i32");
    dispatch({ key: "targets/select_sampled", source: SELECT_SAMPLED_WGSL }, {
      op,
      tensors: [["positive", sample.positive], ["negative", sample.negative], ["sampled", sampledIdx], [
        "positiveSlots",
        positiveIdx,
      ]],
      params: params(["u32", len], ["u32", cap], ["u32", posCap]),
      workgroups: [images, 1, 1],
    });
    const slots = (indices: Tensor): RoiSlots =>
      fillSlots(op, indices, cand, matches, gt, len, options.boxWeights);
    const positive = slots(positiveIdx);
    return {
      sampled: slots(sampledIdx),
      positive,
      maskTargets: maskSize > 0 ? maskTargets(gt, positive.rois, positive.matchedGt, maskSize) : undefined,
      numPositive: sample.numPositive,
      numNegative: sample.numNegative,
      totals: sample.totals,
    };
  });
}

function fillSlots(
  op: string,
  indices: Tensor,
  cand: Tensor,
  matches: Tensor,
  gt: GtBatch,
  len: number,
  boxWeights: BoxWeights,
): RoiSlots {
  const [images, k] = indices.shape;
  const total = images * k;
  const out: RoiSlots = {
    indices,
    rois: emptyTensor([total, 5], "f32"),
    labels: emptyTensor([images, k], "i32"),
    matchedGt: emptyTensor([images, k], "i32"),
    regressionTargets: emptyTensor([images, k, 4], "f32"),
    valid: emptyTensor([images, k], "u32"),
  };
  const shape = params(
    ["u32", total],
    ["u32", k],
    ["u32", len],
    ["u32", 0],
    ...boxWeights.map((w) => ["f32", w] as const),
  );
  dispatch({ key: "targets/gather_slot_boxes", source: GATHER_SLOT_BOXES_WGSL }, {
    op,
    tensors: [
      ["indices", indices],
      ["candidates", cand],
      ["matches", matches],
      ["gt.table", gt.table],
      [
        "gt.boxes",
        bindable(gt.boxes),
      ],
      ["rois", out.rois],
      ["regressionTargets", out.regressionTargets],
    ],
    params: shape,
    workgroups: groups(total),
  });
  dispatch({ key: "targets/gather_slot_ints", source: GATHER_SLOT_INTS_WGSL }, {
    op,
    tensors: [
      ["indices", indices],
      ["matches", matches],
      ["gt.table", gt.table],
      ["gt.labels", gt.labels],
      [
        "labels",
        out.labels,
      ],
      ["matchedGt", out.matchedGt],
      ["valid", out.valid],
    ],
    params: params(["u32", total], ["u32", k], ["u32", len]),
    workgroups: groups(total),
  });
  return out;
}
