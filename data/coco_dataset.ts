/**
 * COCO instances datasets: `loadCocoDataset(annotationFile, imageDir)` indexes an `instances_*.json` and
 * gives, per image, the decoded RGB image and targets (xywh boxes → x1,y1,x2,y2 clipped to the image,
 * contiguous labels, masks from polygons / RLE / compressed RLE). Crowd regions are kept out of the targets
 * and returned separately (`crowd`) for evaluation; `skipEmpty` drops images without non-crowd objects
 * (GluonCV's `skip_empty`). Image files are `file_name` under the image folder; a `file_name` may name a
 * subfolder (`train/x.jpg`) but never leave the folder (absolute, or `..`): `get` refuses it (`unsafe-path`).
 * @module
 */

import {
  type CocoAnnotation,
  type CocoCategory,
  type CocoImage,
  type CocoIndex,
  parseCocoJson,
} from "./coco_json.ts";
import { DataError, type OnDataError } from "./errors.ts";
import { readImageFile } from "./image_codec.ts";
import { segmentationToRle } from "./polygon.ts";
import { rleDecode } from "./rle.ts";
import type { Dataset, Target, TrainItem } from "./types.ts";

/** Options of `loadCocoDataset`. */
export interface CocoDatasetOptions {
  /** Drop images without any non-crowd annotation (default false). */
  skipEmpty?: boolean;
  /** Decode instance masks (default true). */
  withMasks?: boolean;
  /** Bad annotations: `"skip"` drops and records them in `issues`; `"throw"` (default) stops loading. */
  onError?: OnDataError;
}

/** One COCO item: training targets plus what evaluation needs. */
export interface CocoItem extends TrainItem {
  /** COCO image id. */
  imageId: number;
  /** Path of the image file. */
  file: string;
  /** Annotation ids of the target instances, in target order. */
  annotationIds: number[];
  /** Polygons of each target instance (`null` for RLE segmentations), for `polygonsToMaskInBox`. */
  polygons: (number[][] | null)[];
  /** Crowd regions (iscrowd = 1): kept out of training targets, available to evaluation. */
  crowd: Target & { annotationIds: number[] };
}

/** A COCO dataset. */
export interface CocoDataset extends Dataset<CocoItem> {
  /** COCO image ids in item order (sorted by id). */
  readonly imageIds: readonly number[];
  /** COCO category ids sorted; label k (1..C) is `categoryIds[k - 1]`. */
  readonly categoryIds: readonly number[];
  /** Class names by label, `classNames[0] === "background"`. */
  readonly classNames: readonly string[];
  /** Categories sorted by id. */
  readonly categories: readonly CocoCategory[];
  /** Background categories (`_background_` / `background`) left out of the classes. */
  readonly droppedCategories: readonly CocoCategory[];
  /** Annotations dropped while loading in `"skip"` mode. */
  readonly issues: readonly DataError[];
  /** Contiguous label → COCO category id. */
  labelToCategoryId(label: number): number;
  /** COCO category id → contiguous label. */
  categoryIdToLabel(categoryId: number): number;
  /** Image record by id. */
  image(imageId: number): CocoImage;
  /** All valid annotations of an image (crowd included), for evaluation. */
  annotations(imageId: number): readonly CocoAnnotation[];
}

/**
 * The path of an image's file under `imageDir`. A `file_name` may hold subfolders (`train/x.jpg`) but must
 * stay inside `imageDir`: an absolute path or one that climbs out with `..` is refused (`unsafe-path`).
 */
function imagePath(
  { isAbsolute, join, normalize }: typeof import("node:path"),
  imageDir: string,
  img: CocoImage,
  annotationFile: string,
): string {
  const name = img.file_name;
  const normal = normalize(name);
  if (isAbsolute(name) || /^[A-Za-z]:/.test(name) || normal === ".." || normal.startsWith("../")) {
    throw new DataError(
      "unsafe-path",
      `file_name ${JSON.stringify(name)} leaves the image folder (absolute or "..": file names are ` +
        "relative to the image folder)",
      { file: annotationFile, imageId: img.id },
    );
  }
  return join(imageDir, name);
}

function clippedBox(ann: CocoAnnotation, img: CocoImage): number[] {
  const [x, y, w, h] = ann.bbox;
  return [Math.max(0, x), Math.max(0, y), Math.min(img.width, x + w), Math.min(img.height, y + h)];
}

function decodeMasks(anns: CocoAnnotation[], img: CocoImage, file: string): Uint8Array {
  const H = img.height, W = img.width;
  const masks = new Uint8Array(anns.length * H * W);
  anns.forEach((ann, k) => {
    const at = { file, annotationId: ann.id, imageId: img.id };
    if (ann.segmentation === undefined) {
      throw new DataError("bad-segmentation", "annotation has no segmentation", at);
    }
    let mask: Uint8Array;
    try {
      mask = rleDecode(segmentationToRle(ann.segmentation, H, W));
    } catch (e) {
      throw new DataError("bad-segmentation", `cannot rasterise segmentation (${(e as Error).message})`, at, {
        cause: e,
      });
    }
    if (mask.length !== H * W) {
      throw new DataError("bad-segmentation", "segmentation size differs from image", at);
    }
    masks.set(mask, k * H * W);
  });
  return masks;
}

