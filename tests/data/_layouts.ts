/**
 * Generators of small datasets in the layouts people have, from seeded shapes images (so the expected
 * targets are known exactly): PennFudanPed (PNGImages/ + PedMasks/ palette PNGs of instance ids), VOC /
 * labelme's VOC export (JPEGImages/, SegmentationObject/, SegmentationClass/, 255 void pixels,
 * ImageSets/Segmentation lists, optional class_names.txt) and a COCO file with labelme's `_background_`
 * category 0. Each dataset has one extra image without objects (a negative). The palette PNG writer here
 * is independent of the reader under test (filter 0 rows, zlib via CompressionStream, its own CRC-32).
 * @module
 */
import { encodePng } from "../../data/image_codec.ts";
import { generateShapesItem, SHAPES_CLASS_NAMES } from "../../data/shapes.ts";
import type { TrainItem } from "../../data/types.ts";
import { columnMajorCounts } from "./tiny_coco.ts";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An 8-bit palette PNG of `ids` (what PIL writes for VOC / PennFudan masks), palette = VOC-like colours. */
export async function encodePalettePng(ids: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 3, 0, 0, 0], 8);
  const palette = new Uint8Array(256 * 3).map((_, i) => (i * 37) & 0xff);
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(ids.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("PLTE", palette),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  return new Uint8Array(await new Blob(parts as Uint8Array<ArrayBuffer>[]).arrayBuffer());
}

/** The seeded shapes items a layout is made of (`count` with objects, then one without). */
export function layoutItems(count: number, size = 64, seed = 40): TrainItem[] {
  const items: TrainItem[] = [];
  for (let i = 0; i < count; i++) items.push(generateShapesItem(seed + i, { width: size, height: size }));
  const blank = generateShapesItem(seed + count, { width: size, height: size });
  items.push({ image: blank.image, target: { boxes: new Float32Array(0), labels: new Int32Array(0) } });
  return items;
}

/** The id map of an item: instance k has id k + 1 (0 background). */
export function instanceIds(item: TrainItem): Uint8Array {
  const { width: W, height: H } = item.image;
  const ids = new Uint8Array(W * H);
  item.target.labels.forEach((_, k) => {
    for (let i = 0; i < W * H; i++) if (item.target.masks![k * W * H + i]) ids[i] = k + 1;
  });
  return ids;
}

const pad = (i: number) => String(i).padStart(5, "0");

/**
 * PennFudanPed layout in `root`: PNGImages/FudanPed0000i.png, PedMasks/FudanPed0000i_mask.png (palette
 * PNG, instance ids). The last (blank) image has no mask file.
 */
export async function writePennFudan(root: string, items: readonly TrainItem[]): Promise<string[]> {
  await Deno.mkdir(`${root}/PNGImages`, { recursive: true });
  await Deno.mkdir(`${root}/PedMasks`, { recursive: true });
  const names: string[] = [];
  for (const [i, item] of items.entries()) {
    const { width: W, height: H, data } = item.image;
    const name = `FudanPed${pad(i + 1)}`;
    names.push(name);
    await Deno.writeFile(`${root}/PNGImages/${name}.png`, encodePng(data, W, H, 3));
    if (item.target.labels.length === 0) continue;
    await Deno.writeFile(
      `${root}/PedMasks/${name}_mask.png`,
      await encodePalettePng(instanceIds(item), W, H),
    );
  }
  return names;
}

/** VOC class id written for shapes label k (VOC's person, cat, dog), unless `classNamesTxt`. */
export const VOC_IDS_OF_SHAPES = [0, 15, 8, 12];

/**
 * VOC layout in `root`: JPEGImages/ (PNG-encoded, lossless), SegmentationObject/ (instance ids with a
 * void 255 frame round the image), SegmentationClass/ (class ids, the same void frame), and
 * ImageSets/Segmentation/train.txt (every item but the first) and val.txt (the first). With
 * `classNamesTxt`, labelme's class_names.txt (`__ignore__`, `_background_`, square, circle, triangle) is
 * written and class ids are the shapes labels; otherwise the ids are {@link VOC_IDS_OF_SHAPES}.
 */
