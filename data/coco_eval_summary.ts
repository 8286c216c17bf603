/**
 * Last stage of the COCO evaluator: pycocotools' `COCOeval.summarize` — the 12 AP/AR numbers, per dataset
 * or per category — and its printed 12-line summary.
 *
 * Each number is the mean of the precision (or recall) entries of its slice that are > -1, or -1 when
 * there are none. The text follows pycocotools' format string
 * `' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'`; Python rounds `{:0.3f}` half
 * to even on exact binary ties (0.0625 → "0.062") where JS `toFixed` rounds up, so ties are handled here.
 * @module
 */
import type { Accumulated } from "./coco_eval_accumulate.ts";
import { COCO_EVAL_PARAMS, type CocoIouType } from "./coco_eval_types.ts";
import { DataError } from "./errors.ts";

/** What each of the 12 numbers is: AP or AR, IoU threshold (undefined = all), area label, maxDets. */
const STAT_SPECS: readonly { ap: boolean; iou?: number; area: string; maxDets: number }[] = [
  { ap: true, area: "all", maxDets: 100 },
  { ap: true, iou: 0.5, area: "all", maxDets: 100 },
  { ap: true, iou: 0.75, area: "all", maxDets: 100 },
  { ap: true, area: "small", maxDets: 100 },
  { ap: true, area: "medium", maxDets: 100 },
  { ap: true, area: "large", maxDets: 100 },
  { ap: false, area: "all", maxDets: 1 },
  { ap: false, area: "all", maxDets: 10 },
  { ap: false, area: "all", maxDets: 100 },
  { ap: false, area: "small", maxDets: 100 },
  { ap: false, area: "medium", maxDets: 100 },
  { ap: false, area: "large", maxDets: 100 },
];

/**
 * The 12 summary numbers from accumulated precision/recall, over all categories or only category index
 * `k` (an index into the sorted category ids).
 *
 * @example
 * ```ts
 * import { summarizeStats } from "./coco_eval_summary.ts";
 * const acc = {
 *   counts: [10, 101, 1, 4, 3] as [number, number, number, number, number],
 *   precision: new Float64Array(10 * 101 * 4 * 3).fill(0.5),
 *   recall: new Float64Array(10 * 4 * 3).fill(0.75),
 * };
 * console.log(summarizeStats(acc)); // [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.75, …]
 * ```
 */
export function summarizeStats(acc: Accumulated, k?: number): number[] {
  const [, R, K, A, M] = acc.counts;
  const { iouThrs, areaLabels, maxDets } = COCO_EVAL_PARAMS;
  return STAT_SPECS.map((spec) => {
    // pycocotools finds thresholds and slices by equality; a missing one gives an empty slice (-1).
    const ts = spec.iou === undefined
      ? iouThrs.map((_, t) => t)
      : iouThrs.flatMap((v, t) => v === spec.iou ? [t] : []);
    const a = areaLabels.indexOf(spec.area), m = maxDets.indexOf(spec.maxDets);
    const ks = k === undefined ? Array.from({ length: K }, (_, i) => i) : [k];
    let sum = 0, n = 0;
    for (const t of ts) {
      for (const kk of ks) {
        if (spec.ap) {
          for (let r = 0; r < R; r++) {
            const v = acc.precision[(((t * R + r) * K + kk) * A + a) * M + m];
            if (v > -1) {
              sum += v;
              n++;
            }
          }
        } else {
          const v = acc.recall[((t * K + kk) * A + a) * M + m];
          if (v > -1) {
            sum += v;
            n++;
          }
        }
      }
    }
    return n === 0 ? -1 : sum / n;
  });
}

/** Python's `'{:0.3f}'.format(x)`: like toFixed(3), but exact binary ties round half to even. */
function pyFixed3(x: number): string {
  if (Number.isInteger(x * 16)) { // only multiples of 1/16 can sit exactly halfway between thousandths
    const scaled = x * 1000; // exact for multiples of 1/16 in range
    const floor = Math.floor(scaled);
    if (scaled - floor === 0.5) {
      const even = floor % 2 === 0 ? floor : floor + 1;
      return (even / 1000).toFixed(3);
    }
  }
  return x.toFixed(3);
}

/**
 * pycocotools' printed summary for the 12 stats, exactly as `COCOeval.summarize()` prints it: 12 lines
 * joined by "\n", no trailing newline (so `console.log` prints the same bytes as pycocotools).
 *
 * @example
 * ```ts
 * import { formatCocoSummary } from "./coco_eval_summary.ts";
 * const text = formatCocoSummary([0.5, 0.7, 0.55, 0.3, 0.5, 0.6, 0.4, 0.6, 0.62, 0.4, 0.6, 0.7], "bbox");
 * console.log(text.split("\n")[0]);
 * // " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500"
 * ```
 */
export function formatCocoSummary(stats: readonly number[], iouType: CocoIouType): string {
  if (iouType !== "bbox" && iouType !== "segm") {
    throw new DataError(
      "bad-argument",
      `formatCocoSummary: iouType must be "bbox" or "segm", got ${JSON.stringify(iouType)}`,
      { file: "" },
    );
  }
  if (!Array.isArray(stats) || stats.length !== 12) {
    throw new DataError(
      "bad-argument",
      `formatCocoSummary: stats must hold the 12 COCO numbers, got ${stats?.length}`,
      { file: "" },
    );
  }
  return STAT_SPECS.map((spec, i) => {
    const title = (spec.ap ? "Average Precision" : "Average Recall").padEnd(18);
    const type = spec.ap ? "(AP)" : "(AR)";
    const iou = (spec.iou === undefined ? "0.50:0.95" : spec.iou.toFixed(2)).padEnd(9);
    const area = spec.area.padStart(6);
    const maxDets = String(spec.maxDets).padStart(3);
    return ` ${title} ${type} @[ IoU=${iou} | area=${area} | maxDets=${maxDets} ] = ${pyFixed3(stats[i])}`;
  }).join("\n");
}

/** Names of the 12 numbers, in pycocotools' order, as used for per-category results. */
export const COCO_STAT_NAMES = [
  "ap",
  "ap50",
  "ap75",
  "apSmall",
  "apMedium",
  "apLarge",
  "ar1",
  "ar10",
  "ar100",
  "arSmall",
  "arMedium",
  "arLarge",
] as const;
