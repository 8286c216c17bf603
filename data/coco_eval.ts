/**
 * COCO detection evaluation in TypeScript, the same as pycocotools' `COCOeval` for iouType "bbox" and
 * "segm" with default parameters: `evaluateCoco(groundTruth, results, { iouType })` gives pycocotools'
 * 12 summary numbers, per-category numbers, and the precision/recall arrays.
 *
 * The work is split like pycocotools': prepare (loadRes + _prepare + computeIoU, `coco_eval_prepare.ts`),
 * evaluateImg (`coco_eval_match.ts`), accumulate (`coco_eval_accumulate.ts`) and summarize
 * (`coco_eval_summary.ts`). Each file's header lists the pycocotools behaviours it keeps, quirks included,
 * so that results agree with pycocotools on the same inputs (checked against fixtures it wrote).
 * @module
 */
import { accumulate } from "./coco_eval_accumulate.ts";
import { matchCells } from "./coco_eval_match.ts";
import { prepareEval } from "./coco_eval_prepare.ts";
import { COCO_STAT_NAMES, summarizeStats } from "./coco_eval_summary.ts";
import {
  COCO_EVAL_PARAMS,
  type CocoGroundTruth,
  type CocoIouType,
  type CocoResult,
} from "./coco_eval_types.ts";
import { DataError } from "./errors.ts";

export { formatCocoSummary } from "./coco_eval_summary.ts";
export { COCO_EVAL_PARAMS } from "./coco_eval_types.ts";
export type {
  CocoGroundTruth,
  CocoGtAnnotation,
  CocoGtCategory,
  CocoGtImage,
  CocoIouType,
  CocoResult,
} from "./coco_eval_types.ts";

/** Options of `evaluateCoco`. */
export interface CocoEvalOptions {
  /** "bbox" measures IoU on `bbox` boxes, "segm" on segmentation masks. */
  iouType: CocoIouType;
}

/** The 12 COCO numbers of one category (-1 where undefined, e.g. no ground truth of that size). */
export interface CocoCategoryStats {
  categoryId: number;
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

/** What `evaluateCoco` returns. */
export interface CocoEvalResult {
  /** pycocotools' `COCOeval.stats`: AP, AP50, AP75, AP small/medium/large, AR@1/10/100, AR small/medium/large. */
  stats: number[];
  /** The same 12 numbers per category, in ascending category id order. */
  perCategory: CocoCategoryStats[];
  /** Category ids in the order of the K axis. */
  categoryIds: number[];
  /** `[T, R, K, A, M]`: IoU thresholds, recall points, categories, area ranges, maxDets. */
  counts: [number, number, number, number, number];
  /** pycocotools' `eval['precision']`, row-major `[T][R][K][A][M]`, -1 where undefined. */
  precision: Float64Array;
  /** pycocotools' `eval['recall']`, row-major `[T][K][A][M]`, -1 where undefined. */
  recall: Float64Array;
}

/**
 * Evaluates COCO-format detections against a COCO instances ground truth, like pycocotools
 * (`loadRes`, `COCOeval(gt, dt, iouType)`, `evaluate()`, `accumulate()`, `summarize()`).
 *
 * `groundTruth` is the parsed instances JSON (images, annotations, categories); `results` the COCO
 * results array (`image_id`, `category_id`, `bbox` xywh, `score`, `segmentation` as compressed RLE for
 * segm). Throws an `Error` naming the result index or annotation id at fault, e.g. for a result on an image
 * the ground truth does not have.
 *
 * @example
 * ```ts
 * import { evaluateCoco, formatCocoSummary } from "./coco_eval.ts";
 * const gt = {
 *   images: [{ id: 1, height: 100, width: 100 }],
 *   categories: [{ id: 1, name: "cat" }],
 *   annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 40, 40], area: 1600, iscrowd: 0 }],
 * };
 * const results = [{ image_id: 1, category_id: 1, bbox: [12, 10, 40, 40], score: 0.9 }];
 * const { stats, perCategory } = evaluateCoco(gt, results, { iouType: "bbox" });
 * console.log(formatCocoSummary(stats, "bbox"));
 * console.log(perCategory[0].ap50); // 0.9999999999999999 (precision is tp / (tp + fp + ε), as in pycocotools)
 * ```
 */
export function evaluateCoco(
  groundTruth: CocoGroundTruth,
  results: readonly CocoResult[],
  options: CocoEvalOptions,
): CocoEvalResult {
  const iouType = options?.iouType;
  if (iouType !== "bbox" && iouType !== "segm") {
    throw new DataError(
      "bad-eval-input",
      `evaluateCoco: options.iouType must be "bbox" or "segm", got ${JSON.stringify(iouType)}`,
      { file: "" },
    );
  }
  const { iouThrs, recThrs, maxDets, areaRanges } = COCO_EVAL_PARAMS;
  const prep = prepareEval(groundTruth, results, iouType, maxDets[maxDets.length - 1]);
  const match = matchCells(prep, iouThrs, areaRanges);
  const acc = accumulate(prep, match, iouThrs.length, areaRanges.length, recThrs, maxDets);
  const perCategory = prep.catIds.map((categoryId, k) => {
    const s = summarizeStats(acc, k);
    const entry = { categoryId } as CocoCategoryStats;
    COCO_STAT_NAMES.forEach((name, i) => entry[name] = s[i]);
    return entry;
  });
  return {
    stats: summarizeStats(acc),
    perCategory,
    categoryIds: prep.catIds,
    counts: acc.counts,
    precision: acc.precision,
    recall: acc.recall,
  };
}
