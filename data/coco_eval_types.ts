/**
 * Types and fixed parameters of the COCO evaluator: the COCO instances JSON and results shapes, and
 * pycocotools' default `Params` for bbox/segm (IoU thresholds .50:.05:.95, 101 recall points, maxDets
 * 1/10/100, area ranges all/small/medium/large).
 *
 * Decision: the thresholds are computed the way numpy's `linspace` computes them (i·step + start, last
 * element set to stop) so they are the same doubles as pycocotools', bit for bit; the tests compare them
 * with the values pycocotools wrote into the fixture.
 * @module
 */
import type { CocoSegmentation } from "./polygon.ts";

/** One `images` entry of a COCO instances file (only `id`, `height` and `width` are used). */
export interface CocoGtImage {
  id: number;
  height: number;
  width: number;
  [key: string]: unknown;
}

/** One `annotations` entry of a COCO instances file. `area` is used as is for the area ranges. */
export interface CocoGtAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox?: number[];
  area: number;
  iscrowd?: number | boolean;
  segmentation?: CocoSegmentation;
  [key: string]: unknown;
}

/** One `categories` entry of a COCO instances file. */
export interface CocoGtCategory {
  id: number;
  name?: string;
  [key: string]: unknown;
}

/** A parsed COCO instances JSON file (ground truth). */
export interface CocoGroundTruth {
  images: CocoGtImage[];
  annotations: CocoGtAnnotation[];
  categories: CocoGtCategory[];
  [key: string]: unknown;
}

/** One detection in COCO results format: `bbox` is `[x, y, w, h]`; `segmentation` normally a compressed RLE. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  score: number;
  bbox?: number[];
  segmentation?: CocoSegmentation;
}

/** What the IoU is measured on: boxes or masks. */
export type CocoIouType = "bbox" | "segm";

/** numpy.linspace(start, stop, num) with endpoint=True, the same doubles numpy returns. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * pycocotools' default evaluation parameters for bbox and segm.
 *
 * @example
 * ```ts
 * import { COCO_EVAL_PARAMS } from "./coco_eval_types.ts";
 * console.log(COCO_EVAL_PARAMS.iouThrs.length, COCO_EVAL_PARAMS.recThrs.length); // 10 101
 * ```
 */
export const COCO_EVAL_PARAMS: {
  readonly iouThrs: readonly number[];
  readonly recThrs: readonly number[];
  readonly maxDets: readonly number[];
  readonly areaRanges: readonly (readonly [number, number])[];
  readonly areaLabels: readonly string[];
} = Object.freeze({
  iouThrs: Object.freeze(linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1)),
  recThrs: Object.freeze(linspace(0, 1, Math.round(1 / 0.01) + 1)),
  maxDets: Object.freeze([1, 10, 100]),
  areaRanges: Object.freeze([
    Object.freeze([0, 1e5 ** 2] as const),
    Object.freeze([0, 32 ** 2] as const),
    Object.freeze([32 ** 2, 96 ** 2] as const),
    Object.freeze([96 ** 2, 1e5 ** 2] as const),
  ]),
  areaLabels: Object.freeze(["all", "small", "medium", "large"]),
});
