/**
 * Second stage of the COCO evaluator: pycocotools' `COCOeval.evaluateImg` for every cell, area range and
 * IoU threshold — greedy matching of detections (best score first) to ground truths.
 *
 * Per area range a ground truth is ignored if it is a crowd or its `area` lies outside the range
 * (inclusive bounds); ignored ground truths are moved last with a stable sort. Each detection takes the
 * unmatched ground truth (crowds may be matched again) with the highest IoU ≥ threshold, scanning in that
 * order and stopping at the first ignored gt once it holds a match to a regular one; ties keep the later
 * gt, as pycocotools' `<` test does. A detection matched to an ignored gt, or unmatched and outside the
 * area range, is ignored.
 *
 * Decision: the outcome per (area, threshold, slot) is one byte — 0 false positive, 1 true positive,
 * 2 ignored — which is all `accumulate` reads. pycocotools marks a match by storing the gt id, so a match
 * to a gt whose id is 0 counts as unmatched there; that quirk is kept.
 * @module
 */
import type { PreparedEval } from "./coco_eval_prepare.ts";

/** Outcome codes per (area, threshold, slot). */
export const FALSE_POSITIVE = 0, TRUE_POSITIVE = 1, IGNORED = 2;

/** The matching outcome: `codes[(a * T + t) * slots + slot]`, and non-ignored gt counts `npig[c * A + a]`. */
export interface MatchResult {
  codes: Uint8Array;
  npig: Int32Array;
}

/**
 * Runs pycocotools' evaluateImg matching over all cells.
 *
 * @example
 * ```ts
 * import { prepareEval } from "./coco_eval_prepare.ts";
 * import { matchCells } from "./coco_eval_match.ts";
 * const gt = {
 *   images: [{ id: 1, height: 10, width: 10 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 4, 4], area: 16, iscrowd: 0 }],
 * };
 * const prep = prepareEval(gt, [{ image_id: 1, category_id: 1, bbox: [0, 0, 4, 3], score: 0.9 }], "bbox", 100);
 * const { codes } = matchCells(prep, [0.5, 0.8], [[0, 1e10]]);
 * console.log(codes); // Uint8Array [1, 0]  (IoU 0.75: a match at 0.5, a false positive at 0.8)
 * ```
 */
export function matchCells(
  prep: PreparedEval,
  iouThrs: readonly number[],
  areaRanges: readonly (readonly [number, number])[],
): MatchResult {
  const T = iouThrs.length, A = areaRanges.length;
  const nCells = prep.cellCat.length;
  const slots = prep.dtScore.length;
  const codes = new Uint8Array(A * T * slots);
  const npig = new Int32Array(nCells * A);
  const { cellGtStart, cellDtStart, cellIouStart, gtArea, gtCrowd, gtId, dtArea, ious } = prep;
  let maxG = 0;
  for (let c = 0; c < nCells; c++) maxG = Math.max(maxG, cellGtStart[c + 1] - cellGtStart[c]);
  const perm = new Int32Array(maxG), ign = new Uint8Array(maxG), crowd = new Uint8Array(maxG);
  const nonzeroId = new Uint8Array(maxG), taken = new Uint8Array(maxG);

  for (let c = 0; c < nCells; c++) {
    const g0 = cellGtStart[c], G = cellGtStart[c + 1] - g0;
    const d0 = cellDtStart[c], D = cellDtStart[c + 1] - d0;
    const iou0 = cellIouStart[c];
    for (let a = 0; a < A; a++) {
      const lo = areaRanges[a][0], hi = areaRanges[a][1];
      // Stable partition: regular gts first, then ignored ones.
      let n = 0;
      for (let pass = 0; pass < 2; pass++) {
        for (let g = 0; g < G; g++) {
          const ar = gtArea[g0 + g];
          const ignored = gtCrowd[g0 + g] !== 0 || ar < lo || ar > hi ? 1 : 0;
          if (ignored !== pass) continue;
          perm[n] = g;
          ign[n] = ignored;
          crowd[n] = gtCrowd[g0 + g];
          nonzeroId[n] = gtId[g0 + g] !== 0 ? 1 : 0;
          n++;
        }
      }
      let regular = 0;
      for (let i = 0; i < G; i++) regular += 1 - ign[i];
      npig[c * A + a] = regular;
      for (let t = 0; t < T; t++) {
        const thr = Math.min(iouThrs[t], 1 - 1e-10);
        const base = (a * T + t) * slots + d0;
        taken.fill(0, 0, G);
        for (let d = 0; d < D; d++) {
          let best = thr, m = -1;
          const row = iou0 + d * G;
          for (let i = 0; i < G; i++) {
            if (taken[i] !== 0 && crowd[i] === 0) continue;
            if (m > -1 && ign[m] === 0 && ign[i] === 1) break;
            const v = ious[row + perm[i]];
            if (v < best) continue;
            best = v;
            m = i;
          }
          const outside = dtArea[d0 + d] < lo || dtArea[d0 + d] > hi;
          let code: number;
          if (m === -1) code = outside ? IGNORED : FALSE_POSITIVE;
          else {
            taken[m] = 1;
            const matched = nonzeroId[m] === 1;
            code = ign[m] === 1 || (!matched && outside) ? IGNORED : matched ? TRUE_POSITIVE : FALSE_POSITIVE;
          }
          codes[base + d] = code;
        }
      }
    }
  }
  return { codes, npig };
}
