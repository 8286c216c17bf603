/**
 * Folder datasets: images with one PNG mask per instance.
 *
 * Layout under `root`:
 * ```
 * images/NAME.png | NAME.jpg | NAME.jpeg   the image
 * masks/NAME_<k>_<label>.png               instance k (0, 1, …) of class <label> (1..C); any pixel whose
 *                                          first channel is non-zero belongs to the instance
 * ```
 * NAME may itself contain `_`: the last two `_` fields of a mask name are k and label. Boxes are the masks'
 * tight boxes as torchvision's `masks_to_boxes` gives them (x2 = max x), which is why a mask one pixel wide
 * or tall is refused like an empty one (torchvision refuses boxes without width or height). Images without masks have no instances; a mask for an image that does not exist, an
 * empty mask or one of another size is a `DataError` naming the mask file.
 * @module
 */

import { DataError } from "./errors.ts";
import { decodeMaskPng, readImageFile } from "./image_codec.ts";
import { maskBox } from "./mask_boxes.ts";
import type { Dataset, TrainItem } from "./types.ts";

/** One item of a folder dataset. */
export interface FolderItem extends TrainItem {
  /** Image name without extension. */
  name: string;
  /** Image file path. */
  file: string;
}

/** A folder dataset. */
export interface FolderDataset extends Dataset<FolderItem> {
  /** Image names (without extension), sorted. */
  readonly names: readonly string[];
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const MASK_NAME = /^(.+)_(\d+)_(\d+)\.png$/i;

/**
 * Indexes `root/images` and `root/masks`.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadFolderDataset } from "./folder_dataset.ts";
 * import { encodePng } from "./image_codec.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/images`);
 * await Deno.mkdir(`${root}/masks`);
 * await Deno.writeFile(`${root}/images/cat_1.png`, encodePng(new Uint8Array(4 * 3 * 3).fill(50), 4, 3, 3));
 * // 4×3, one 2×2 instance; its box is torchvision's masks_to_boxes: (min x, min y, max x, max y)
 * const mask = new Uint8Array([0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255, 0]);
 * await Deno.writeFile(`${root}/masks/cat_1_0_2.png`, encodePng(mask, 4, 3, 1)); // instance 0 of class 2
 * const ds = await loadFolderDataset(root);
 * const { image, target } = await ds.get(0);
 * assert.deepStrictEqual([image.width, image.height, ds.names], [4, 3, ["cat_1"]]);
 * assert.deepStrictEqual([target.labels, target.boxes], [new Int32Array([2]), new Float32Array([1, 1, 2, 2])]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function loadFolderDataset(root: string): Promise<FolderDataset> {
  const images = new Map<string, string>();
  try {
    for await (const e of Deno.readDir(`${root}/images`)) {
      if (e.isFile && IMAGE_EXT.test(e.name)) {
        images.set(e.name.replace(IMAGE_EXT, ""), `${root}/images/${e.name}`);
      }
    }
  } catch (e) {
    throw new DataError("missing-file", `cannot list images (${(e as Error).message})`, {
      file: `${root}/images`,
    });
  }
  const masks = new Map<string, { k: number; label: number; file: string }[]>();
  try {
    for await (const e of Deno.readDir(`${root}/masks`)) {
      const m = e.isFile ? MASK_NAME.exec(e.name) : null;
      if (!m) continue;
      const file = `${root}/masks/${e.name}`;
      if (!images.has(m[1])) throw new DataError("unknown-image", `mask for unknown image ${m[1]}`, { file });
      const label = Number(m[3]);
      if (label < 1) throw new DataError("unknown-category", `label ${label} must be >= 1`, { file });
      const list = masks.get(m[1]) ?? [];
      list.push({ k: Number(m[2]), label, file });
      masks.set(m[1], list);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const list of masks.values()) list.sort((a, b) => a.k - b.k);
  const names = [...images.keys()].sort();
  return {
    names,
    length: names.length,
    async get(i: number): Promise<FolderItem> {
      const name = names[i];
      if (name === undefined) {
        throw new RangeError(`folder_dataset.ts: index ${i} out of range 0..${names.length - 1}`);
      }
      const file = images.get(name)!;
      const image = await readImageFile(file);
      const W = image.width, H = image.height;
      const list = masks.get(name) ?? [];
      const stack = new Uint8Array(list.length * W * H);
      const boxes = new Float32Array(list.length * 4);
      for (const [k, entry] of list.entries()) {
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(entry.file);
        } catch (e) {
          throw new DataError("missing-file", `cannot read mask (${(e as Error).message})`, {
            file: entry.file,
          });
        }
        const m = await decodeMaskPng(bytes, entry.file);
        if (m.width !== W || m.height !== H) {
          throw new DataError("bad-mask", `mask is ${m.height}×${m.width}, image is ${H}×${W}`, {
            file: entry.file,
          });
        }
        const box = maskBox(m.mask, W, H);
        if (!box) throw new DataError("zero-area-box", "mask is empty", { file: entry.file });
        if (box[2] <= box[0] || box[3] <= box[1]) {
          throw new DataError("zero-area-box", "mask is one pixel wide or tall (its box has no area)", {
            file: entry.file,
          });
        }
        stack.set(m.mask, k * W * H);
        boxes.set(box, 4 * k);
      }
      return {
        name,
        file,
        image,
        target: { boxes, labels: Int32Array.from(list, (e) => e.label), masks: stack },
      };
    },
  };
}
