/**
 * Image decoding with a browser's own codecs (`createImageBitmap`, `OffscreenCanvas`): what
 * {@link decodeImage} uses in a page, where imagescript's WebAssembly loaders (which read their `.wasm` from
 * the file system) cannot run. Also turns a drawable image (an `ImageBitmap`, an `<img>` or `<canvas>`
 * element, a `VideoFrame`) into RGB pixels for `detect`.
 *
 * Colour: images are decoded with `colorSpaceConversion: "none"` and `premultiplyAlpha: "none"`, so an opaque
 * PNG gives exactly the bytes imagescript gives in Deno; JPEG decoders may differ from imagescript's by a few
 * levels. A canvas stores premultiplied alpha, so translucent pixels can be off by one level.
 * @module
 */
import type { Image } from "./types.ts";

/** Something a 2D canvas can draw: an `ImageBitmap`, an `<img>`, `<canvas>` or `<video>`, a `VideoFrame`. */
export interface DrawableImage {
  readonly width: number;
  readonly height: number;
  /** `<img>`: the image's own size (its `width` is the laid-out size). */
  readonly naturalWidth?: number;
  readonly naturalHeight?: number;
  /** `<video>`: the frame size. */
  readonly videoWidth?: number;
  readonly videoHeight?: number;
}

interface Canvas2d {
  drawImage(image: unknown, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
}
type CanvasCtor = new (w: number, h: number) => {
  getContext(kind: "2d", options?: object): Canvas2d | null;
};
type ImageBitmapFactory = (source: Blob, options?: object) => Promise<DrawableImage & { close(): void }>;

/**
 * True where the browser codecs exist and Deno does not: in a page or a worker.
 * @example
 * ```ts
 * import { hasBrowserImageCodecs } from "./image_browser.ts";
 * console.log(hasBrowserImageCodecs()); // false in Deno, true in a page
 * ```
 */
export function hasBrowserImageCodecs(): boolean {
  const g = globalThis as Record<string, unknown>;
  return g.Deno === undefined && typeof g.createImageBitmap === "function" &&
    typeof g.OffscreenCanvas === "function";
}

function canvasCtor(): CanvasCtor {
  const ctor = (globalThis as Record<string, unknown>).OffscreenCanvas as CanvasCtor | undefined;
  if (!ctor) throw new TypeError("image_browser.ts: OffscreenCanvas is not available in this runtime");
  return ctor;
}

/**
 * Reads a drawable image's pixels as interleaved RGB (alpha dropped, no blending).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { drawableToRgb } from "./image_browser.ts";
 * // In a page: const { width, height, data } = drawableToRgb(document.querySelector("img")!);
 * // (data.length === width * height * 3). Deno has no OffscreenCanvas: there it is a TypeError naming it.
 * assert.throws(() => drawableToRgb({ width: 2, height: 2 } as never), /OffscreenCanvas/);
 * ```
 */
export function drawableToRgb(source: DrawableImage): Image {
  const width = source.naturalWidth || source.videoWidth || source.width;
  const height = source.naturalHeight || source.videoHeight || source.height;
  if (!(width > 0 && height > 0)) {
    throw new RangeError(
      `image_browser.ts: the image is ${width}×${height}; is it loaded (await img.decode())?`,
    );
  }
  const Canvas = canvasCtor();
  const ctx = new Canvas(width, height).getContext("2d", { willReadFrequently: true, colorSpace: "srgb" });
  if (!ctx) throw new TypeError("image_browser.ts: OffscreenCanvas has no 2d context");
  ctx.drawImage(source, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i];
    data[3 * i + 1] = rgba[4 * i + 1];
    data[3 * i + 2] = rgba[4 * i + 2];
  }
  return { width, height, data };
}

/**
 * Decodes PNG/JPEG bytes with the browser's codecs to interleaved RGB.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeImageInBrowser } from "./image_browser.ts";
 * // In a page: const image = await decodeImageInBrowser(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * // Bytes that are no image are refused (in Deno, decodeImage uses imagescript instead of this).
 * await assert.rejects(() => decodeImageInBrowser(new Uint8Array(8)));
 * ```
 */
export async function decodeImageInBrowser(bytes: Uint8Array): Promise<Image> {
  const factory = (globalThis as Record<string, unknown>).createImageBitmap as ImageBitmapFactory | undefined;
  if (!factory) throw new TypeError("image_browser.ts: createImageBitmap is not available in this runtime");
  const bitmap = await factory(new Blob([bytes as Uint8Array<ArrayBuffer>]), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  try {
    return drawableToRgb(bitmap);
  } finally {
    bitmap.close();
  }
}
