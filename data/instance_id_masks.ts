/**
 * Instance-id mask PNGs (PennFudanPed's `PedMasks/`, VOC's `SegmentationObject/` and
 * `SegmentationClass/`, labelme's VOC export): one PNG whose pixel values are ids (0 background, 1..N
 * instances or classes, 255 VOC's "void" border). {@link decodeIdPng} reads the stored values, i.e. the
 * palette indices of a palette PNG (what `numpy.array(PIL.Image.open(path))` gives, and what these
 * datasets store), not the colours a normal decoder would return; {@link instancesFromIds} splits an id
 * map into binary masks with torchvision's `masks_to_boxes` boxes, as torchvision's PennFudan tutorial does.
 *
 * Decisions: palette (1/2/4/8-bit), greyscale (1..16-bit) and grey+alpha PNGs give their stored values;
 * an RGB(A) PNG gives grey values where R = G = B and otherwise is read through VOC's colour map (so
 * a VOC mask re-saved as RGB still works); any other colour is a `DataError`. Interlaced PNGs are refused
 * (re-save them). Masks over `maxPixels` (default the image decoder's `DEFAULT_MAX_IMAGE_PIXELS`) are
 * refused from their header, before inflating.
 * @module
 */
import { DataError, type DataErrorLocation } from "./errors.ts";
import { DEFAULT_MAX_IMAGE_PIXELS } from "./image_codec.ts";
import { maskBox } from "./mask_boxes.ts";

/** An id map: one value per pixel, row-major. */
export interface IdMap {
  width: number;
  height: number;
  /** The stored value of each pixel (palette index, grey level, or VOC colour-map index). */
  ids: Uint16Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** VOC's colour map (`bitget` construction of the devkit's `VOClabelcolormap.m`): colour → index. */
function vocColorIndex(): Map<number, number> {
  const map = new Map<number, number>();
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    map.set((r << 16) | (g << 8) | b, i);
  }
  return map;
}
let vocColors: Map<number, number> | undefined;

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a PNG to the values it stores per pixel (see the module notes); `where` names it in the
 * `DataError` (`corrupt-image`, `bad-mask`) thrown for a damaged or unsupported file.
 *
 * @example
 * ```ts
 * import { decodeIdPng } from "./instance_id_masks.ts";
 * // const { ids } = await decodeIdPng(await Deno.readFile("PedMasks/FudanPed00001_mask.png"), "mask.png");
 * console.log(typeof decodeIdPng);
 * ```
 */
export async function decodeIdPng(
  bytes: Uint8Array,
  where: string | DataErrorLocation = "<memory>",
  options: { maxPixels?: number } = {},
): Promise<IdMap> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const loc = typeof where === "string" ? { file: where } : where;
  const fail = (detail: string, reason: "corrupt-image" | "bad-mask" = "corrupt-image"): never => {
    throw new DataError(reason, detail, loc);
  };
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) fail("not a PNG file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0, depth = 0, colorType = -1;
  const idat: Uint8Array[] = [];
  for (let pos = 8; pos + 8 <= bytes.length;) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, pos + 8 + length);
    if (body.length !== length) fail(`chunk ${type} is truncated`);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = body[8];
      colorType = body[9];
      if (body[12] !== 0) fail("interlaced PNG masks are not supported; re-save it without interlacing");
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    pos += 12 + length;
  }
  if (width === 0 || height === 0) fail("no IHDR chunk or an empty image");
  if (width * height > maxPixels) {
    fail(`${width}×${height} = ${width * height} pixels is over the limit of ${maxPixels}`);
  }
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  if (channels === undefined) fail(`unknown PNG colour type ${colorType}`);
  const bitsPerPixel = channels! * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let raw: Uint8Array;
  try {
    raw = await inflate(
      idat.length === 1
        ? idat[0]
        : new Uint8Array(await new Blob(idat as Uint8Array<ArrayBuffer>[]).arrayBuffer()),
    );
  } catch (e) {
    return fail(`cannot inflate the image data (${(e as Error).message})`);
  }
  if (raw.length < height * (stride + 1)) fail(`image data is truncated (${raw.length} bytes)`);
  // Undo the per-row filters in place: row y's bytes start at y * (stride + 1) + 1.
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
      const p = filter === 0
        ? 0
        : filter === 1
        ? a
        : filter === 2
        ? b
        : filter === 3
        ? (a + b) >> 1
        : filter === 4
        ? paeth(a, b, c)
        : fail(`unknown PNG row filter ${filter}`);
      out[i] = (src[i] + p) & 0xff;
    }
  }
  const ids = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = rows.subarray(y * stride, (y + 1) * stride);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (depth < 8) {
        const bit = x * bitsPerPixel;
        ids[i] = (row[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
      } else if (depth === 16) {
        ids[i] = (row[x * 2 * channels!] << 8) | row[x * 2 * channels! + 1];
      } else if (channels! >= 3) {
        const r = row[x * channels!], g = row[x * channels! + 1], b = row[x * channels! + 2];
        if (r === g && g === b) ids[i] = r;
        else {
          vocColors ??= vocColorIndex();
          const index = vocColors.get((r << 16) | (g << 8) | b);
          if (index === undefined) {
            fail(
              `pixel (${x}, ${y}) has colour (${r}, ${g}, ${b}), neither grey nor a VOC colour`,
              "bad-mask",
            );
          }
          ids[i] = index!;
        }
      } else ids[i] = row[x * channels!];
    }
  }
  return { width, height, ids };
}

