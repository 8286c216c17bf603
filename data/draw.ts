/**
 * Pictures of results: each instance's mask tinted in its own colour, its box, and its class name and score
 * as text; the same drawing for ground truth, so people can look at their data before training.
 * Drawing is plain CPU work on an RGBA bitmap; imagescript's PNG writer only encodes it.
 * @module
 */
import { encodePng } from "./image_codec.ts";
import { GLYPH_HEIGHT, rasterizeText, textWidth } from "./bitmap_font.ts";

/** An image as interleaved RGB or RGBA bytes (channels inferred from the length). */
export interface RgbImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** The instances to draw (a `detect` result, or ground truth with `scores` omitted). */
export interface DrawableInstances {
  count?: number;
  /** count×4 (x1, y1, x2, y2) in image pixels. */
  boxes: Float32Array;
  labels: Int32Array;
  scores?: Float32Array;
  /** count×height×width 0/1, row-major. */
  masks?: Uint8Array;
}

/** Options of {@link drawDetections}. */
export interface DrawOptions {
  /** Names indexed by label (label 0 is background); defaults to the label number. */
  classNames?: readonly string[];
  /** Opacity of the mask tint, 0..1 (default 0.45). */
  maskAlpha?: number;
  /** Box line width in pixels (default 2). */
  lineWidth?: number;
  /** Text scale: each font pixel becomes scale×scale image pixels (default 2; 1 for images < 200 px). */
  textScale?: number;
}

/**
 * The colour of instance `index`: hues spaced by the golden angle so that neighbours differ.
 *
 * @example
 * ```ts
 * import { instanceColor } from "./draw.ts";
 * console.log(instanceColor(0)); // [242, 36, 36] (a red)
 * ```
 */
export function instanceColor(index: number): [number, number, number] {
  const hue = (index * 0.618033988749895) % 1;
  const s = 0.85, v = 0.95;
  const h6 = hue * 6;
  const sector = Math.floor(h6);
  const f = h6 - sector;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][sector % 6];
  return rgb.map((c) => Math.round(c * 255)) as [number, number, number];
}

/**
 * Converts RGB or RGBA bytes to a fresh RGBA bitmap; throws naming the size when the length fits neither.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { toRgba } from "./draw.ts";
 * const rgba = toRgba({ data: new Uint8Array([255, 0, 0, 0, 0, 255]), width: 2, height: 1 });
 * assert.deepStrictEqual([...rgba], [255, 0, 0, 255, 0, 0, 255, 255]); // opaque red, opaque blue
 * ```
 */
export function toRgba(image: RgbImage): Uint8ClampedArray {
  const pixels = image.width * image.height;
  if (!(image.width > 0 && image.height > 0)) {
    throw new RangeError(`drawDetections: image is ${image.width}×${image.height}; both sides must be > 0`);
  }
  const rgba = new Uint8ClampedArray(pixels * 4);
  if (image.data.length === pixels * 4) {
    rgba.set(image.data);
  } else if (image.data.length === pixels * 3) {
    for (let i = 0; i < pixels; i++) {
      rgba[4 * i] = image.data[3 * i];
      rgba[4 * i + 1] = image.data[3 * i + 1];
      rgba[4 * i + 2] = image.data[3 * i + 2];
      rgba[4 * i + 3] = 255;
    }
  } else {
    throw new RangeError(
      `drawDetections: image data has ${image.data.length} bytes; a ${image.width}×${image.height} image needs ` +
        `${pixels * 3} (RGB) or ${pixels * 4} (RGBA)`,
    );
  }
  return rgba;
}

/**
 * Draws instances onto an RGBA bitmap in place (tint, box, label), in order, so later instances are on top.
 *
 * @example
 * ```ts
 * import { drawInstancesRgba } from "./draw.ts";
 * const rgba = new Uint8ClampedArray(64 * 64 * 4).fill(255);
 * drawInstancesRgba(rgba, 64, 64, { boxes: new Float32Array([8, 8, 40, 40]), labels: new Int32Array([1]) }, {});
 * ```
 */
