// A tiny COCO instances dataset written into a directory for the COCO and bad-input tests: three PNG
// images, categories with non-contiguous ids, polygon / uncompressed RLE / compressed RLE / crowd annotations.
import { encodePng } from "../../data/image_codec.ts";
import { Rng } from "../../data/prng.ts";
import { rleEncode } from "../../data/rle.ts";

export function rectMask(w: number, h: number, x1: number, y1: number, x2: number, y2: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) m[y * w + x] = 1;
  return m;
}

/** Column-major run lengths starting with zeros: COCO's uncompressed RLE, written independently. */
export function columnMajorCounts(mask: Uint8Array, w: number, h: number): number[] {
  const counts: number[] = [];
  let value = 0, run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      if (mask[y * w + x] !== value) {
        counts.push(run);
        run = 0;
        value ^= 1;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

function randomRgb(w: number, h: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255));
}

/** Writes a.png, b.png, c.png and instances.json into `dir`; returns the pixel data and masks written. */
export async function writeTinyCoco(dir: string) {
  const img1 = randomRgb(10, 8, 1), img2 = randomRgb(12, 9, 2), img3 = randomRgb(5, 5, 3);
  await Deno.writeFile(`${dir}/a.png`, encodePng(img1, 10, 8, 3));
  await Deno.writeFile(`${dir}/b.png`, encodePng(img2, 12, 9, 3));
  await Deno.writeFile(`${dir}/c.png`, encodePng(img3, 5, 5, 3));
  const rleMask = rectMask(10, 8, 6, 2, 9, 7);
  rleMask[2 * 10 + 6] = 0;
  const crowdMask = rectMask(10, 8, 0, 5, 3, 8);
  const compressedMask = rectMask(12, 9, 0, 0, 2, 3);
  const json = {
    images: [
      { id: 2, file_name: "b.png", width: 12, height: 9 },
      { id: 1, file_name: "a.png", width: 10, height: 8 },
      { id: 3, file_name: "c.png", width: 5, height: 5 },
    ],
    categories: [{ id: 3, name: "cat" }, { id: 7, name: "dog" }, { id: 1, name: "ant" }],
    annotations: [
      {
        id: 10,
        image_id: 1,
        category_id: 7,
        bbox: [1, 1, 4, 3],
        segmentation: [[1, 1, 5, 1, 5, 4, 1, 4]],
        iscrowd: 0,
      },
      {
        id: 11,
        image_id: 1,
        category_id: 1,
        bbox: [6, 2, 3, 5],
        segmentation: { size: [8, 10], counts: columnMajorCounts(rleMask, 10, 8) },
        iscrowd: 0,
      },
      {
        id: 12,
        image_id: 1,
        category_id: 3,
        bbox: [0, 5, 3, 3],
        segmentation: { size: [8, 10], counts: columnMajorCounts(crowdMask, 10, 8) },
        iscrowd: 1,
      },
      // Two polygon parts, box partly outside the image (clipped to 12×9).
      {
        id: 13,
        image_id: 2,
        category_id: 3,
        bbox: [8, 5, 10, 10],
        segmentation: [[8, 5, 10, 5, 10, 7, 8, 7], [10, 7, 12, 7, 12, 9, 10, 9]],
      },
      {
        id: 14,
        image_id: 2,
        category_id: 1,
        bbox: [0, 0, 2, 3],
        segmentation: rleEncode(compressedMask, 9, 12),
      },
    ],
  };
  await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(json));
  return { img1, img2, rleMask, crowdMask, compressedMask };
}
