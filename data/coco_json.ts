/**
 * COCO `instances_*.json` parsing and validation: images, categories (ids mapped to contiguous labels 1..C
 * in id order, like Detectron's `json_category_id_to_contiguous_id`) and annotations. Each bad annotation
 * (unknown image or category, polygon with fewer than 3 points or with coordinates far outside the image,
 * zero-area box, malformed segmentation shape, RLE counts that do not cover the image) is reported as a
 * `DataError` naming the file and annotation id; it is dropped and recorded in `issues` with
 * `onError: "skip"`, or thrown with `"throw"`. A file without categories is refused (a model needs at least
 * one class).
 *
 * Decision: a category named `_background_` or `background` (labelme's COCO export writes category 0
 * `_background_`) is not a class: it is left out of `categories` (so labels stay 1..C for the real
 * classes) and listed in `droppedCategories`; its annotations, if any, are dropped without an issue.
 * @module
 */

import { DataError, type OnDataError } from "./errors.ts";
import { parseJsonText } from "./json_file.ts";
import { type CocoSegmentation, polygonCoordinateLimit } from "./polygon.ts";
import { rleCountsFromStringShared } from "./rle_string.ts";

/** A COCO image record. */
export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

/** A COCO category. */
export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
}

/** A COCO instance annotation (bbox is x, y, width, height in pixels). */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  segmentation?: CocoSegmentation;
  area?: number;
  iscrowd?: number;
}

