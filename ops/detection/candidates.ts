/**
 * Candidate filters of the two detection stages, fused so nothing is read back between stages:
 * - {@link rpnCandidates}: torchvision `RegionProposalNetwork.filter_proposals` after top-k: sigmoid scores,
 *   `remove_small_boxes(min_size)`, `scores >= score_thresh`, and the level index for `batched_nms`;
 * - {@link boxCandidates}: `RoIHeads.postprocess_detections`: drop the background column, flatten
 *   (proposal-major, class inner), `scores > score_thresh`, `remove_small_boxes(min_size)`.
 * @module
 */
import { BOX_CANDIDATES_WGSL, RPN_CANDIDATES_WGSL } from "../../shaders/detection/candidates.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { ShapeError } from "../errors.ts";
import { dispatch, params } from "../kernel.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";
import { assertDType } from "../validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/** Result of {@link rpnCandidates}: one entry per top-k slot. */
export interface RpnCandidates {
  /** f32 [B·L·K] objectness probabilities (very negative for padding). */
  scores: Tensor;
  /** u32 [B·L·K] 1 = candidate for NMS. */
  valid: Tensor;
  /** i32 [B·L·K] FPN level of each slot. */
  levels: Tensor;
}

/**
 * topIdx: [B, L, K] i32 (per-row indices of per-level top-k, -1 padded), logits: [B, T] f32,
 * boxes: [B·L·K, 4] f32 (decoded and clipped) → {@link RpnCandidates}.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { rpnCandidates } from "./candidates.ts";
 * await getGpu();
 * // B = 1 image, L = 2 levels, K = 2 top-k slots per level over T = 4 anchors; slot 3 is padding (−1).
 * const topIdx = tensorFromArray(new Int32Array([1, 0, 2, -1]), [1, 2, 2]);
 * const logits = tensorFromArray(new Float32Array([0, 1, 2, -1]), [1, 4]);
 * const boxes = tensorFromArray(new Float32Array([0, 0, 10, 10, 0, 0, 1e-4, 5, 5, 5, 9, 9, 0, 0, 0, 0]), [4, 4]);
 * const c = rpnCandidates(topIdx, logits, boxes, { minSize: 1e-3, scoreThresh: 0 });
 * const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
 * const scores = await c.scores.read();
 * [1, 0, 2].forEach((logit, i) => assert.ok(Math.abs(scores[i] - sigmoid(logit)) < 1e-6));
 * assert.deepStrictEqual(await c.valid.read(), new Uint32Array([1, 0, 1, 0])); // slot 1 is thinner than minSize
 * assert.deepStrictEqual(await c.levels.read(), new Int32Array([0, 0, 1, 1]));
 * ```
 */
