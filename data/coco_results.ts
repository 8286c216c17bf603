/**
 * Detections to and from the COCO results format (the JSON array pycocotools' `loadRes` and the COCO
 * evaluation server read): `{ image_id, category_id, bbox: [x, y, w, h], score, segmentation? }`.
 *
 * Decisions: boxes come in as corners (x1, y1, x2, y2), the model's layout, and go out as xywh with no
 * rounding (the float32 values widened to doubles), so evaluation sees exactly what the model produced.
 * Masks go out as compressed RLE, the only segmentation form pycocotools accepts in results. Reading
 * validates every entry and names the index of the first bad one.
 * @module
 */
import type { CocoSegmentation } from "./polygon.ts";
import { type CompressedRle, rleEncode, rleToRuns } from "./rle.ts";
import type { CocoResult } from "./coco_eval_types.ts";
import { DataError } from "./errors.ts";

/** One image's detections as the model returns them (boxes are corners, masks full-image 0/1, row-major). */
export interface CocoDetections {
  width: number;
  height: number;
  count: number;
  /** `count×4`: x1, y1, x2, y2 in pixels. */
  boxes: Float32Array;
  scores: Float32Array;
  /** Model class labels, mapped to COCO category ids by `labelToCategoryId`. */
  labels: Int32Array;
  /** Optional `count×height×width` 0/1 masks, row-major. */
  masks?: Uint8Array;
}

/** One detection in COCO results format, as written by `toCocoResults`. */
export interface CocoResultEntry {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
  segmentation?: CompressedRle;
}

/** How model labels become COCO category ids: an array indexed by label, or a function. */
export type LabelToCategoryId = readonly number[] | ((label: number) => number);

function fail(msg: string): never {
  throw new DataError("bad-results", `toCocoResults: ${msg}`, { file: "" });
}

/**
 * Converts one image's detections to COCO results entries (one per detection, in input order).
 *
 * @example
 * ```ts
 * import { toCocoResults } from "./coco_results.ts";
 * const entries = toCocoResults(42, {
 *   width: 4, height: 2, count: 1,
 *   boxes: new Float32Array([1, 0, 3, 2]), scores: new Float32Array([0.5]), labels: new Int32Array([0]),
 *   masks: new Uint8Array([0, 1, 1, 0, 0, 1, 1, 0]),
 * }, [18]);
 * console.log(entries[0]); // { image_id: 42, category_id: 18, bbox: [1, 0, 2, 2], score: 0.5, segmentation: { size: [2, 4], counts: "242" } }
 * ```
 */
