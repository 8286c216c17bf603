/**
 * First stage of the COCO evaluator: what pycocotools' `COCO.loadRes`, `COCOeval._prepare` and
 * `COCOeval.computeIoU` do, flattened into typed arrays.
 *
 * pycocotools behaviour reproduced here, on purpose:
 * - loadRes picks its branch from the FIRST result: if it has a non-empty `bbox`, every result's area is
 *   w·h of its box (also for segm evaluation) and a result without `segmentation` gets its box as a
 *   polygon; otherwise every area is the mask area and a missing `bbox` is the mask's box. Results get ids
 *   1..N in input order; their image ids must be images of the ground truth.
 * - Ground truths on unknown images or categories, and results of unknown categories, are dropped. A
 *   ground truth's `area` field is used as is, and its ignore flag is its `iscrowd` (an `ignore` field is
 *   overwritten by pycocotools, so it is not read).
 * - Per (image, category) "cell", detections are sorted by descending score with a stable sort (numpy
 *   mergesort) and cut to the largest maxDets; ground truths stay in file order.
 *
 * Decision: cells are ordered by (category, image), so one category's cells are contiguous, and each
 * kept detection gets a "slot" (its position in that order); later stages index everything by slot.
 * Masks are decoded only for detections that survive the cut.
 * @module
 */
import { RunsPool } from "./coco_eval_runs.ts";
import { runsArea, runsToBbox } from "./rle.ts";
import { boxIouInto, runsIouInto } from "./rle_iou.ts";
import type { CocoGroundTruth, CocoIouType, CocoResult } from "./coco_eval_types.ts";
import type { CocoSegmentation } from "./polygon.ts";
import { DataError } from "./errors.ts";

/** The evaluator's flat view of ground truths, detections and their IoUs, grouped in cells. */
export interface PreparedEval {
  imgIds: number[];
  catIds: number[];
  /** Cells in (category, image) order: `cellCat[c]` / `cellImg[c]` index `catIds` / `imgIds`. */
  cellCat: Int32Array;
  cellImg: Int32Array;
  /** Cells of category k are `catCellStart[k] .. catCellStart[k+1]-1`. */
  catCellStart: Int32Array;
  /** Ground truths of cell c: `gtArea[cellGtStart[c] .. cellGtStart[c+1]-1]` etc., in file order. */
  cellGtStart: Int32Array;
  gtArea: Float64Array;
  gtCrowd: Uint8Array;
  gtId: Float64Array;
  /** Detection slots of cell c: `cellDtStart[c] ..`, best score first, at most maxDet per cell. */
  cellDtStart: Int32Array;
  dtScore: Float64Array;
  dtArea: Float64Array;
  /** IoU of cell c: `ious[cellIouStart[c] + d * G + g]` (d, g local to the cell). */
  cellIouStart: Int32Array;
  ious: Float64Array;
}

function fail(msg: string): never {
  throw new DataError("bad-eval-input", `evaluateCoco: ${msg}`, { file: "" });
}