/** Options of {@link instancesFromIds}. */
export interface InstancesFromIdsOptions {
  /** Ids that are not instances besides 0 (VOC's void border: 255). */
  ignore?: readonly number[];
  /** The label of instance `id` whose pixels are `pixels` (indices into the map); 0 drops it. */
  labelOf?: (id: number, pixels: Uint32Array) => number;
}

/** Instances split out of an id map (ascending id order). */
export interface IdInstances {
  /** The instance ids kept. */
  ids: number[];
  /** `n × 4` boxes as torchvision's `masks_to_boxes` (x2 = max x). */
  boxes: Float32Array;
  labels: Int32Array;
  /** `n × H × W` binary masks. */
  masks: Uint8Array;
  /** Instances dropped: label 0, or a box without width or height (one pixel wide or tall). */
  dropped: { id: number; reason: "no-class" | "zero-area-box" }[];
}

/**
 * One binary mask per distinct non-zero id (ascending, as `torch.unique` orders them), its
 * `masks_to_boxes` box and label (default 1). Instances whose box has no width or height are dropped
 * (torchvision refuses such boxes in training) and listed in `dropped`.
 *
 * @example
 * ```ts
 * import { instancesFromIds } from "./instance_id_masks.ts";
 * const map = { width: 3, height: 2, ids: new Uint16Array([0, 1, 1, 0, 1, 1]) };
 * console.log(instancesFromIds(map).boxes); // Float32Array [1, 0, 2, 1]
 * ```
 */
export function instancesFromIds(map: IdMap, options: InstancesFromIdsOptions = {}): IdInstances {
  const { width: W, height: H, ids } = map;
  const ignore = new Set([0, ...(options.ignore ?? [])]);
  const counts = new Map<number, number>();
  for (const v of ids) if (!ignore.has(v)) counts.set(v, (counts.get(v) ?? 0) + 1);
  const order = [...counts.keys()].sort((a, b) => a - b);
  const kept: { id: number; label: number; box: number[]; mask: Uint8Array }[] = [];
  const dropped: IdInstances["dropped"] = [];
  for (const id of order) {
    const pixels = new Uint32Array(counts.get(id)!);
    const mask = new Uint8Array(W * H);
    for (let i = 0, n = 0; i < ids.length; i++) {
      if (ids[i] === id) {
        mask[i] = 1;
        pixels[n++] = i;
      }
    }
    const label = options.labelOf ? options.labelOf(id, pixels) : 1;
    if (label === 0) {
      dropped.push({ id, reason: "no-class" });
      continue;
    }
    const box = maskBox(mask, W, H)!;
    if (box[2] <= box[0] || box[3] <= box[1]) {
      dropped.push({ id, reason: "zero-area-box" });
      continue;
    }
    kept.push({ id, label, box, mask });
  }
  const masks = new Uint8Array(kept.length * W * H);
  const boxes = new Float32Array(kept.length * 4);
  kept.forEach((k, i) => {
    masks.set(k.mask, i * W * H);
    boxes.set(k.box, 4 * i);
  });
  return { ids: kept.map((k) => k.id), boxes, labels: Int32Array.from(kept, (k) => k.label), masks, dropped };
}

/**
 * The most frequent value of `classes` over `pixels`, ignoring 0 and `ignore` (VOC: 255); 0 if none.
 *
 * @example
 * ```ts
 * import { majorityClass } from "./instance_id_masks.ts";
 * console.log(majorityClass(new Uint16Array([0, 3, 3, 255]), Uint32Array.of(1, 2, 3), [255])); // 3
 * ```
 */
export function majorityClass(
  classes: Uint16Array,
  pixels: Uint32Array,
  ignore: readonly number[] = [],
): number {
  const votes = new Map<number, number>();
  for (const i of pixels) {
    const c = classes[i];
    if (c !== 0 && !ignore.includes(c)) votes.set(c, (votes.get(c) ?? 0) + 1);
  }
  let best = 0, most = 0;
  for (const [c, n] of votes) if (n > most || (n === most && c < best)) [best, most] = [c, n];
  return best;
}
