/**
 * Non-maximum suppression on the GPU, equal to `torchvision.ops.nms` and `torchvision.ops.batched_nms`
 * (for the RPN per FPN level and the box head per class), per image of a batch, with fixed-capacity
 * outputs and a count: no read-back anywhere.
 *
 * Pipeline: group the valid boxes into segments (image × class) with a count / scan / scatter, sort each
 * segment by score (the segmented sort shared with top-k), compute each segment's IoU bitmask in parallel, sweep
 * it greedily with one workgroup per segment (torchvision's CUDA scheme), then order the survivors of each
 * image by score with {@link topkFlat} (validity = kept) and cut at `maxOut`.
 *
 * Decisions: boxes of different classes never suppress each other because they sit in different segments
 * (no coordinate-offset trick, so no rounding from offsets). IoU and comparison follow torchvision exactly
 * (areas (x2 − x1)(y2 − y1), no +1; suppress when IoU > threshold). Scores should have no exact ties (as for
 * torchvision, the order of equal scores is unspecified; ours puts the lower index first). Each segment
 * handles at most `maxPerSegment` boxes (its best by score); more are dropped, see {@link NmsOptions}.
 * @module
 */
import {
  NMS_COUNT_WGSL,
  NMS_GATHER_WGSL,
  NMS_MASK_WGSL,
  NMS_MAX_SEGMENT,
  NMS_SCAN_WGSL,
  NMS_SCATTER_WGSL,
  NMS_SWEEP_WGSL,
  NMS_WORDS_PER_THREAD,
} from "../shaders/nms.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { fillInPlace } from "./elementwise.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tidy } from "./tensor.ts";
import { segmentTable, topkFlat } from "./topk.ts";
import { segmentedSort } from "./sort.ts";
import { assertDType } from "./validate.ts";

/** Options of {@link nms} and {@link batchedNms}. */
export interface NmsOptions {
  /** u32 `[R]`: 1 = candidate, 0 = ignored (score threshold, small boxes, padding). */
  valid?: Tensor;
  /** Capacity of the keep list per image (post_nms_top_n, detections_per_img); default: all boxes. */
  maxOut?: number;
  /** Boxes of consecutive images (sum = R): NMS per image, outputs `[images, maxOut]`. */
  imageLengths?: readonly number[];
  /**
   * Most boxes one segment (image × class) holds, e.g. the proposals per image in the box head; memory is
   * R·⌈maxPerSegment/32⌉ words. Default: the longest image (≤ 16,384). A segment with more valid boxes
   * keeps only its best `maxPerSegment` as candidates.
   */
  maxPerSegment?: number;
}

/** Result of {@link nms} / {@link batchedNms}. */
export interface NmsResult {
  /** i32 box indices (into R) kept, by descending score, -1 padded: `[maxOut]` or `[images, maxOut]`. */
  keep: Tensor;
  /** f32 scores of `keep`, -inf padded. */
  scores: Tensor;
  /** u32 kept count: `[1]` or `[images]`. */
  count: Tensor;
}

/**
 * `torchvision.ops.nms(boxes, scores, iouThreshold)`.
 * boxes: `[R, 4]` f32 (x1, y1, x2, y2), scores: `[R]` f32 → keep `[maxOut]` i32 (-1 padded), count `[1]` u32.
 *
 * @example
 * ```ts
 * import { getGpu, readTensors, tensorFromArray } from "./mod.ts";
 * import { nms } from "./nms.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30]), [3, 4]);
 * const scores = tensorFromArray(new Float32Array([0.9, 0.8, 0.7]), [3]);
 * const { keep, count } = nms(boxes, scores, 0.5);
 * console.log(await readTensors([keep, count])); // [0, 2, -1], [2]
 * ```
 */
export function nms(
  boxes: Tensor,
  scores: Tensor,
  iouThreshold: number,
  options: NmsOptions = {},
): NmsResult {
  return nmsCore("nms", boxes, scores, undefined, 1, iouThreshold, options);
}

/**
 * `torchvision.ops.batched_nms(boxes, scores, idxs, iouThreshold)`: boxes with different `idxs` never
 * suppress each other. idxs: `[R]` i32 in [0, numClasses) (others count as invalid). Shapes as {@link nms}.
 *
 * @example Two classes: the overlapping box of the other class survives
 * ```ts
 * import { getGpu, readTensors, tensorFromArray } from "./mod.ts";
 * import { batchedNms } from "./nms.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([0, 0, 10, 10, 1, 1, 11, 11, 0, 0, 10, 9]), [3, 4]);
 * const scores = tensorFromArray(new Float32Array([0.9, 0.8, 0.7]), [3]);
 * const idxs = tensorFromArray(new Int32Array([0, 1, 0]), [3]);
 * const { keep } = batchedNms(boxes, scores, idxs, 0.5, 2);
 * console.log(await keep.read()); // [0, 1, -1]
 * ```
 */
export function batchedNms(
  boxes: Tensor,
  scores: Tensor,
  idxs: Tensor,
  iouThreshold: number,
  numClasses: number,
  options: NmsOptions = {},
): NmsResult {
  return nmsCore("batchedNms", boxes, scores, idxs, numClasses, iouThreshold, options);
}

