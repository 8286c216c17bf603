/**
 * Top-k per segment on the GPU, like `torch.topk(x, k)` along the last axis (sorted, largest first), for
 * the RPN's per-level candidate selection and for ordering NMS survivors. Fixed-capacity outputs with a
 * count per segment; nothing is read back.
 *
 * Decisions: a radix select (4 passes of 8-bit digits over order-preserving u32 keys of the scores) finds
 * the k-th largest key of every segment in O(L) work with workgroup-local histograms; a compaction writes
 * the selected indices, and a segmented sort (`ops/sort.ts`) orders the ≤ k survivors by (score desc, index asc). With no ties
 * this equals torch.topk; among exactly equal scores at the threshold the ones taken are arbitrary (they
 * are then ordered by index). Invalid entries (mask 0) are excluded; k clamps to each segment's valid count.
 * NaN scores are not supported.
 * @module
 */
import {
  TOPK_CHUNK,
  TOPK_COMPACT_WGSL,
  TOPK_HISTOGRAM_WGSL,
  TOPK_SELECT_WGSL,
  TOPK_WORKGROUP,
} from "../shaders/topk.wgsl.ts";
import { fillInPlace } from "./elementwise.ts";
import { ShapeError } from "./errors.ts";
import { currentGpu, type GpuContext } from "./gpu.ts";
import { rangeView } from "./binding_chunks.ts";
import { dispatch, params } from "./kernel.ts";
import { segmentedSort } from "./sort.ts";
import { emptyTensor, keep, type Tensor, tensorFromArray, tidy } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/** Options of {@link topk}. */
export interface TopkOptions {
  /** Lengths of consecutive segments of each row (sum = L), e.g. anchors per FPN level; default `[L]`. */
  segments?: readonly number[];
  /** u32 `[B, L]` (or `[L]`): 1 = valid, 0 = excluded. */
  valid?: Tensor;
}

/** Result of {@link topk}. */
export interface TopkResult {
  /** i32 indices within the row (segment offset included), best first, -1 padded. */
  indices: Tensor;
  /** f32 scores at `indices`, -inf padded. */
  values: Tensor;
  /** u32 number of valid entries per segment: min(k, valid elements of the segment). */
  counts: Tensor;
}

const tables = new WeakMap<GpuContext, Map<string, Tensor>>();

/**
 * A cached u32 `[n, 2]` table of (offset, length) pairs of consecutive segments; uploaded once per distinct
 * list of lengths (the tensor is kept alive for reuse: do not dispose it).
 *
 * @example
 * ```ts
 * import { getGpu } from "./mod.ts";
 * import { segmentTable } from "./topk.ts";
 * await getGpu();
 * console.log(await segmentTable([3, 5]).read()); // [0, 3, 3, 5]
 * ```
 */
export function segmentTable(lengths: readonly number[]): Tensor {
  const gpu = currentGpu();
  let cache = tables.get(gpu);
  if (!cache) tables.set(gpu, cache = new Map());
  const key = lengths.join(",");
  let table = cache.get(key);
  if (!table || table.disposed) {
    const data = new Uint32Array(Math.max(2, lengths.length * 2));
    let offset = 0;
    lengths.forEach((len, i) => {
      data[2 * i] = offset;
      data[2 * i + 1] = len;
      offset += len;
    });
    table = keep(tensorFromArray(data, [data.length / 2, 2]));
    cache.set(key, table);
  }
  return table;
}

/**
 * The k largest scores of each segment of each row, sorted descending.
 * scores: `[B, L]` (or `[L]`) f32 → indices `[B, S, kOut]` i32 / values `[B, S, kOut]` f32 / counts `[B, S]`
 * u32 when `segments` is given, else `[B, kOut]` / `[B, kOut]` / `[B]` (`[kOut]`, `[kOut]`, `[1]` for 1-D
 * scores); kOut = min(k, longest segment). Indices count from the row start, like torchvision's
 * `topk(...)[1] + offset` per level.
 *
 * @example Top 2 of two rows
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { topk } from "./topk.ts";
 * await getGpu();
 * const scores = tensorFromArray(new Float32Array([0.1, 0.9, 0.5, 3, 1, 2]), [2, 3]);
 * const { indices, counts } = topk(scores, 2);
 * console.log(await indices.read(), await counts.read()); // [1, 2, 0, 2], [2, 2]
 * ```
 */
