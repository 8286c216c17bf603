/**
 * Evaluation of a model on in-memory items for `train --val` and `demo`: {@link cocoGroundTruth} turns
 * items (image + target boxes, labels, masks) into a COCO ground-truth object (bbox xywh, area = mask area
 * or box area, iscrowd 0, RLE segmentation, categories 1..C−1 = the labels), {@link evaluateItems} runs
 * the public `detect` over them in batches, converts the detections with `toCocoResults` (label =
 * category id) and returns COCO AP@0.5 (and AP@[.5:.95]) for boxes and, with a mask head, masks.
 *
 * Decision: the ground truth is rebuilt from the same targets the model trains on (for COCO data this
 * leaves crowd regions out, so the numbers are close to, not equal to, the official evaluation).
 * @module
 */
import {
  type CocoGroundTruth,
  type CocoResultEntry,
  detect,
  type Detection,
  evaluateCoco,
  type MaskRcnnModel,
  rleEncode,
  toCocoResults,
  type TrainItem,
} from "../mod.ts";

/** One ground-truth annotation of a COCO instances file. */
type CocoGtAnnotation = CocoGroundTruth["annotations"][number];

/** Box and mask AP of one evaluation (mask values are null without a mask head). */
export interface EvalSummary {
  /** COCO bbox AP at IoU 0.5. */
  boxAP50: number;
  /** COCO bbox AP averaged over IoU 0.5:0.95. */
  boxAP: number;
  /** COCO segm AP at IoU 0.5 (null without masks). */
  maskAP50: number | null;
  /** COCO segm AP averaged over IoU 0.5:0.95 (null without masks). */
  maskAP: number | null;
  /** Images evaluated. */
  images: number;
  /** Detections kept. */
  detections: number;
  /** Wall time of detection and evaluation, ms. */
  ms: number;
}

/**
 * A COCO ground truth for `items` (image id = index in `items`); categories are labels 1..numClasses−1.
 *
 * @example
 * ```ts
 * import { cocoGroundTruth } from "./_evaluate.ts";
 * import { generateShapesItem } from "../mod.ts";
 * const gt = cocoGroundTruth([generateShapesItem(1)], ["background", "square", "circle", "triangle"]);
 * console.log(gt.categories.length, gt.annotations.length > 0); // 3 true
 * ```
 */
export function cocoGroundTruth(
  items: readonly TrainItem[],
  classNames: readonly string[],
): CocoGroundTruth {
  const annotations: CocoGtAnnotation[] = [];
  items.forEach(({ image, target }, imageId) => {
    const { width, height } = image;
    const plane = width * height;
    for (let k = 0; k < target.labels.length; k++) {
      const [x1, y1, x2, y2] = target.boxes.subarray(4 * k, 4 * k + 4);
      const ann: CocoGtAnnotation = {
        id: annotations.length + 1,
        image_id: imageId,
        category_id: target.labels[k],
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: (x2 - x1) * (y2 - y1),
        iscrowd: 0,
      };
      if (target.masks) {
        const mask = target.masks.subarray(k * plane, (k + 1) * plane);
        let area = 0;
        for (let i = 0; i < plane; i++) area += mask[i];
        ann.area = area;
        ann.segmentation = rleEncode(mask, height, width);
      }
      annotations.push(ann);
    }
  });
  return {
    images: items.map(({ image }, id) => ({ id, width: image.width, height: image.height })),
    annotations,
    categories: classNames.slice(1).map((name, i) => ({ id: i + 1, name })),
  };
}

/**
 * Detects on `items` (batches of `batch` same-size images) and evaluates boxes and masks with
 * `evaluateCoco`. Also returns the detections, for overlays.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel, initWeights, SHAPES_CLASS_NAMES, ShapesDataset } from "../mod.ts";
 * import { evaluateItems } from "./_evaluate.ts";
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTest: 50,
 *   rpnPostNmsTopNTest: 20,
 *   boxDetectionsPerImg: 5,
 * });
 * initWeights(model, { seed: 1 });
 * const items = [new ShapesDataset({ count: 1, width: 64, height: 64 }).item(0)];
 * const { summary, detections } = await evaluateItems(model, items, SHAPES_CLASS_NAMES);
 * assert.strictEqual(summary.images, 1);
 * assert.strictEqual(detections.length, 1);
 * assert.ok(summary.boxAP50 >= 0 && summary.boxAP50 <= 1); // an untrained model scores near 0
 * ```
 */
export async function evaluateItems(
  model: MaskRcnnModel,
  items: readonly TrainItem[],
  classNames: readonly string[],
  options: { batch?: number } = {},
): Promise<{ summary: EvalSummary; detections: Detection[] }> {
  const start = performance.now();
  const batch = options.batch ?? 8;
  const detections: Detection[] = [];
  for (let i = 0; i < items.length;) {
    const first = items[i].image;
    let j = i + 1;
    while (
      j < items.length && j - i < batch && items[j].image.width === first.width &&
      items[j].image.height === first.height
    ) j++;
    detections.push(...await detect(model, items.slice(i, j).map((it) => it.image)));
    i = j;
  }
  const gt = cocoGroundTruth(items, classNames);
  const boxResults: CocoResultEntry[] = [];
  const maskResults: CocoResultEntry[] = [];
  detections.forEach((d, id) => {
    const entries = toCocoResults(id, d, (label) => label);
    maskResults.push(...entries);
    boxResults.push(...entries.map(({ segmentation: _, ...rest }) => rest));
  });
  const box = evaluateCoco(gt, boxResults, { iouType: "bbox" }).stats;
  const withMasks = model.config.maskHead && detections.every((d) => d.masks !== undefined) &&
    items.every((it) => it.target.masks !== undefined);
  const mask = withMasks ? evaluateCoco(gt, maskResults, { iouType: "segm" }).stats : null;
  // pycocotools reports -1 when there is nothing to evaluate; report 0 instead of a negative AP.
  const ap = (v: number) => Math.max(0, v);
  return {
    summary: {
      boxAP50: ap(box[1]),
      boxAP: ap(box[0]),
      maskAP50: mask ? ap(mask[1]) : null,
      maskAP: mask ? ap(mask[0]) : null,
      images: items.length,
      detections: boxResults.length,
      ms: Math.round(performance.now() - start),
    },
    detections,
  };
}
