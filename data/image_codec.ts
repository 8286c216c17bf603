/**
 * Image decoding and encoding with imagescript's WebAssembly/JS codecs: JPEG and PNG to interleaved RGB
 * (greyscale, grey+alpha, RGBA and CMYK converted), PNG encoding of masks and images.
 *
 * Only the WASM/JS parts of imagescript are imported, so decoding needs no `--allow-ffi`; it needs
 * `--allow-read` (the WASM module is read from the npm cache) and `--allow-env`. Its WASM loaders are
 * Node-style CommonJS (they read the `.wasm` file and `process.env` when loaded), so they are imported
 * lazily, on the first decode in Deno; in a browser page decoding uses the browser's own codecs
 * (`image_browser.ts`) and the loaders are never run.
 *
 * Decompression bombs: the pixel count a PNG/JPEG header declares is checked against a limit
 * ({@link DEFAULT_MAX_IMAGE_PIXELS}) before the decoder runs, so a small file claiming 20000×20000 pixels
 * costs nothing; the error names the file, the size, the limit and how to raise it.
 * @module
 */

// Full npm: specifiers, not the import map's bare ones: a script that imports this module by path or URL
// (outside this repository, without its deno.json) must resolve them too. The WASM decoders are imported
// when first used (below), so that a browser page, which decodes with its own codecs, never loads them.
// deno-lint-ignore no-import-prefix
import pngJs from "npm:imagescript@1.3.1/png/node.js";
import { decodeImageInBrowser, hasBrowserImageCodecs } from "./image_browser.ts";
import { DataError, type DataErrorLocation } from "./errors.ts";
import { readImageSize } from "./image_header.ts";
import type { Image } from "./types.ts";

interface JpegFramebuffer {
  width: number;
  height: number;
  format: number;
  buffer: Uint8Array;
}
interface JpegCodec {
  decode(data: Uint8Array): JpegFramebuffer;
}
interface PngCodec {
  decode(data: Uint8Array): { width: number; height: number; framebuffer: Uint8Array };
}

let jpegCodec: Promise<JpegCodec> | undefined;
let pngCodec: Promise<PngCodec> | undefined;

/** Kind of an encoded image, from its magic bytes. */
export type ImageFormat = "jpeg" | "png" | "unknown";

/**
 * Detects JPEG or PNG from the first bytes.
 * @example
 * ```ts
 * sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return "png";
  }
  return "unknown";
}

/**
 * Default cap on an image's pixel count: 50 megapixels. It admits 48-megapixel phone photos and 8K frames
 * (33 MP); decoding peaks at about 10 bytes per pixel (decoder output plus RGB copy), so ~0.5 GB, which a
 * small machine has. A 20000×20000 image (400 MP, ~4–7 GB to decode) is refused before decoding.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_IMAGE_PIXELS } from "./image_codec.ts";
 * console.log(DEFAULT_MAX_IMAGE_PIXELS); // 50000000
 * ```
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/** Environment variable that raises (or lowers) the default pixel limit, e.g. for the command-line tools. */
export const MAX_IMAGE_PIXELS_ENV = "MASKRCNN_MAX_IMAGE_PIXELS";

/** Options of {@link decodeImage} and {@link readImageFile}. */
export interface DecodeImageOptions {
  /**
   * Largest width × height decoded; larger images are refused from their header before decoding (default:
   * `$MASKRCNN_MAX_IMAGE_PIXELS` when set and readable, else {@link DEFAULT_MAX_IMAGE_PIXELS}).
   */
  maxPixels?: number;
}

function defaultMaxPixels(): number {
  try {
    const query = { name: "env", variable: MAX_IMAGE_PIXELS_ENV } as const;
    if (Deno.permissions.querySync(query).state !== "granted") return DEFAULT_MAX_IMAGE_PIXELS;
    const text = Deno.env.get(MAX_IMAGE_PIXELS_ENV);
    const n = Number(text);
    return text !== undefined && text.trim() !== "" && n > 0 ? n : DEFAULT_MAX_IMAGE_PIXELS;
  } catch {
    return DEFAULT_MAX_IMAGE_PIXELS;
  }
}

function checkPixelLimit(bytes: Uint8Array, format: string, loc: DataErrorLocation, maxPixels?: number) {
  const size = readImageSize(bytes);
  if (!size) return; // no readable header: the decoder reports the damage
  const limit = maxPixels ?? defaultMaxPixels();
  const pixels = size.width * size.height;
  if (pixels > limit) {
    const mp = (n: number) => `${+(n / 1e6).toFixed(1)} megapixels`;
    throw new DataError(
      "image-too-large",
      `${format} image is ${size.width}×${size.height} (${mp(pixels)}), over the limit of ${mp(limit)}; ` +
        `raise it with decodeImage's maxPixels option or the ${MAX_IMAGE_PIXELS_ENV} environment variable ` +
        `(e.g. ${MAX_IMAGE_PIXELS_ENV}=${Math.ceil(pixels / 1e6) * 1e6}), or downscale the image`,
      loc,
    );
  }
}