export function toCocoResults(
  imageId: number,
  detection: CocoDetections,
  labelToCategoryId: LabelToCategoryId,
): CocoResultEntry[] {
  if (typeof imageId !== "number" || !Number.isFinite(imageId)) {
    fail(`imageId must be a number, got ${imageId}`);
  }
  const { width, height, count, boxes, scores, labels, masks } = detection ?? {};
  if (!Number.isInteger(count) || count < 0) {
    fail(`detection.count must be a non-negative integer, got ${count}`);
  }
  if (!(boxes instanceof Float32Array) || boxes.length !== 4 * count) {
    fail(`detection.boxes must be a Float32Array of count×4 = ${4 * count} numbers`);
  }
  if (!(scores instanceof Float32Array) || scores.length !== count) {
    fail(`detection.scores must be a Float32Array of ${count} scores`);
  }
  if (!(labels instanceof Int32Array) || labels.length !== count) {
    fail(`detection.labels must be an Int32Array of ${count} labels`);
  }
  const pixels = width * height;
  if (masks !== undefined) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
      fail(`detection.width/height must be non-negative integers, got ${width}×${height}`);
    }
    if (!(masks instanceof Uint8Array) || masks.length !== count * pixels) {
      fail(`detection.masks must be a Uint8Array of count×height×width = ${count * pixels} bytes`);
    }
  }
  const toCategory = typeof labelToCategoryId === "function"
    ? labelToCategoryId
    : (label: number) => labelToCategoryId[label];
  const out: CocoResultEntry[] = [];
  for (let i = 0; i < count; i++) {
    const categoryId = toCategory(labels[i]);
    if (typeof categoryId !== "number" || !Number.isFinite(categoryId)) {
      fail(`detection ${i}: label ${labels[i]} has no category id (labelToCategoryId gave ${categoryId})`);
    }
    const x1 = boxes[4 * i], y1 = boxes[4 * i + 1], x2 = boxes[4 * i + 2], y2 = boxes[4 * i + 3];
    const entry: CocoResultEntry = {
      image_id: imageId,
      category_id: categoryId,
      bbox: [x1, y1, x2 - x1, y2 - y1],
      score: scores[i],
    };
    if (masks !== undefined) {
      entry.segmentation = rleEncode(masks.subarray(i * pixels, (i + 1) * pixels), height, width);
    }
    out.push(entry);
  }
  return out;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function checkSegmentation(seg: unknown, where: string): CocoSegmentation {
  if (Array.isArray(seg)) {
    seg.forEach((poly, j) => {
      if (!Array.isArray(poly) || poly.length < 2 || !poly.every(isFiniteNumber)) {
        throw new DataError(
          "bad-results",
          `${where}.segmentation[${j}] must be a polygon [x0, y0, x1, y1, …] of finite numbers`,
          { file: "" },
        );
      }
    });
    return seg as number[][];
  }
  if (seg === null || typeof seg !== "object") {
    throw new DataError(
      "bad-results",
      `${where}.segmentation must be an RLE {size, counts} or a polygon list`,
      { file: "" },
    );
  }
  rleToRuns(seg as CompressedRle, `${where}.segmentation`);
  return seg as CompressedRle;
}

/**
 * Parses and validates a COCO results JSON text: an array of `{ image_id, category_id, score, bbox?,
 * segmentation? }` with at least one of bbox/segmentation. Throws an `Error` naming the index and field
 * of the first bad entry.
 *
 * @example
 * ```ts
 * import { readCocoResults } from "./coco_results.ts";
 * const results = readCocoResults('[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.9}]');
 * console.log(results[0].bbox); // [1, 2, 3, 4]
 * ```
 */
export function readCocoResults(jsonText: string): CocoResult[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch (e) {
    throw new DataError("bad-results", `readCocoResults: not valid JSON (${(e as Error).message})`, {
      file: "",
    });
  }
  if (!Array.isArray(parsed)) {
    throw new DataError("bad-results", "readCocoResults: the JSON must be an array of results", { file: "" });
  }
  return parsed.map((r, i): CocoResult => {
    const where = `readCocoResults: results[${i}]`;
    if (r === null || typeof r !== "object" || Array.isArray(r)) {
      throw new DataError("bad-results", `${where} is not an object`, { file: "" });
    }
    for (const key of ["image_id", "category_id", "score"]) {
      if (!isFiniteNumber(r[key])) {
        throw new DataError(
          "bad-results",
          `${where}.${key} must be a finite number, got ${JSON.stringify(r[key])}`,
          { file: "" },
        );
      }
    }
    const out: CocoResult = { image_id: r.image_id, category_id: r.category_id, score: r.score };
    if (r.bbox !== undefined) {
      if (!Array.isArray(r.bbox) || r.bbox.length !== 4 || !r.bbox.every(isFiniteNumber)) {
        throw new DataError(
          "bad-results",
          `${where}.bbox must be [x, y, w, h] of 4 finite numbers, got ${JSON.stringify(r.bbox)}`,
          { file: "" },
        );
      }
      out.bbox = r.bbox;
    }
    if (r.segmentation !== undefined) out.segmentation = checkSegmentation(r.segmentation, where);
    if (out.bbox === undefined && out.segmentation === undefined) {
      throw new DataError("bad-results", `${where} has neither a bbox nor a segmentation`, { file: "" });
    }
    return out;
  });
}
