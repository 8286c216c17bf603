/**
 * PennFudanPed-style datasets (torchvision's fine-tuning tutorial data): `PNGImages/NAME.png` and
 * `PedMasks/NAME_mask.png`, one PNG per image whose pixel values are instance ids (0 background, 1..N
 * pedestrians). Every instance has label 1 (`pedestrian`); boxes are `masks_to_boxes` of the instance
 * masks, exactly as the tutorial's `PennFudanDataset.__getitem__` builds them.
 *
 * Decisions: the image folder may also be `images/` and the mask folder `masks/`; a mask is paired with
 * the image of the same stem, `_mask` suffix optional; an image without a mask file (or whose mask has no
 * instances) is kept as an image without objects (torchvision trains on such negatives); a mask without
 * an image, or of another size, is a `DataError` naming the file. Instances one pixel wide or tall are
 * dropped (their box has no area) and counted in `issues`.
 * @module
 */
import { emptyTarget, firstFolder, readIdMap } from "./_id_mask_folders.ts";
import { DataError } from "./errors.ts";
import { readImageFile } from "./image_codec.ts";
import { instancesFromIds } from "./instance_id_masks.ts";
import type { Dataset, TrainItem } from "./types.ts";

/** One item of an image-folder dataset with id-map masks. */
export interface IdMaskItem extends TrainItem {
  /** Image name without extension. */
  name: string;
  /** Image file path. */
  file: string;
}

/** A PennFudan-style dataset. */
export interface PennFudanDataset extends Dataset<IdMaskItem> {
  /** Image names (without extension), sorted. */
  readonly names: readonly string[];
  /** Class names by label: `["background", "pedestrian"]`. */
  readonly classNames: readonly string[];
  /** Instances dropped by the items read so far (degenerate boxes). */
  readonly issues: DataError[];
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/**
 * Indexes a PennFudanPed-style folder (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadPennFudanDataset } from "./pennfudan_dataset.ts";
 * import { encodePng } from "./image_codec.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/PNGImages`);
 * await Deno.mkdir(`${root}/PedMasks`);
 * await Deno.writeFile(`${root}/PNGImages/FudanPed00001.png`, encodePng(new Uint8Array(36).fill(90), 4, 3, 3));
 * const ids = new Uint8Array([1, 1, 0, 0, 1, 1, 2, 2, 0, 0, 2, 2]); // 4×3: pedestrians 1 and 2
 * await Deno.writeFile(`${root}/PedMasks/FudanPed00001_mask.png`, encodePng(ids, 4, 3, 1));
 * const ds = await loadPennFudanDataset(root);
 * const { target } = await ds.get(0);
 * assert.deepStrictEqual([...target.labels], [1, 1]); // every instance is a pedestrian
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function loadPennFudanDataset(root: string): Promise<PennFudanDataset> {
  const images = await firstFolder(root, ["PNGImages", "images"], IMAGE_EXT);
  if (!images) {
    throw new DataError("missing-file", "no PNGImages/ (or images/) folder", { file: root });
  }
  const masks = await firstFolder(root, ["PedMasks", "masks"], /(_mask)?\.png$/i);
  const maskOf = masks?.files ?? new Map<string, string>();
  for (const [stem, file] of maskOf) {
    if (!images.files.has(stem)) {
      throw new DataError("unknown-image", `mask for unknown image ${stem}`, { file });
    }
  }
  const names = [...images.files.keys()].sort();
  const issues: DataError[] = [];
  return {
    names,
    length: names.length,
    classNames: ["background", "pedestrian"],
    issues,
    async get(i: number): Promise<IdMaskItem> {
      const name = names[i];
      if (name === undefined) {
        throw new RangeError(`pennfudan_dataset.ts: index ${i} out of range 0..${names.length - 1}`);
      }
      const file = images.files.get(name)!;
      const image = await readImageFile(file);
      const maskFile = maskOf.get(name);
      if (maskFile === undefined) {
        return { name, file, image, target: emptyTarget() };
      }
      const map = await readIdMap(maskFile, image.width, image.height);
      const found = instancesFromIds(map);
      for (const d of found.dropped) {
        issues.push(
          new DataError("zero-area-box", `instance ${d.id} is one pixel wide or tall`, { file: maskFile }),
        );
      }
      return { name, file, image, target: { boxes: found.boxes, labels: found.labels, masks: found.masks } };
    },
  };
}