export function drawInstancesRgba(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  instances: DrawableInstances,
  options: DrawOptions,
): void {
  const count = instances.count ?? instances.labels.length;
  const alpha = options.maskAlpha ?? 0.45;
  const lineWidth = options.lineWidth ?? 2;
  const scale = options.textScale ?? (Math.min(width, height) < 200 ? 1 : 2);
  const paint = (x: number, y: number, color: readonly number[], a = 1) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = 4 * (y * width + x);
    for (let c = 0; c < 3; c++) rgba[o + c] = Math.round((1 - a) * rgba[o + c] + a * color[c]);
  };
  for (let i = 0; i < count; i++) {
    const color = instanceColor(i);
    if (instances.masks) {
      const plane = width * height;
      const mask = instances.masks.subarray(i * plane, (i + 1) * plane);
      for (let p = 0; p < plane; p++) if (mask[p]) paint(p % width, Math.floor(p / width), color, alpha);
    }
    const [x1, y1, x2, y2] = Array.from(instances.boxes.subarray(4 * i, 4 * i + 4), Math.round);
    for (let t = 0; t < lineWidth; t++) {
      for (let x = x1; x <= x2; x++) {
        paint(x, y1 + t, color);
        paint(x, y2 - t, color);
      }
      for (let y = y1; y <= y2; y++) {
        paint(x1 + t, y, color);
        paint(x2 - t, y, color);
      }
    }
    const name = options.classNames?.[instances.labels[i]] ?? String(instances.labels[i]);
    const text = instances.scores ? `${name} ${instances.scores[i].toFixed(2)}` : name;
    const stripHeight = (GLYPH_HEIGHT + 2) * scale;
    const top = y1 - stripHeight >= 0 ? y1 - stripHeight : Math.max(0, y1);
    const stripWidth = textWidth(text, scale) + scale;
    for (let y = top; y < top + stripHeight; y++) {
      for (let x = x1; x < x1 + stripWidth; x++) paint(x, y, color);
    }
    const luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2];
    const ink = luminance > 140 ? [0, 0, 0] : [255, 255, 255];
    rasterizeText(text, x1 + scale, top + scale, scale, (x, y) => paint(x, y, ink));
  }
}

/**
 * Draws a `detect` result (masks tinted, boxes, "name score" labels) and returns PNG bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { drawDetections } from "./draw.ts";
 * import { decodeImage } from "./image_codec.ts";
 * const image = { data: new Uint8Array(32 * 32 * 3).fill(128), width: 32, height: 32 };
 * const png = drawDetections(image, {
 *   count: 1, boxes: new Float32Array([4, 4, 20, 20]), scores: new Float32Array([0.9]), labels: new Int32Array([1]),
 * }, { classNames: ["background", "square"] });
 * const drawn = await decodeImage(png); // e.g. await Deno.writeFile("out.png", png)
 * assert.deepStrictEqual([drawn.width, drawn.height], [32, 32]);
 * assert.notDeepStrictEqual(drawn.data, image.data); // the box and label were drawn
 * ```
 */
export function drawDetections(
  image: RgbImage,
  result: DrawableInstances,
  options: DrawOptions = {},
): Uint8Array {
  const rgba = toRgba(image);
  drawInstancesRgba(rgba, image.width, image.height, result, options);
  return encodePng(new Uint8Array(rgba.buffer), image.width, image.height, 4);
}

/**
 * Draws ground-truth instances (boxes, labels and masks, no scores) the same way, to check data by eye.
 *
 * @example
 * ```ts
 * import { drawGroundTruth } from "./draw.ts";
 * const image = { data: new Uint8Array(32 * 32 * 3).fill(90), width: 32, height: 32 };
 * const png = drawGroundTruth(image, { boxes: new Float32Array([2, 2, 9, 9]), labels: new Int32Array([2]) });
 * console.log(png.length > 0);
 * ```
 */
export function drawGroundTruth(
  image: RgbImage,
  target: { boxes: Float32Array; labels: Int32Array; masks?: Uint8Array },
  options: DrawOptions = {},
): Uint8Array {
  return drawDetections(image, { boxes: target.boxes, labels: target.labels, masks: target.masks }, options);
}
