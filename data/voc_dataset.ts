/**
 * Pascal VOC segmentation datasets (and labelme's VOC export): `JPEGImages/NAME.jpg`,
 * `SegmentationObject/NAME.png` (instance ids per pixel, 0 background, 255 void) and
 * `SegmentationClass/NAME.png` (class ids, same 0 / 255), optionally listed by
 * `ImageSets/Segmentation/SPLIT.txt`. An instance's label is its pixels' class id (the most frequent one,
 * 0 and 255 not counted); void pixels belong to no instance (torchvision's and Detectron's VOC readers
 * likewise ignore 255).
 *
 * Decisions: class names are VOC's 20 unless the folder has labelme's `class_names.txt` (one per line,
 * `__ignore__` skipped, the first remaining one is background); labelme's `SegmentationObjectPNG/` and
 * `SegmentationClassPNG/` folders are read when the VOC names are absent; without a split, every image
 * with an object mask is used; an image without objects is kept (a negative). Instances with no class or
 * a box without width or height are dropped and counted in `issues`.
 * @module
 */
import { DataError } from "./errors.ts";
import { readImageFile } from "./image_codec.ts";
import { instancesFromIds, majorityClass } from "./instance_id_masks.ts";
import { emptyTarget, firstFolder, readIdMap } from "./_id_mask_folders.ts";
import type { IdMaskItem } from "./pennfudan_dataset.ts";
import type { Dataset } from "./types.ts";

/**
 * Pascal VOC's 20 classes, by label 1..20 (0 = background).
 * @example
 * ```ts
 * VOC_CLASS_NAMES[15]; // "person"
 * ```
 */
export const VOC_CLASS_NAMES: readonly string[] = [
  "background",
  "aeroplane",
  "bicycle",
  "bird",
  "boat",
  "bottle",
  "bus",
  "car",
  "cat",
  "chair",
  "cow",
  "diningtable",
  "dog",
  "horse",
  "motorbike",
  "person",
  "pottedplant",
  "sheep",
  "sofa",
  "train",
  "tvmonitor",
];

/**
 * VOC's void label (object borders, difficult regions): no instance, no class.
 * @example
 * ```ts
 * VOC_VOID; // 255
 * ```
 */
export const VOC_VOID = 255;

/** Options of {@link loadVocDataset}. */
export interface VocDatasetOptions {
  /** `ImageSets/Segmentation/<split>.txt` to read (e.g. `train`, `val`); default: every masked image. */
  split?: string;
}

/** A VOC-style dataset. */
export interface VocDataset extends Dataset<IdMaskItem> {
  /** Image names in item order. */
  readonly names: readonly string[];
  /** Class names by label (VOC's 20, or labelme's `class_names.txt`). */
  readonly classNames: readonly string[];
  /** Instances dropped by the items read so far. */
  readonly issues: DataError[];
}

async function readText(file: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DataError("missing-file", `cannot read (${(e as Error).message})`, { file });
  }
}

/**
 * Indexes a VOC-style folder (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadVocDataset } from "./voc_dataset.ts";
 * import { encodePng } from "./image_codec.ts";
 * const root = await Deno.makeTempDir();
 * for (const d of ["JPEGImages", "SegmentationObject", "SegmentationClass"]) await Deno.mkdir(`${root}/${d}`);
 * await Deno.writeFile(`${root}/JPEGImages/2007_000032.png`, encodePng(new Uint8Array(36).fill(90), 4, 3, 3));
 * const objects = new Uint8Array([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 255]); // instance ids, 255 = void
 * const classes = new Uint8Array([15, 15, 0, 0, 15, 15, 0, 0, 0, 0, 0, 255]); // 15 = person
 * await Deno.writeFile(`${root}/SegmentationObject/2007_000032.png`, encodePng(objects, 4, 3, 1));
 * await Deno.writeFile(`${root}/SegmentationClass/2007_000032.png`, encodePng(classes, 4, 3, 1));
 * const ds = await loadVocDataset(root);
 * const { target } = await ds.get(0);
 * assert.equal(ds.classNames[target.labels[0]], "person");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function loadVocDataset(root: string, options: VocDatasetOptions = {}): Promise<VocDataset> {
  const images = await firstFolder(root, ["JPEGImages", "images"], /\.(jpe?g|png)$/i);
  if (!images) throw new DataError("missing-file", "no JPEGImages/ folder", { file: root });
  const objects = await firstFolder(root, ["SegmentationObject", "SegmentationObjectPNG"], /\.png$/i);
  const classes = await firstFolder(root, ["SegmentationClass", "SegmentationClassPNG"], /\.png$/i);
  if (!objects || !classes) {
    throw new DataError(
      "missing-file",
      "a VOC segmentation dataset needs SegmentationObject/ and SegmentationClass/ folders",
      { file: root },
    );
  }
  let names: string[];
  if (options.split !== undefined) {
    const list = `${root}/ImageSets/Segmentation/${options.split}.txt`;
    const text = await readText(list);
    if (text === null) throw new DataError("missing-file", "no such image list", { file: list });
    names = text.split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((n) => n);
    for (const name of names) {
      if (!images.files.has(name)) throw new DataError("unknown-image", `no image ${name}`, { file: list });
    }
  } else {
    names = [...objects.files.keys()].filter((n) => images.files.has(n)).sort();
  }
  let classNames = VOC_CLASS_NAMES;
  const labelme = await readText(`${root}/class_names.txt`);
  if (labelme !== null) {
    const listed = labelme.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && l !== "__ignore__");
    if (listed.length >= 2) classNames = ["background", ...listed.slice(1)];
  }
  const issues: DataError[] = [];
  return {
    names,
    length: names.length,
    classNames,
    issues,
    async get(i: number): Promise<IdMaskItem> {
      const name = names[i];
      if (name === undefined) {
        throw new RangeError(`voc_dataset.ts: index ${i} out of range 0..${names.length - 1}`);
      }
      const file = images.files.get(name)!;
      const image = await readImageFile(file);
      const objectFile = objects.files.get(name), classFile = classes.files.get(name);
      if (objectFile === undefined) {
        return { name, file, image, target: emptyTarget() };
      }
      if (classFile === undefined) {
        throw new DataError("missing-file", `no SegmentationClass mask for ${name}`, { file: objectFile });
      }
      const { width: W, height: H } = image;
      const instanceMap = await readIdMap(objectFile, W, H);
      const classMap = await readIdMap(classFile, W, H);
      const found = instancesFromIds(instanceMap, {
        ignore: [VOC_VOID],
        labelOf: (_, pixels) => majorityClass(classMap.ids, pixels, [VOC_VOID]),
      });
      for (const d of found.dropped) {
        const why = d.reason === "no-class"
          ? "has no class in SegmentationClass"
          : "is one pixel wide or tall";
        issues.push(
          new DataError(
            d.reason === "no-class" ? "unknown-category" : "zero-area-box",
            `instance ${d.id} ${why}`,
            { file: objectFile },
          ),
        );
      }
      const bad = Array.from(found.labels).find((l) => l >= classNames.length);
      if (bad !== undefined) {
        throw new DataError(
          "unknown-category",
          `class id ${bad} is beyond the ${classNames.length - 1} class names`,
          { file: classFile },
        );
      }
      return { name, file, image, target: { boxes: found.boxes, labels: found.labels, masks: found.masks } };
    },
  };
}
