/**
 * Third stage of the COCO evaluator: pycocotools' `COCOeval.accumulate` — precision at 101 recall points
 * and final recall, per (IoU threshold, category, area range, maxDets).
 *
 * For each category and maxDets, every image's first maxDets detections are concatenated in image order
 * and sorted by descending score with a stable sort (numpy mergesort), so equal scores keep image order.
 * Running true/false positive counts give recall tp/npig and precision tp/(tp+fp+ε) (ε = numpy's
 * spacing(1)); precision is made non-increasing from the right and read at the first index whose recall
 * reaches each recall threshold (numpy searchsorted, side left), 0 past the end. Combinations without
 * cells or without any non-ignored ground truth stay -1.
 *
 * Decision: the score order of a (category, maxDets) pair does not depend on the area range, so it is
 * sorted once and reused for the four ranges.
 * @module
 */
import type { PreparedEval } from "./coco_eval_prepare.ts";
import { FALSE_POSITIVE, type MatchResult, TRUE_POSITIVE } from "./coco_eval_match.ts";

/** numpy.spacing(1): the gap between 1 and the next double. */
const EPS = 2.220446049250313e-16;

/**
 * Precision `[T][R][K][A][M]` and recall `[T][K][A][M]` as flat row-major arrays, -1 where undefined.
 */
export interface Accumulated {
  /** `[T, R, K, A, M]`: thresholds, recall points, categories, area ranges, maxDets. */
  counts: [number, number, number, number, number];
  precision: Float64Array;
  recall: Float64Array;
}

/**
 * Runs pycocotools' accumulate over matched cells.
 *
 * @example
 * ```ts
 * import { prepareEval } from "./coco_eval_prepare.ts";
 * import { matchCells } from "./coco_eval_match.ts";
 * import { accumulate } from "./coco_eval_accumulate.ts";
 * const gt = {
 *   images: [{ id: 1, height: 10, width: 10 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 4, 4], area: 16, iscrowd: 0 }],
 * };
 * const prep = prepareEval(gt, [{ image_id: 1, category_id: 1, bbox: [0, 0, 4, 3], score: 0.9 }], "bbox", 100);
 * const acc = accumulate(prep, matchCells(prep, [0.5], [[0, 1e10]]), 1, 1, [0, 0.5, 1], [100]);
 * console.log(acc.precision, acc.recall); // Float64Array [0.9999999999999998, …] Float64Array [1]  (tp / (tp + fp + ε))
 * ```
 */
export function accumulate(
  prep: PreparedEval,
  match: MatchResult,
  T: number,
  A: number,
  recThrs: readonly number[],
  maxDets: readonly number[],
): Accumulated {
  const R = recThrs.length, K = prep.catIds.length, M = maxDets.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const { catCellStart, cellDtStart, dtScore } = prep;
  const { codes, npig } = match;
  const slots = dtScore.length;
  const all = new Int32Array(slots), order = new Int32Array(slots);
  const rc = new Float64Array(slots), pr = new Float64Array(slots);
  // Rank of each slot within its cell (slots of a cell are already best score first).
  const rank = new Int32Array(slots);
  for (let c = 0; c < cellDtStart.length - 1; c++) {
    for (let s = cellDtStart[c]; s < cellDtStart[c + 1]; s++) rank[s] = s - cellDtStart[c];
  }

  for (let k = 0; k < K; k++) {
    const c0 = catCellStart[k], c1 = catCellStart[k + 1];
    if (c0 === c1) continue;
    // One stable sort per category (score desc, then slot = image order); the maxDets subsets keep this
    // order, since a stable sort of a subsequence is the subsequence of the stable sort.
    const s0 = cellDtStart[c0], nAll = cellDtStart[c1] - s0;
    for (let i = 0; i < nAll; i++) all[i] = s0 + i;
    const sortedAll = all.subarray(0, nAll).sort((x, y) => dtScore[y] - dtScore[x] || x - y);
    for (let m = 0; m < M; m++) {
      let nd = 0;
      for (let i = 0; i < nAll; i++) if (rank[sortedAll[i]] < maxDets[m]) order[nd++] = sortedAll[i];
      const sorted = order;
      for (let a = 0; a < A; a++) {
        let np = 0;
        for (let c = c0; c < c1; c++) np += npig[c * A + a];
        if (np === 0) continue;
        for (let t = 0; t < T; t++) {
          const base = (a * T + t) * slots;
          let tp = 0, fp = 0;
          for (let i = 0; i < nd; i++) {
            const code = codes[base + sorted[i]];
            if (code === TRUE_POSITIVE) tp++;
            else if (code === FALSE_POSITIVE) fp++;
            rc[i] = tp / np;
            pr[i] = tp / (fp + tp + EPS);
          }
          recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          let p = 0;
          for (let r = 0; r < R; r++) {
            while (p < nd && rc[p] < recThrs[r]) p++;
            precision[(((t * R + r) * K + k) * A + a) * M + m] = p < nd ? pr[p] : 0;
          }
        }
      }
    }
  }
  return { counts: [T, R, K, A, M], precision, recall };
}