export function topk(scores: Tensor, k: number, options: TopkOptions = {}): TopkResult {
  const op = "topk";
  scores.check(op, "scores");
  assertDType(op, "scores", scores, ["f32"]);
  if (scores.rank !== 1 && scores.rank !== 2) {
    throw new ShapeError(op, `scores must be [B, L] or [L], got ${scores.describe()}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new ShapeError(op, `k must be a positive integer, got ${k}`);
  const [rows, rowLen] = scores.rank === 2 ? scores.shape : [1, scores.shape[0]];
  const segments = options.segments ?? [rowLen];
  if (
    segments.length === 0 || segments.some((s) => !Number.isInteger(s) || s < 0) ||
    segments.reduce((a, b) => a + b, 0) !== rowLen
  ) {
    throw new ShapeError(
      op,
      `segments [${segments}] must be lengths summing to L of scores ${scores.describe()}`,
    );
  }
  const valid = options.valid;
  if (valid) {
    valid.check(op, "valid");
    assertDType(op, "valid", valid, ["u32"]);
    if (valid.size !== scores.size || valid.rank !== scores.rank) {
      throw new ShapeError(op, `valid ${valid.describe()} must match scores ${scores.describe()}`);
    }
  }
  const kOut = Math.min(k, Math.max(...segments));
  const shapeOut = options.segments ? [rows, segments.length] : scores.rank === 2 ? [rows] : [];
  const result = topkFlat(scores, rows, rowLen, segments, kOut, valid);
  return {
    indices: result.indices.reshape([...shapeOut, kOut]),
    values: result.values.reshape([...shapeOut, kOut]),
    counts: result.counts.reshape(shapeOut.length ? shapeOut : [1]),
  };
}

/**
 * The core of {@link topk} without argument checks (used by NMS): rows × segments flattened into
 * G = rows·S segments; kOut must not exceed the longest segment. Returns indices / values `[G·kOut]` and
 * counts `[G]` (u32).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { topkFlat } from "./topk.ts";
 * await getGpu();
 * const scores = tensorFromArray(new Float32Array([0.5, 0.2, 0.9, 0.1]), [4]);
 * const { indices } = topkFlat(scores, 1, 4, [2, 2], 1);
 * console.log(await indices.read()); // [0, 2]
 * ```
 */
export function topkFlat(
  scores: Tensor,
  rows: number,
  rowLen: number,
  segments: readonly number[],
  kOut: number,
  valid?: Tensor,
): TopkResult {
  const numSegs = rows * segments.length;
  const indices = emptyTensor([numSegs * kOut], "i32");
  const values = emptyTensor([numSegs * kOut], "f32");
  const counts = emptyTensor([numSegs], "u32");
  if (kOut === 0 || numSegs === 0) {
    fillInPlace(counts, 0);
    return { indices, values, counts };
  }
  tidy(() => {
    const segs = segmentTable(segments);
    const table = emptyTensor([numSegs, 4], "u32");
    // the 4 passes' histograms and the compaction counters, zeroed by one fill
    const histSize = 4 * numSegs * TOPK_WORKGROUP;
    const scratch = fillInPlace(emptyTensor([histSize + 2 * numSegs], "u32"), 0);
    const hist = rangeView(scratch, 0, 4, histSize);
    const counters = rangeView(scratch, histSize, 4, 2 * numSegs);
    const cand = emptyTensor([numSegs * kOut], "u32");
    const chunks = Math.max(1, Math.ceil(Math.max(...segments) / TOPK_CHUNK));
    const maskBinding = valid ?? scores; // unused when hasValid = 0
    const scan = (pass: number) =>
      params(["u32", rowLen], ["u32", segments.length], ["u32", pass], ["u32", valid ? 1 : 0]);
    for (let pass = 0; pass < 4; pass++) {
      dispatch({ key: "topk/histogram", source: TOPK_HISTOGRAM_WGSL }, {
        op: "topk",
        tensors: [["scores", scores], ["valid", maskBinding], ["segments", segs], ["table", table], [
          "hist",
          hist,
        ]],
        params: scan(pass),
        workgroups: [chunks, numSegs, 1],
      });
      dispatch({ key: "topk/select", source: TOPK_SELECT_WGSL }, {
        op: "topk",
        tensors: [["hist", hist], ["table", table]],
        params: params(["u32", kOut], ["u32", segments.length], ["u32", pass], ["u32", numSegs]),
        workgroups: [numSegs, 1, 1],
      });
    }
    dispatch({ key: "topk/compact", source: TOPK_COMPACT_WGSL }, {
      op: "topk",
      tensors: [
        ["scores", scores],
        ["valid", maskBinding],
        ["segments", segs],
        ["table", table],
        [
          "counters",
          counters,
        ],
        ["candidates", cand],
        ["counts", counts],
      ],
      params: scan(0),
      workgroups: [chunks, numSegs, 1],
    });
    segmentedSort(scores, cand, table, numSegs, indices, values, rowLen, kOut, {
      kind: "per-segment",
      maxCount: kOut,
    });
    return null;
  });
  return { indices, values, counts };
}