/**
 * Decodes JPEG or PNG bytes to RGB. `where` (a file name, or a file plus record index) locates the source in
 * the `DataError` (`corrupt-image`) thrown for undecodable data. An image whose header declares more than
 * `options.maxPixels` pixels is refused before decoding with reason `image-too-large`.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeImage, encodePng } from "./image_codec.ts";
 * const rgba = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 128]); // 2×1 RGBA; alpha is dropped
 * const image = await decodeImage(encodePng(rgba, 2, 1, 4), "photo.png");
 * assert.strictEqual(image.data.length, image.width * image.height * 3);
 * assert.deepStrictEqual([...image.data], [255, 0, 0, 0, 0, 255]);
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  where: string | DataErrorLocation = "<memory>",
  options: DecodeImageOptions = {},
): Promise<Image> {
  const loc = typeof where === "string" ? { file: where } : where;
  const format = sniffImageFormat(bytes);
  if (format !== "unknown") checkPixelLimit(bytes, format, loc, options.maxPixels);
  try {
    if (format !== "unknown" && hasBrowserImageCodecs()) return await decodeImageInBrowser(bytes);
    if (format === "jpeg") {
      // deno-lint-ignore no-import-prefix
      jpegCodec ??= import("npm:imagescript@1.3.1/wasm/node/jpeg.js").then((m) =>
        (m.default as { init(): Promise<JpegCodec> }).init()
      );
      const fb = (await jpegCodec).decode(bytes);
      return jpegToRgb(fb);
    }
    if (format === "png") {
      // deno-lint-ignore no-import-prefix
      pngCodec ??= import("npm:imagescript@1.3.1/wasm/node/png.js").then((m) =>
        (m.default as { init(): Promise<PngCodec> }).init()
      );
      const { width, height, framebuffer } = (await pngCodec).decode(bytes);
      return { width, height, data: rgbaToRgb(framebuffer, width * height) };
    }
  } catch (e) {
    throw new DataError(
      "corrupt-image",
      `cannot decode ${format} image (${(e as Error).message})`,
      loc,
      { cause: e },
    );
  }
  throw new DataError("corrupt-image", "not a JPEG or PNG file", loc);
}

/**
 * Reads and decodes an image file; a missing file gives a `DataError` with reason `missing-file`, one over
 * the pixel limit (`options.maxPixels`, see {@link decodeImage}) reason `image-too-large`.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { encodePng, readImageFile } from "./image_codec.ts";
 * import { DataError } from "./errors.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/0001.png`, encodePng(new Uint8Array(4 * 3 * 3).fill(9), 4, 3, 3));
 * const image = await readImageFile(`${dir}/0001.png`);
 * assert.deepStrictEqual([image.width, image.height], [4, 3]);
 * await assert.rejects(readImageFile(`${dir}/missing.png`), (e) => e instanceof DataError && e.reason === "missing-file");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readImageFile(path: string, options: DecodeImageOptions = {}): Promise<Image> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DataError("missing-file", `cannot read image (${(e as Error).message})`, { file: path }, {
      cause: e,
    });
  }
  return await decodeImage(bytes, path, options);
}

function jpegToRgb(fb: JpegFramebuffer): Image {
  const n = fb.width * fb.height;
  const out = new Uint8Array(n * 3);
  const src = fb.buffer;
  if (fb.format === 0) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i];
  } else if (fb.format === 1) {
    out.set(src.subarray(0, n * 3));
  } else if (fb.format === 2) {
    // CMYK (as stored by Adobe, inverted), converted like imagescript does.
    for (let i = 0; i < n; i++) {
      const k = 1 - src[4 * i + 3] / 255;
      for (let c = 0; c < 3; c++) out[3 * i + c] = Math.round(255 * (1 - src[4 * i + c] / 255) * k);
    }
  } else throw new DataError("corrupt-image", `jpeg: unsupported pixel format ${fb.format}`, { file: "" });
  return { width: fb.width, height: fb.height, data: out };
}

/**
 * Drops the alpha channel of RGBA pixels (no blending).
 * @example
 * ```ts
 * rgbaToRgb(new Uint8Array([1, 2, 3, 255]), 1); // Uint8Array [1, 2, 3]
 * ```
 */
export function rgbaToRgb(rgba: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    out[3 * i] = rgba[4 * i];
    out[3 * i + 1] = rgba[4 * i + 1];
    out[3 * i + 2] = rgba[4 * i + 2];
  }
  return out;
}

/**
 * Decodes a PNG instance mask to 0/1 (a pixel is 1 when its first channel is non-zero).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeMaskPng, encodePng } from "./image_codec.ts";
 * const pngBytes = encodePng(new Uint8Array([0, 255, 7, 0, 0, 0]), 3, 2, 1);
 * const { mask, width, height } = await decodeMaskPng(pngBytes, "mask.png");
 * assert.deepStrictEqual([width, height, [...mask]], [3, 2, [0, 1, 1, 0, 0, 0]]);
 * ```
 */
export async function decodeMaskPng(
  bytes: Uint8Array,
  where: string | DataErrorLocation = "<memory>",
  options: DecodeImageOptions = {},
): Promise<{ mask: Uint8Array; width: number; height: number }> {
  const image = await decodeImage(bytes, where, options);
  const n = image.width * image.height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = image.data[3 * i] !== 0 ? 1 : 0;
  return { mask, width: image.width, height: image.height };
}

/**
 * Encodes 8-bit pixels as PNG: 1 channel (grey, e.g. a 0/1 mask), 3 (RGB) or 4 (RGBA).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeImage, encodePng } from "./image_codec.ts";
 * const png = encodePng(new Uint8Array([0, 255, 255, 0]), 2, 2, 1);
 * const image = await decodeImage(png, "mask.png"); // grey decodes to RGB
 * assert.deepStrictEqual([...image.data.subarray(0, 6)], [0, 0, 0, 255, 255, 255]);
 * ```
 */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `image_codec.ts: encodePng: expected ${width * height * channels} bytes, got ${pixels.length}`,
    );
  }
  return (pngJs as { encode(d: Uint8Array, o: object): Uint8Array }).encode(pixels, {
    width,
    height,
    channels,
    depth: 8,
    level: 1,
  });
}