/** A parsed and validated annotation file. */
export interface CocoIndex {
  /** The annotation file. */
  file: string;
  /** Images by id. */
  images: Map<number, CocoImage>;
  /** Categories sorted by id; label k (1-based) is `categories[k - 1]`. */
  categories: CocoCategory[];
  /** Background categories left out (`_background_` / `background`), for a note to the user. */
  droppedCategories: CocoCategory[];
  /** Category id → contiguous label 1..C. */
  labelOf: Map<number, number>;
  /** Valid annotations per image id, in file order (crowd included). */
  annotationsByImage: Map<number, CocoAnnotation[]>;
  /** Problems found and repaired (dropped annotations) in `"skip"` mode. */
  issues: DataError[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function annotationProblem(
  ann: CocoAnnotation,
  img: CocoImage | undefined,
  labelOf: Map<number, number>,
  file: string,
): DataError | null {
  const at = { file, annotationId: ann.id, imageId: ann.image_id };
  if (!img) return new DataError("unknown-image", `image_id ${ann.image_id} is not in images`, at);
  if (!labelOf.has(ann.category_id)) {
    return new DataError("unknown-category", `category_id ${ann.category_id} is not in categories`, at);
  }
  const b = ann.bbox;
  if (!Array.isArray(b) || b.length !== 4 || b.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    return new DataError("zero-area-box", `bbox ${JSON.stringify(b)} is not 4 finite numbers`, at);
  }
  const x1 = Math.max(0, b[0]), y1 = Math.max(0, b[1]);
  const x2 = Math.min(img.width, b[0] + Math.max(0, b[2])),
    y2 = Math.min(img.height, b[1] + Math.max(0, b[3]));
  if (!(x2 > x1 && y2 > y1)) {
    return new DataError("zero-area-box", `bbox [${b}] has no area inside the image`, at);
  }
  const s = ann.segmentation;
  if (Array.isArray(s)) {
    if (s.length === 0) return new DataError("bad-polygon", "segmentation has no polygons", at);
    const limit = polygonCoordinateLimit(img.height, img.width);
    for (const [i, poly] of s.entries()) {
      if (!Array.isArray(poly) || poly.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
        return new DataError("bad-polygon", `polygon ${i} is not a list of numbers`, at);
      }
      const far = poly.find((v) => Math.abs(v) > limit);
      if (far !== undefined) {
        return new DataError(
          "bad-polygon",
          `polygon ${i} has coordinate ${far}, beyond ±${limit} (4× the image's longer side, at least ` +
            `1024): refused before rasterising`,
          at,
        );
      }
      if (poly.length < 6 || poly.length % 2 !== 0) {
        return new DataError(
          "bad-polygon",
          `polygon ${i} has ${poly.length} coordinates (fewer than 3 points)`,
          at,
        );
      }
    }
  } else if (s !== undefined) {
    if (
      !isObject(s) || !Array.isArray(s.size) || (typeof s.counts !== "string" && !Array.isArray(s.counts))
    ) {
      return new DataError("bad-segmentation", "segmentation is neither polygons nor an RLE", at);
    }
    if (s.size[0] !== img.height || s.size[1] !== img.width) {
      return new DataError(
        "bad-segmentation",
        `RLE size ${s.size[0]}×${s.size[1]} differs from image ${img.height}×${img.width}`,
        at,
      );
    }
    const pixels = rlePixelCount(s.counts);
    if (pixels !== img.height * img.width) {
      return new DataError(
        "bad-segmentation",
        `RLE counts ${typeof pixels === "number" ? `cover ${pixels} pixels` : pixels}, but its size ` +
          `${img.height}×${img.width} has ${img.height * img.width}`,
        at,
      );
    }
  }
  return null;
}

/** The number of pixels an RLE's counts cover, or what is wrong with them. */
function rlePixelCount(counts: string | unknown[]): number | string {
  if (typeof counts === "string") {
    try {
      return rleCountsFromStringShared(counts, "counts").reduce((a, c) => a + c, 0);
    } catch (e) {
      return `are not a compressed RLE (${(e as Error).message})`;
    }
  }
  let total = 0;
  for (const c of counts) {
    if (!Number.isInteger(c) || (c as number) < 0) return `hold ${JSON.stringify(c)}, not a count`;
    total += c as number;
  }
  return total;
}

/**
 * Parses and validates the text of a COCO instances file. `file` names it in errors.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { parseCocoJson } from "./coco_json.ts";
 * // e.g. parseCocoJson(await Deno.readTextFile("instances_val2017.json"), "instances_val2017.json")
 * const coco = {
 *   images: [{ id: 7, file_name: "a.png", width: 4, height: 4 }],
 *   categories: [{ id: 18, name: "dog" }, { id: 3, name: "car" }],
 *   annotations: [
 *     { id: 1, image_id: 7, category_id: 18, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0, segmentation: [[1, 1, 3, 1, 3, 3, 1, 3]] },
 *   ],
 * };
 * const index = parseCocoJson(JSON.stringify(coco), "instances.json");
 * assert.deepStrictEqual(index.categories.map((c) => c.id), [3, 18]);
 * assert.strictEqual(index.labelOf.get(18), 2);
 * ```
 */
export function parseCocoJson(text: string, file: string, onError: OnDataError = "throw"): CocoIndex {
  const json = parseJsonText(text, file);
  if (!isObject(json) || !Array.isArray(json.images) || !Array.isArray(json.categories)) {
    throw new DataError("invalid-annotation-file", "expected an object with images and categories arrays", {
      file,
    });
  }
  if (json.categories.length === 0) {
    throw new DataError(
      "invalid-annotation-file",
      'has no categories: a COCO instances file lists the object classes in "categories" ' +
        '([{"id": 1, "name": "cat"}, …])',
      { file },
    );
  }
  const images = new Map<number, CocoImage>();
  for (const img of json.images as CocoImage[]) {
    if (!isObject(img) || typeof img.id !== "number" || typeof img.file_name !== "string") {
      throw new DataError("invalid-annotation-file", `bad image record ${JSON.stringify(img).slice(0, 80)}`, {
        file,
      });
    }
    images.set(img.id, img);
  }
  const all = [...(json.categories as CocoCategory[])].sort((a, b) => a.id - b.id);
  const categories = all.filter((c) => !isBackgroundCategory(c));
  const droppedCategories = all.filter(isBackgroundCategory);
  const droppedIds = new Set(droppedCategories.map((c) => c.id));
  if (categories.length === 0) {
    throw new DataError(
      "invalid-annotation-file",
      `has only background categories (${droppedCategories.map((c) => c.name).join(", ")}): ` +
        "a model needs at least one object class",
      { file },
    );
  }
  const labelOf = new Map(categories.map((c, k) => [c.id, k + 1]));
  const annotationsByImage = new Map<number, CocoAnnotation[]>();
  const issues: DataError[] = [];
  for (const ann of (json.annotations ?? []) as CocoAnnotation[]) {
    if (isObject(ann) && droppedIds.has(ann.category_id)) continue;
    const problem = isObject(ann)
      ? annotationProblem(ann, images.get(ann.image_id), labelOf, file)
      : new DataError("invalid-annotation-file", "annotation is not an object", { file });
    if (problem) {
      if (onError === "throw") throw problem;
      issues.push(problem);
      continue;
    }
    const list = annotationsByImage.get(ann.image_id);
    if (list) list.push(ann);
    else annotationsByImage.set(ann.image_id, [ann]);
  }
  return { file, images, categories, droppedCategories, labelOf, annotationsByImage, issues };
}

/**
 * Whether a category is a background placeholder rather than a class: named `_background_` or
 * `background` (any case), as labelme's and some other exporters write.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { isBackgroundCategory } from "./coco_json.ts";
 * assert.ok(isBackgroundCategory({ name: "_background_" })); // labelme's category 0
 * assert.ok(!isBackgroundCategory({ name: "cat" }));
 * ```
 */
export function isBackgroundCategory(category: { name?: unknown }): boolean {
  return typeof category?.name === "string" && /^_?background_?$/i.test(category.name.trim());
}