function nmsCore(
  op: string,
  boxes: Tensor,
  scores: Tensor,
  idxs: Tensor | undefined,
  classes: number,
  threshold: number,
  options: NmsOptions,
): NmsResult {
  boxes.check(op, "boxes");
  scores.check(op, "scores");
  assertDType(op, "boxes", boxes, ["f32"]);
  assertDType(op, "scores", scores, ["f32"]);
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) {
    throw new ShapeError(op, `boxes must be [R, 4] (x1, y1, x2, y2), got ${boxes.describe()}`);
  }
  const r = boxes.shape[0];
  const perBox = (name: string, t: Tensor | undefined, dtype: "i32" | "u32") => {
    if (!t) return;
    t.check(op, name);
    if (t.rank !== 1 || t.shape[0] !== r) {
      throw new ShapeError(op, `${name} ${t.describe()} must be [${r}] for boxes ${boxes.describe()}`);
    }
    assertDType(op, name, t, [dtype]);
  };
  if (scores.rank !== 1 || scores.shape[0] !== r) {
    throw new ShapeError(op, `scores ${scores.describe()} must be [${r}] for boxes ${boxes.describe()}`);
  }
  perBox("idxs", idxs, "i32");
  perBox("valid", options.valid, "u32");
  if (!Number.isFinite(threshold)) throw new ShapeError(op, `iouThreshold must be finite, got ${threshold}`);
  if (!Number.isInteger(classes) || classes < 1) {
    throw new ShapeError(op, `numClasses must be a positive integer, got ${classes}`);
  }
  const images = options.imageLengths ?? [r];
  if (images.length === 0 || images.some((n) => !Number.isInteger(n) || n < 0) || sum(images) !== r) {
    throw new ShapeError(op, `imageLengths [${images}] must sum to R of boxes ${boxes.describe()}`);
  }
  const longest = Math.max(...images);
  const maxOut = options.maxOut ?? Math.max(1, longest);
  if (!Number.isInteger(maxOut) || maxOut < 1) throw new ShapeError(op, `maxOut must be ≥ 1, got ${maxOut}`);
  const cap = Math.max(1, Math.min(options.maxPerSegment ?? longest, longest));
  if (cap > NMS_MAX_SEGMENT) {
    throw new LimitError(
      op,
      `${cap} boxes per segment > ${NMS_MAX_SEGMENT}; pass maxPerSegment (e.g. proposals per image)`,
    );
  }
  const words = Math.ceil(cap / 32);
  const numSegs = images.length * classes;
  const maskBytes = r * words * 4;
  if (maskBytes > boxes.gpu.limits.maxStorageBufferBindingSize || numSegs > 65535) {
    throw new LimitError(
      op,
      `IoU mask of ${r}×${words} words for ${numSegs} segments exceeds the device limits`,
    );
  }
  const kOut = Math.min(maxOut, longest);
  const result = r === 0 ? topkFlat(scores, 1, 0, images, 0) : tidy(() => {
    const segCount = fillInPlace(emptyTensor([numSegs], "u32"), 0);
    const segOf = emptyTensor([r], "u32");
    const groups = Math.ceil(r / WORKGROUP_1D);
    dispatch({ key: "nms/count", source: NMS_COUNT_WGSL }, {
      op,
      tensors: [
        ["valid", options.valid ?? scores],
        ["idxs", idxs ?? scores],
        [
          "images",
          segmentTable(images),
        ],
        ["segOf", segOf],
        ["segCount", segCount],
      ],
      params: params(["u32", r], ["u32", classes], ["u32", images.length], ["u32", options.valid ? 1 : 0], [
        "u32",
        idxs ? 1 : 0,
      ]),
      workgroups: groups,
    });
    const table = emptyTensor([numSegs, 4], "u32");
    dispatch({ key: "nms/scan", source: NMS_SCAN_WGSL }, {
      op,
      tensors: [["segCount", segCount], ["table", table]],
      params: params(["u32", numSegs]),
      workgroups: 1,
    });
    const items = emptyTensor([r], "u32");
    const keepFlag = emptyTensor([r], "u32");
    dispatch({ key: "nms/scatter", source: NMS_SCATTER_WGSL }, {
      op,
      tensors: [["segOf", segOf], ["table", table], ["items", items], ["keepFlag", keepFlag]],
      params: params(["u32", r]),
      workgroups: groups,
    });
    const sorted = emptyTensor([r], "i32");
    segmentedSort(scores, items, table, numSegs, sorted, emptyTensor([r], "f32"), r, 0, {
      kind: "flat",
      totalItems: r,
    });
    const sortedBoxes = emptyTensor([r, 4], "f32");
    dispatch({ key: "nms/gather", source: NMS_GATHER_WGSL }, {
      op,
      tensors: [["boxes", boxes], ["sorted", sorted], ["table", table], ["sortedBoxes", sortedBoxes]],
      params: params(["u32", r], ["u32", numSegs]),
      workgroups: groups,
    });
    const mask = emptyTensor([r * words], "u32");
    const chunks = Math.ceil(words / NMS_WORDS_PER_THREAD);
    dispatch({ key: "nms/mask", source: NMS_MASK_WGSL }, {
      op,
      tensors: [["sortedBoxes", sortedBoxes], ["table", table], ["mask", mask]],
      params: params(["u32", r], ["u32", numSegs], ["u32", cap], ["u32", words], ["u32", chunks], [
        "f32",
        threshold,
      ]),
      workgroups: Math.ceil(r * chunks / WORKGROUP_1D),
    });
    dispatch({ key: "nms/sweep", source: NMS_SWEEP_WGSL }, {
      op,
      tensors: [["sorted", sorted], ["table", table], ["mask", mask], ["keepFlag", keepFlag]],
      params: params(["u32", cap], ["u32", words]),
      workgroups: [numSegs, 1, 1],
    });
    return { ...topkFlat(scores, 1, r, images, kOut, keepFlag) };
  });
  const shape = options.imageLengths ? [images.length, kOut] : [kOut];
  return {
    keep: result.indices.reshape(shape),
    scores: result.values.reshape(shape),
    count: result.counts.reshape([options.imageLengths ? images.length : 1]),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