function isBox(b: unknown): b is number[] {
  return Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** pycocotools loadRes' polygon for a result without segmentation: the box's four corners. */
function boxPolygon(bb: number[]): number[] {
  const x1 = bb[0], y1 = bb[1], x2 = bb[0] + bb[2], y2 = bb[1] + bb[3];
  return [x1, y1, x1, y2, x2, y2, x2, y1];
}

function sortedUnique(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Stable order of `idx` (positions) by ascending `key`, ties kept in position order. */
function stableOrder(keys: Float64Array): Int32Array {
  const order = new Int32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => keys[a] - keys[b] || a - b);
}

/**
 * Stable sort of `idx` by descending `score[idx[i]]`, ties kept in place (numpy mergesort on -score):
 * insertion sort for the usual small cells, the engine's stable sort otherwise.
 */
function sortByScoreDesc(idx: number[], score: Float64Array): void {
  if (idx.length > 64) {
    idx.sort((a, b) => score[b] - score[a] || a - b);
    return;
  }
  for (let i = 1; i < idx.length; i++) {
    const v = idx[i], sv = score[v];
    let j = i - 1;
    while (j >= 0 && score[idx[j]] < sv) {
      idx[j + 1] = idx[j];
      j--;
    }
    idx[j + 1] = v;
  }
}

/**
 * Builds the cells, sorts and cuts detections, and computes every cell's IoU matrix.
 *
 * @example
 * ```ts
 * import { prepareEval } from "./coco_eval_prepare.ts";
 * const gt = {
 *   images: [{ id: 1, height: 10, width: 10 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 4, 4], area: 16, iscrowd: 0 }],
 * };
 * const prep = prepareEval(gt, [{ image_id: 1, category_id: 1, bbox: [0, 0, 4, 2], score: 0.9 }], "bbox", 100);
 * console.log(prep.ious); // Float64Array [0.5]
 * ```
 */
export function prepareEval(
  gt: CocoGroundTruth,
  results: readonly CocoResult[],
  iouType: CocoIouType,
  maxDet: number,
): PreparedEval {
  if (gt === null || typeof gt !== "object") fail("groundTruth must be a parsed COCO instances object");
  for (const key of ["images", "annotations", "categories"] as const) {
    if (!Array.isArray(gt[key])) fail(`groundTruth.${key} must be an array`);
  }
  if (!Array.isArray(results)) fail("results must be an array");
  const segm = iouType === "segm";

  // Images and categories: sorted unique ids; the last entry of a repeated image id gives its size.
  const imgSize = new Map<number, [number, number]>();
  gt.images.forEach((img, i) => {
    if (!img || typeof img.id !== "number") fail(`groundTruth.images[${i}].id must be a number`);
    imgSize.set(img.id, [img.height, img.width]);
  });
  const imgIds = sortedUnique(gt.images.map((img) => img.id));
  const catIds = sortedUnique(gt.categories.map((c, i) => {
    if (!c || typeof c.id !== "number") fail(`groundTruth.categories[${i}].id must be a number`);
    return c.id;
  }));
  const imgIndex = new Map(imgIds.map((id, i) => [id, i]));
  const catIndex = new Map(catIds.map((id, i) => [id, i]));
  const nImg = imgIds.length;
  /** Image size for rasterising polygons; segmentationToRuns names `what` if it is not usable. */
  const sizeOf = (imageId: number): [number, number] => imgSize.get(imageId)!;

  // Ground truths kept by pycocotools' getAnnIds(imgIds, catIds), keyed by cell.
  const seenIds = new Set<number>();
  const gtKeep: number[] = [];
  const gtKeyList: number[] = [];
  gt.annotations.forEach((a, i) => {
    if (!a || typeof a !== "object") fail(`groundTruth.annotations[${i}] is not an object`);
    const im = imgIndex.get(a.image_id), ca = catIndex.get(a.category_id);
    if (im === undefined || ca === undefined) return;
    const what = `groundTruth.annotations[${i}] (id ${a.id})`;
    if (typeof a.id !== "number") fail(`groundTruth.annotations[${i}].id must be a number`);
    if (seenIds.has(a.id)) fail(`${what}: annotation id ${a.id} is used twice`);
    seenIds.add(a.id);
    if (typeof a.area !== "number" || Number.isNaN(a.area)) fail(`${what}: area must be a number`);
    if (!segm && !isBox(a.bbox)) fail(`${what}: bbox must be [x, y, w, h] of finite numbers`);
    if (segm && (a.segmentation === undefined || a.segmentation === null)) {
      fail(`${what}: has no segmentation`);
    }
    gtKeep.push(i);
    gtKeyList.push(ca * nImg + im);
  });
  const gtKeys = Float64Array.from(gtKeyList);
  const gtSorted = stableOrder(gtKeys);

  // Results: loadRes' branch, ids, and the cell of each result of a known category.
  const boxBranch = results.length > 0 && isBox(results[0].bbox);
  if (results.length > 0 && !boxBranch && results[0].segmentation === undefined) {
    fail("results[0] has neither a bbox nor a segmentation");
  }
  const dtKeyList: number[] = [];
  const dtKeep: number[] = [];
  results.forEach((r, i) => {
    if (!r || typeof r !== "object") fail(`results[${i}] is not an object`);
    const im = imgIndex.get(r.image_id);
    if (im === undefined) fail(`results[${i}].image_id ${r.image_id} is not an image of the ground truth`);
    if (typeof r.score !== "number" || !Number.isFinite(r.score)) {
      fail(`results[${i}].score must be a finite number`);
    }
    if (boxBranch ? !isBox(r.bbox) : r.segmentation === undefined) {
      fail(`results[${i}] needs a ${boxBranch ? "bbox [x, y, w, h]" : "segmentation"} like results[0]`);
    }
    const ca = catIndex.get(r.category_id);
    if (ca === undefined) return;
    dtKeep.push(i);
    dtKeyList.push(ca * nImg + im);
  });
  const dtKeys = Float64Array.from(dtKeyList);
  const dtByKey = stableOrder(dtKeys);

  // Cells: the union of gt and dt keys, ascending = (category, image) order.
  const cellKeys = Float64Array.from(new Set([...gtKeyList, ...dtKeyList])).sort();
  const nCells = cellKeys.length;
  const cellCat = new Int32Array(nCells), cellImg = new Int32Array(nCells);
  const catCellStart = new Int32Array(catIds.length + 1);
  for (let c = 0; c < nCells; c++) {
    cellCat[c] = Math.floor(cellKeys[c] / nImg);
    cellImg[c] = cellKeys[c] - cellCat[c] * nImg;
    catCellStart[cellCat[c] + 1]++;
  }
  for (let k = 0; k < catIds.length; k++) catCellStart[k + 1] += catCellStart[k];

  // Ground truth arrays in cell order.
  const nGt = gtKeep.length;
  const cellGtStart = new Int32Array(nCells + 1);
  const gtArea = new Float64Array(nGt), gtCrowd = new Uint8Array(nGt), gtId = new Float64Array(nGt);
  const gtPool = new RunsPool();
  const gtBoxes = new Float64Array(4 * nGt);
  {
    let c = 0;
    for (let j = 0; j < nGt; j++) {
      const i = gtKeep[gtSorted[j]];
      while (cellKeys[c] !== gtKeys[gtSorted[j]]) cellGtStart[++c] = j;
      const a = gt.annotations[i];
      gtArea[j] = a.area;
      gtCrowd[j] = a.iscrowd ? 1 : 0;
      gtId[j] = a.id;
      if (segm) {
        const what = `groundTruth.annotations[${i}] (id ${a.id}).segmentation`;
        gtPool.addSegmentation(a.segmentation!, ...sizeOf(a.image_id), what);
      } else gtBoxes.set(a.bbox!, 4 * j);
    }
    while (c < nCells) cellGtStart[++c] = nGt;
  }
  const gtRuns = gtPool.runs();
  gtRuns.forEach((runs, j) => runsToBbox(runs, gtBoxes, 4 * j));

  // Detection slots: per cell, stable sort by descending score, cut to maxDet.
  const cellDtStart = new Int32Array(nCells + 1);
  const slotResult: number[] = [];
  {
    const keptScore = Float64Array.from(dtKeep, (i) => results[i].score);
    let p = 0;
    const idx: number[] = [];
    for (let c = 0; c < nCells; c++) {
      idx.length = 0;
      while (p < dtByKey.length && dtKeys[dtByKey[p]] === cellKeys[c]) idx.push(dtByKey[p++]);
      sortByScoreDesc(idx, keptScore);
      for (let d = 0; d < Math.min(idx.length, maxDet); d++) slotResult.push(dtKeep[idx[d]]);
      cellDtStart[c + 1] = slotResult.length;
    }
  }
  const nSlots = slotResult.length;
  const dtScore = new Float64Array(nSlots), dtArea = new Float64Array(nSlots);
  const dtBoxes = new Float64Array(4 * nSlots);
  const needMask = segm || !boxBranch;
  const dtPool = new RunsPool();
  for (let s = 0; s < nSlots && needMask; s++) {
    const i = slotResult[s];
    const r = results[i];
    const bb = r.bbox!;
    const seg: CocoSegmentation = r.segmentation ?? [boxPolygon(bb)];
    dtPool.addSegmentation(seg, ...sizeOf(r.image_id), `results[${i}].segmentation`);
  }
  const dtRuns = dtPool.runs();
  for (let s = 0; s < nSlots; s++) {
    const r = results[slotResult[s]];
    dtScore[s] = r.score;
    if (boxBranch) {
      dtArea[s] = r.bbox![2] * r.bbox![3];
      if (!segm) dtBoxes.set(r.bbox!, 4 * s);
    } else {
      dtArea[s] = runsArea(dtRuns[s].counts);
      if (!segm) {
        if (isBox(r.bbox)) dtBoxes.set(r.bbox, 4 * s);
        else runsToBbox(dtRuns[s], dtBoxes, 4 * s);
      }
    }
    if (segm) runsToBbox(dtRuns[s], dtBoxes, 4 * s);
  }

  // IoU matrices, one per cell (empty when the cell has no gt or no dt).
  const cellIouStart = new Int32Array(nCells + 1);
  for (let c = 0; c < nCells; c++) {
    const G = cellGtStart[c + 1] - cellGtStart[c], D = cellDtStart[c + 1] - cellDtStart[c];
    cellIouStart[c + 1] = cellIouStart[c] + G * D;
  }
  const ious = new Float64Array(cellIouStart[nCells]);
  for (let c = 0; c < nCells; c++) {
    if (cellIouStart[c + 1] === cellIouStart[c]) continue;
    const g0 = cellGtStart[c], g1 = cellGtStart[c + 1], d0 = cellDtStart[c], d1 = cellDtStart[c + 1];
    const out = ious.subarray(cellIouStart[c], cellIouStart[c + 1]);
    const crowd = gtCrowd.subarray(g0, g1);
    const db = dtBoxes.subarray(4 * d0, 4 * d1), gb = gtBoxes.subarray(4 * g0, 4 * g1);
    if (!segm) boxIouInto(db, gb, crowd, out);
    else {
      try {
        runsIouInto(dtRuns.slice(d0, d1), db, gtRuns.slice(g0, g1), gb, crowd, out);
      } catch (e) {
        fail(`image ${imgIds[cellImg[c]]}, category ${catIds[cellCat[c]]}: ${(e as Error).message}`);
      }
    }
  }

  return {
    imgIds,
    catIds,
    cellCat,
    cellImg,
    catCellStart,
    cellGtStart,
    gtArea,
    gtCrowd,
    gtId,
    cellDtStart,
    dtScore,
    dtArea,
    cellIouStart,
    ious,
  };
}