export function rpnCandidates(
  topIdx: Tensor,
  logits: Tensor,
  boxes: Tensor,
  options: { minSize: number; scoreThresh: number },
): RpnCandidates {
  const op = "rpnCandidates";
  assertDType(op, "topIdx", topIdx.check(op, "topIdx"), ["i32"]);
  assertDType(op, "logits", logits.check(op, "logits"), ["f32"]);
  if (topIdx.rank !== 3 || logits.rank !== 2 || logits.shape[0] !== topIdx.shape[0]) {
    throw new ShapeError(
      op,
      `topIdx ${topIdx.describe()} must be [B, L, K] and logits ${logits.describe()} [B, T]`,
    );
  }
  const n = topIdx.size;
  if (boxes.shape[0] !== n || boxes.shape[boxes.rank - 1] !== 4) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [${n}, 4] for topIdx ${topIdx.describe()}`);
  }
  const [, levels, perLevel] = topIdx.shape;
  const out = {
    scores: emptyTensor([n], "f32"),
    valid: emptyTensor([n], "u32"),
    levels: emptyTensor([n], "i32"),
  };
  if (n === 0) return out;
  dispatch({ key: "detection/rpn_candidates", source: RPN_CANDIDATES_WGSL }, {
    op,
    tensors: [["topIdx", topIdx], ["logits", logits], ["boxes", boxes], ["scores", out.scores], [
      "valid",
      out.valid,
    ], ["levels", out.levels]],
    params: params(
      ["u32", n],
      ["u32", perLevel],
      ["u32", levels],
      ["u32", logits.shape[1]],
      ["f32", options.minSize],
      ["f32", options.scoreThresh],
    ),
    workgroups: groups(n),
  });
  return out;
}

/** Result of {@link boxCandidates}: one entry per (proposal, foreground class). */
export interface BoxCandidates {
  /** f32 [R·(C−1), 4]. */
  boxes: Tensor;
  /** f32 [R·(C−1)]. */
  scores: Tensor;
  /** i32 [R·(C−1)] class labels 1..C−1. */
  labels: Tensor;
  /** u32 [R·(C−1)]. */
  valid: Tensor;
}

/**
 * probs: [R, C] f32 (softmax), boxes: [R, C, 4] f32 (decoded, clipped), rowValid: [R] u32 →
 * {@link BoxCandidates} for classes 1..C−1.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { boxCandidates } from "./candidates.ts";
 * await getGpu();
 * // R = 1 proposal, C = 3 classes (0 = background): one candidate per foreground class.
 * const probs = tensorFromArray(new Float32Array([0.5, 0.45, 0.05]), [1, 3]);
 * const boxes = tensorFromArray(new Float32Array([0, 0, 1, 1, 2, 2, 8, 8, 3, 3, 9, 9]), [1, 3, 4]);
 * const rowValid = tensorFromArray(new Uint32Array([1]), [1]);
 * const c = boxCandidates(probs, boxes, rowValid, { scoreThresh: 0.1, minSize: 1e-2 });
 * assert.deepStrictEqual(await c.labels.read(), new Int32Array([1, 2]));
 * assert.deepStrictEqual(await c.boxes.read(), new Float32Array([2, 2, 8, 8, 3, 3, 9, 9]));
 * assert.deepStrictEqual(await c.valid.read(), new Uint32Array([1, 0])); // 0.05 ≤ scoreThresh
 * ```
 */
export function boxCandidates(
  probs: Tensor,
  boxes: Tensor,
  rowValid: Tensor,
  options: { scoreThresh: number; minSize: number },
): BoxCandidates {
  const op = "boxCandidates";
  probs.check(op, "probs");
  boxes.check(op, "boxes");
  assertDType(op, "rowValid", rowValid.check(op, "rowValid"), ["u32"]);
  const [rows, classes] = probs.shape;
  if (
    probs.rank !== 2 || boxes.rank !== 3 || boxes.shape[0] !== rows || boxes.shape[1] !== classes ||
    rowValid.size !== rows || classes < 2
  ) {
    throw new ShapeError(
      op,
      `probs ${probs.describe()} [R, C≥2], boxes ${boxes.describe()} [R, C, 4] and rowValid ${rowValid.describe()} [R] disagree`,
    );
  }
  const n = rows * (classes - 1);
  const out = {
    boxes: emptyTensor([n, 4], "f32"),
    scores: emptyTensor([n], "f32"),
    labels: emptyTensor([n], "i32"),
    valid: emptyTensor([n], "u32"),
  };
  if (n === 0) return out;
  dispatch({ key: "detection/box_candidates", source: BOX_CANDIDATES_WGSL }, {
    op,
    tensors: [
      ["probs", probs],
      ["boxes", boxes],
      ["rowValid", rowValid],
      ["outBoxes", out.boxes],
      ["outScores", out.scores],
      ["outLabels", out.labels],
      ["outValid", out.valid],
    ],
    params: params(["u32", n], ["u32", classes], ["f32", options.scoreThresh], ["f32", options.minSize]),
    workgroups: groups(n),
  });
  return out;
}
