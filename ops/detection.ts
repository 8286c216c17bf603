/**
 * Small fused kernels that join the Mask R-CNN stages on the GPU (no read-back between stages):
 * - {@link rpnCandidates}: torchvision `RegionProposalNetwork.filter_proposals` after top-k: sigmoid scores,
 *   `remove_small_boxes(min_size)`, `scores >= score_thresh`, and the level index for `batched_nms`;
 * - {@link boxCandidates}: `RoIHeads.postprocess_detections`: drop the background column, flatten
 *   (proposal-major, class inner), `scores > score_thresh`, `remove_small_boxes(1e-2)`;
 * - {@link selectClassMask}: `maskrcnn_inference`: sigmoid of the predicted class's logits;
 * - {@link scaleBoxes}: `transform.resize_boxes` back to the input size; {@link boxesToRois}; {@link indexValid}.
 * @module
 */
import {
  BOX_CANDIDATES_WGSL,
  BOXES_TO_ROIS_WGSL,
  COMPACT_FLAGS_WGSL,
  COMPACT_WORKGROUP,
  gatherSlotsWgsl,
  INDEX_VALID_WGSL,
  LABEL_POSITIVE_WGSL,
  RPN_CANDIDATES_WGSL,
  SAMPLED_BINARY_WGSL,
  SCALE_BOXES_WGSL,
  SELECT_CLASS_SIGMOID_WGSL,
} from "../shaders/detection.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { dispatch, type OccupiedRows, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

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
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { rpnCandidates } from "./detection.ts";
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
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * import { boxCandidates } from "./detection.ts";
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

/**
 * logits: [R, M, M, C] f32 (NHWC), labels: [R] i32 → [R, M, M] f32 = sigmoid of channel `labels[r]`
 * (zeros where the label is negative, i.e. padding); with `occupied`, only the occupied rows are written.
 *
 * @example
 * ```ts
 * import { getGpu, selectClassMask, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const logits = tensorFromArray(new Float32Array([0, 2, 0, -2]), [1, 1, 2, 2]);
 * console.log(await selectClassMask(logits, tensorFromArray(new Int32Array([1]), [1])).read());
 * ```
 */
export function selectClassMask(logits: Tensor, labels: Tensor, occupied?: OccupiedRows): Tensor {
  const op = "selectClassMask";
  logits.check(op, "logits");
  assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
  if (logits.rank !== 4 || labels.size !== logits.shape[0]) {
    throw new ShapeError(
      op,
      `logits ${logits.describe()} must be [R, M, M, C] and labels ${labels.describe()} [R]`,
    );
  }
  const [rows, h, w, classes] = logits.shape;
  const out = emptyTensor([rows, h, w], "f32");
  if (out.size === 0) return out;
  dispatch({ key: "detection/select_class_sigmoid", source: SELECT_CLASS_SIGMOID_WGSL }, {
    op,
    tensors: [["logits", logits], ["labels", labels], ["out", out]],
    params: params(["u32", out.size], ["u32", h * w], ["u32", classes]),
    workgroups: groups(out.size),
    bound: occupied && { ...occupied, unitsPerRow: h * w, unitsPerWorkgroup: WORKGROUP_1D },
  });
  return out;
}

/**
 * Most images one {@link scaleBoxes} call takes (their ratios live in one 256-byte uniform block).
 *
 * @example
 * ```ts
 * import { SCALE_MAX_IMAGES } from "./detection.ts";
 * console.log(SCALE_MAX_IMAGES); // 14
 * ```
 */
export const SCALE_MAX_IMAGES = 14;

/**
 * boxes: [B·K, 4] f32 (K per image) → the boxes times per-image ratios `[ratioH, ratioW]`
 * (torchvision's `resize_boxes`: ratio = original size / resized size, in f32).
 *
 * @example
 * ```ts
 * import { getGpu, scaleBoxes, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([10, 10, 20, 20]), [1, 4]);
 * console.log(await scaleBoxes(boxes, [[0.5, 2]]).read()); // [20, 5, 40, 10]
 * ```
 */