function targetOf(anns: CocoAnnotation[], img: CocoImage, index: CocoIndex, withMasks: boolean): Target {
  const boxes = new Float32Array(anns.length * 4);
  anns.forEach((a, k) => boxes.set(clippedBox(a, img), 4 * k));
  const target: Target = { boxes, labels: Int32Array.from(anns, (a) => index.labelOf.get(a.category_id)!) };
  if (withMasks) target.masks = decodeMasks(anns, img, index.file);
  return target;
}

/**
 * Loads a COCO instances annotation file; images are read from `imageDir` on `get`.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadCocoDataset } from "./coco_dataset.ts";
 * import { encodePng } from "./image_codec.ts";
 * // e.g. loadCocoDataset("annotations/instances_val2017.json", "val2017", { skipEmpty: true })
 * const dir = await Deno.makeTempDir();
 * const coco = {
 *   images: [{ id: 7, file_name: "a.png", width: 4, height: 4 }],
 *   categories: [{ id: 18, name: "dog" }, { id: 3, name: "car" }],
 *   annotations: [
 *     { id: 1, image_id: 7, category_id: 18, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0, segmentation: [[1, 1, 3, 1, 3, 3, 1, 3]] },
 *   ],
 * };
 * await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(coco));
 * await Deno.mkdir(`${dir}/images`);
 * await Deno.writeFile(`${dir}/images/a.png`, encodePng(new Uint8Array(4 * 4 * 3).fill(200), 4, 4, 3));
 * const ds = await loadCocoDataset(`${dir}/instances.json`, `${dir}/images`, { skipEmpty: true });
 * const { image, target, crowd } = await ds.get(0);
 * assert.deepStrictEqual([image.width, target.boxes], [4, new Float32Array([1, 1, 3, 3])]); // xywh → xyxy
 * assert.strictEqual(ds.labelToCategoryId(target.labels[0]), 18); // labels are 1..C over sorted category ids
 * assert.strictEqual(crowd.labels.length, 0); // iscrowd regions, kept apart for evaluation
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCocoDataset(
  annotationFile: string,
  imageDir: string,
  options: CocoDatasetOptions = {},
): Promise<CocoDataset> {
  // imported here, not at the top, so that mod.ts loads in a browser page (which has no node:path)
  const path = await import("node:path");
  let text: string;
  try {
    text = await Deno.readTextFile(annotationFile);
  } catch (e) {
    throw new DataError("missing-file", `cannot read annotation file (${(e as Error).message})`, {
      file: annotationFile,
    }, { cause: e });
  }
  const index = parseCocoJson(text, annotationFile, options.onError ?? "throw");
  const withMasks = options.withMasks ?? true;
  const hasObjects = (id: number) => (index.annotationsByImage.get(id) ?? []).some((a) => !a.iscrowd);
  const imageIds = [...index.images.keys()].sort((a, b) => a - b).filter((id) =>
    !options.skipEmpty || hasObjects(id)
  );
  const categoryIds = index.categories.map((c) => c.id);
  return {
    length: imageIds.length,
    imageIds,
    categoryIds,
    categories: index.categories,
    droppedCategories: index.droppedCategories,
    classNames: ["background", ...index.categories.map((c) => c.name)],
    issues: index.issues,
    labelToCategoryId(label: number): number {
      const id = categoryIds[label - 1];
      if (id === undefined) {
        throw new RangeError(`coco_dataset.ts: label ${label} outside 1..${categoryIds.length}`);
      }
      return id;
    },
    categoryIdToLabel(categoryId: number): number {
      const label = index.labelOf.get(categoryId);
      if (label === undefined) throw new RangeError(`coco_dataset.ts: unknown category id ${categoryId}`);
      return label;
    },
    image(imageId: number): CocoImage {
      const img = index.images.get(imageId);
      if (!img) throw new RangeError(`coco_dataset.ts: unknown image id ${imageId}`);
      return img;
    },
    annotations(imageId: number): readonly CocoAnnotation[] {
      return index.annotationsByImage.get(imageId) ?? [];
    },
    async get(i: number): Promise<CocoItem> {
      const imageId = imageIds[i];
      if (imageId === undefined) {
        throw new RangeError(`coco_dataset.ts: index ${i} out of range 0..${imageIds.length - 1}`);
      }
      const img = index.images.get(imageId)!;
      const file = imagePath(path, imageDir, img, annotationFile); // node:path, imported lazily (above)
      const image = await readImageFile(file);
      if (image.width !== img.width || image.height !== img.height) {
        throw new DataError(
          "image-size-mismatch",
          `image is ${image.height}×${image.width} but ${annotationFile} says ${img.height}×${img.width}`,
          { file, imageId },
        );
      }
      const anns = index.annotationsByImage.get(imageId) ?? [];
      const objects = anns.filter((a) => !a.iscrowd), crowds = anns.filter((a) => a.iscrowd);
      return {
        imageId,
        file,
        image,
        target: targetOf(objects, img, index, withMasks),
        annotationIds: objects.map((a) => a.id),
        polygons: objects.map((a) => Array.isArray(a.segmentation) ? a.segmentation : null),
        crowd: { ...targetOf(crowds, img, index, withMasks), annotationIds: crowds.map((a) => a.id) },
      };
    },
  };
}