export async function writeVoc(
  root: string,
  items: readonly TrainItem[],
  options: { classNamesTxt?: boolean } = {},
): Promise<string[]> {
  for (const dir of ["JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  }
  const names: string[] = [];
  for (const [i, item] of items.entries()) {
    const { width: W, height: H, data } = item.image;
    const name = `2007_${pad(i)}`;
    names.push(name);
    await Deno.writeFile(`${root}/JPEGImages/${name}.png`, encodePng(data, W, H, 3));
    const objects = instanceIds(item);
    const classes = objects.map((id) => {
      if (id === 0) return 0;
      const label = item.target.labels[id - 1];
      return options.classNamesTxt ? label : VOC_IDS_OF_SHAPES[label];
    });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (x === 0 || y === 0 || x === W - 1 || y === H - 1) objects[y * W + x] = classes[y * W + x] = 255;
      }
    }
    await Deno.writeFile(`${root}/SegmentationObject/${name}.png`, await encodePalettePng(objects, W, H));
    await Deno.writeFile(`${root}/SegmentationClass/${name}.png`, await encodePalettePng(classes, W, H));
  }
  await Deno.writeTextFile(`${root}/ImageSets/Segmentation/train.txt`, names.slice(1).join("\n") + "\n");
  await Deno.writeTextFile(`${root}/ImageSets/Segmentation/val.txt`, names[0] + "\n");
  if (options.classNamesTxt) {
    await Deno.writeTextFile(
      `${root}/class_names.txt`,
      ["__ignore__", "_background_", ...SHAPES_CLASS_NAMES.slice(1)].join("\n") + "\n",
    );
  }
  return names;
}

/** The target a VOC reader should give for `item` (the void frame removed from the masks and boxes). */
export function vocExpected(item: TrainItem): { masks: Uint8Array; boxes: number[] } {
  const { width: W, height: H } = item.image;
  const masks = (item.target.masks ?? new Uint8Array(0)).map((v, i) => {
    const x = i % W, y = Math.floor(i / W) % H;
    return x === 0 || y === 0 || x === W - 1 || y === H - 1 ? 0 : v;
  });
  return { masks, boxes: torchvisionBoxes(masks, item.target.labels.length, W, H) };
}

/** masks_to_boxes written out plainly: [min x, min y, max x, max y] per mask. */
export function torchvisionBoxes(masks: Uint8Array, n: number, W: number, H: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const xs: number[] = [], ys: number[] = [];
    for (let i = 0; i < W * H; i++) {
      if (masks[k * W * H + i]) {
        xs.push(i % W);
        ys.push(Math.floor(i / W));
      }
    }
    out.push(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
  }
  return out;
}

/**
 * A COCO file as labelme's export writes it: category 0 `_background_` then the shapes classes
 * (ids 1..3), uncompressed RLE segmentations, `file_name`s `images/img_<i>.png` relative to `root` (the
 * image folder to give). Returns the JSON path.
 */
export async function writeCocoWithBackground(root: string, items: readonly TrainItem[]): Promise<string> {
  await Deno.mkdir(`${root}/images`, { recursive: true });
  const images: unknown[] = [], annotations: unknown[] = [];
  for (const [i, item] of items.entries()) {
    const { width: W, height: H, data } = item.image;
    const file = `images/img_${i}.png`; // file_name with a folder, as many exporters write it
    await Deno.writeFile(`${root}/${file}`, encodePng(data, W, H, 3));
    images.push({ id: i + 1, file_name: file, width: W, height: H });
    item.target.labels.forEach((label, k) => {
      const mask = item.target.masks!.subarray(k * W * H, (k + 1) * W * H);
      const [x1, y1, x2, y2] = item.target.boxes.subarray(4 * k, 4 * k + 4);
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: label,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: mask.reduce((s, v) => s + v, 0),
        iscrowd: 0,
        segmentation: { size: [H, W], counts: columnMajorCounts(mask, W, H) },
      });
    });
  }
  const categories = [{ id: 0, name: "_background_" }].concat(
    SHAPES_CLASS_NAMES.slice(1).map((name, i) => ({ id: i + 1, name })),
  );
  const path = `${root}/annotations.json`;
  await Deno.writeTextFile(path, JSON.stringify({ images, annotations, categories }));
  return path;
}

/** The folder layout (images/NAME.png + masks/NAME_<k>_<label>.png, 0/255 masks) in `root`. */
export async function writeFolder(root: string, items: readonly TrainItem[]): Promise<void> {
  await Deno.mkdir(`${root}/images`, { recursive: true });
  await Deno.mkdir(`${root}/masks`, { recursive: true });
  for (const [i, item] of items.entries()) {
    const { width: W, height: H, data } = item.image;
    await Deno.writeFile(`${root}/images/img_${i}.png`, encodePng(data, W, H, 3));
    for (const [k, label] of item.target.labels.entries()) {
      const mask = item.target.masks!.subarray(k * W * H, (k + 1) * W * H).map((v) => v * 255);
      await Deno.writeFile(`${root}/masks/img_${i}_${k}_${label}.png`, encodePng(mask, W, H, 1));
    }
  }
}