export function scaleBoxes(boxes: Tensor, ratios: readonly (readonly [number, number])[]): Tensor {
  const op = "scaleBoxes";
  boxes.check(op, "boxes");
  if (ratios.length < 1 || ratios.length > SCALE_MAX_IMAGES) {
    throw new LimitError(op, `${ratios.length} images; 1 to ${SCALE_MAX_IMAGES} per call`);
  }
  const rows = boxes.size / 4;
  if (boxes.shape[boxes.rank - 1] !== 4 || rows % ratios.length !== 0) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [B·K, 4] for ${ratios.length} images`);
  }
  const out = emptyTensor(boxes.shape, "f32");
  if (rows === 0) return out;
  const block = new Uint32Array(4 + 4 * SCALE_MAX_IMAGES);
  block.set([rows, rows / ratios.length, ratios.length, 0]);
  const asF32 = new Float32Array(block.buffer);
  ratios.forEach(([rh, rw], k) => asF32.set([rh, rw, 0, 0], 4 + 4 * k));
  dispatch({ key: "detection/scale_boxes", source: SCALE_BOXES_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["out", out]],
    params: block,
    workgroups: groups(rows),
  });
  return out;
}

/**
 * boxes: [B·K, 4] f32 → RoIs [B·K, 5] (batchIndex = ⌊row / K⌋, x1, y1, x2, y2).
 *
 * @example
 * ```ts
 * import { boxesToRois, getGpu, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
 * console.log(await boxesToRois(boxes, 1).read()); // [0, 1, 2, 3, 4, 1, 5, 6, 7, 8]
 * ```
 */
export function boxesToRois(boxes: Tensor, perImage: number): Tensor {
  const op = "boxesToRois";
  boxes.check(op, "boxes");
  const rows = boxes.size / 4;
  if (boxes.shape[boxes.rank - 1] !== 4 || !(perImage >= 1) || rows % perImage !== 0) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [B·${perImage}, 4]`);
  }
  const rois = emptyTensor([rows, 5], "f32");
  if (rows === 0) return rois;
  dispatch({ key: "detection/boxes_to_rois", source: BOXES_TO_ROIS_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["rois", rois]],
    params: params(["u32", rows], ["u32", perImage]),
    workgroups: groups(rows),
  });
  return rois;
}

/**
 * idx: any shape i32 → u32 of the same shape, 1 where idx ≥ 0 (keep lists are −1 padded).
 *
 * @example
 * ```ts
 * import { getGpu, indexValid, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * console.log(await indexValid(tensorFromArray(new Int32Array([3, -1]), [2])).read()); // [1, 0]
 * ```
 */
export function indexValid(idx: Tensor): Tensor {
  const op = "indexValid";
  assertDType(op, "idx", idx.check(op, "idx"), ["i32"]);
  const out = emptyTensor(idx.shape, "u32");
  if (idx.size === 0) return out;
  dispatch({ key: "detection/index_valid", source: INDEX_VALID_WGSL }, {
    op,
    tensors: [["idx", idx], ["valid", out]],
    params: params(["u32", idx.size]),
    workgroups: groups(idx.size),
  });
  return out;
}

/**
 * labels: any shape i32 → u32 of the same shape, 1 where label > 0 (positive sampled RoIs).
 *
 * @example
 * ```ts
 * import { getGpu, positiveLabels, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * console.log(await positiveLabels(tensorFromArray(new Int32Array([2, 0, -1]), [3])).read()); // [1, 0, 0]
 * ```
 */
export function positiveLabels(labels: Tensor): Tensor {
  const op = "positiveLabels";
  assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
  const out = emptyTensor(labels.shape, "u32");
  if (labels.size === 0) return out;
  dispatch({ key: "detection/label_positive", source: LABEL_POSITIVE_WGSL }, {
    op,
    tensors: [["labels", labels], ["positive", out]],
    params: params(["u32", labels.size]),
    workgroups: groups(labels.size),
  });
  return out;
}

/**
 * Sampler masks → the RPN objectness loss inputs: positive, negative: same shape u32 →
 * { targets: f32 (1 for positives), valid: u32 (positive or negative) }.
 *
 * @example
 * ```ts
 * import { getGpu, sampledBinaryTargets, tensorFromArray } from "./mod.ts";
 * await getGpu();
 * const pos = tensorFromArray(new Uint32Array([1, 0, 0]), [3]);
 * const neg = tensorFromArray(new Uint32Array([0, 1, 0]), [3]);
 * const { targets, valid } = sampledBinaryTargets(pos, neg);
 * console.log(await targets.read(), await valid.read()); // [1, 0, 0] [1, 1, 0]
 * ```
 */
export function sampledBinaryTargets(positive: Tensor, negative: Tensor): { targets: Tensor; valid: Tensor } {
  const op = "sampledBinaryTargets";
  assertDType(op, "positive", positive.check(op, "positive"), ["u32"]);
  assertDType(op, "negative", negative.check(op, "negative"), ["u32"]);
  if (positive.size !== negative.size) {
    throw new ShapeError(op, `positive ${positive.describe()} and negative ${negative.describe()} differ`);
  }
  const n = positive.size;
  const out = { targets: emptyTensor([n], "f32"), valid: emptyTensor([n], "u32") };
  if (n === 0) return out;
  dispatch({ key: "detection/sampled_binary", source: SAMPLED_BINARY_WGSL }, {
    op,
    tensors: [["positive", positive], ["negative", negative], ["targets", out.targets], ["valid", out.valid]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return out;
}

/** Kept slots filled by {@link gatherSlots}. */
export interface GatheredSlots {
  /** [n, 4] f32 boxes of the kept entries (zeros in empty slots). */
  boxes: Tensor;
  /** [n, 5] f32 (slot / perImage, x1, y1, x2, y2), as {@link boxesToRois} makes. */
  rois: Tensor;
  /** [n] u32 1 = keep ≥ 0 (without `labels`). */
  valid?: Tensor;
  /** [n] i32 labels of the kept entries, 0 in empty slots (with `labels`). */
  labels?: Tensor;
}

/**
 * Gathers kept entries into slots in one pass: src: [N, 4] f32 boxes, keep: [n] i32 (−1 padded, n =
 * B·perImage) → {@link GatheredSlots}: the same values as `gatherRows(src, keep)`, `boxesToRois(·,
 * perImage)` and `indexValid(keep)` (or `gatherRows(labels, keep)` with `labels`: [N] i32).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { gatherSlots } from "./detection.ts";
 * await getGpu();
 * const src = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
 * const slots = gatherSlots(src, tensorFromArray(new Int32Array([1, -1]), [2]), 2);
 * console.log(await slots.rois.read(), await slots.valid!.read()); // [0, 5, 6, 7, 8, 0, 0, 0, 0, 0], [1, 0]
 * ```
 */
export function gatherSlots(
  src: Tensor,
  keep: Tensor,
  perImage: number,
  options: { labels?: Tensor } = {},
): GatheredSlots {
  const op = "gatherSlots";
  assertDType(op, "src", src.check(op, "src"), ["f32"]);
  assertDType(op, "keep", keep.check(op, "keep"), ["i32"]);
  const n = keep.size;
  if (src.rank !== 2 || src.shape[1] !== 4 || !(perImage >= 1) || n % perImage !== 0) {
    throw new ShapeError(
      op,
      `src ${src.describe()} must be [N, 4] and keep ${keep.describe()} [B·${perImage}]`,
    );
  }
  const labels = options.labels;
  if (labels) {
    assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
    if (labels.size !== src.shape[0]) {
      throw new ShapeError(
        op,
        `labels ${labels.describe()} must have one entry per src row ${src.describe()}`,
      );
    }
  }
  const out: GatheredSlots = { boxes: emptyTensor([n, 4], "f32"), rois: emptyTensor([n, 5], "f32") };
  if (labels) out.labels = emptyTensor([n], "i32");
  else out.valid = emptyTensor([n], "u32");
  if (n === 0) return out;
  dispatch({
    key: `detection/gather_slots/${labels ? "labels" : "valid"}`,
    source: gatherSlotsWgsl(!!labels),
  }, {
    op,
    tensors: [
      ["src", src],
      ["keep", keep],
      ...(labels ? [["labels", labels] as const] : []),
      ["boxes", out.boxes],
      ["rois", out.rois],
      labels ? ["labels out", out.labels!] : ["valid", out.valid!],
    ],
    params: params(["u32", n], ["u32", perImage], ["u32", src.shape[0]]),
    workgroups: groups(n),
  });
  return out;
}

/**
 * Stable compaction of a flag vector on the GPU: flags: [n] u32 → `index` [n] i32 (the flagged
 * positions in order, then −1) and `total` [1] u32 (how many): gather rows with `index` to move the flagged
 * slots of several images to the front, where ops bounded by `total` ({@link OccupiedRows}) cost only
 * what they hold.
 *
 * @example
 * ```ts
 * import { getGpu, readTensors, tensorFromArray } from "./mod.ts";
 * import { compactFlags } from "./detection.ts";
 * await getGpu();
 * const { index, total } = compactFlags(tensorFromArray(new Uint32Array([0, 1, 1, 0, 1]), [5]));
 * console.log(await readTensors([index, total])); // [1, 2, 4, -1, -1], [3]
 * ```
 */
export function compactFlags(flags: Tensor): { index: Tensor; total: Tensor } {
  const op = "compactFlags";
  assertDType(op, "flags", flags.check(op, "flags"), ["u32"]);
  const n = flags.size;
  const index = emptyTensor([n], "i32");
  const total = emptyTensor([1], "u32");
  dispatch({ key: "detection/compact_flags", source: COMPACT_FLAGS_WGSL }, {
    op,
    tensors: [["flags", flags], ["index", index], ["total", total]],
    params: params(["u32", n], ["u32", Math.ceil(n / COMPACT_WORKGROUP)]),
    workgroups: 1,
  });
  return { index, total };
}
