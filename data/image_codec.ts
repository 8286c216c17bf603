/**
 * Image decode (PNG, JPEG) to interleaved RGB and PNG encode, on imagescript's WebAssembly and pure-JS
 * codecs. We import those codec modules directly rather than imagescript's main entry: the main entry loads
 * a native addon for JPEG/WebP encoding at import time, which would need `--allow-ffi` (and a native addon is
 * what this project avoids). The WebAssembly codecs read their `.wasm` from the npm cache, so decoding needs
 * `--allow-read` (and `--allow-env`, which imagescript reads to pick a SIMD build).
 * @module
 */
// @ts-types="./image_codec_types.d.ts"
import pngCodec from "imagescript/wasm/node/png.js";
// @ts-types="./image_codec_types.d.ts"
import jpegCodec from "imagescript/wasm/node/jpeg.js";
// @ts-types="./image_codec_types.d.ts"
import pngWriter from "imagescript/png/node.js";

/** A decoded image: interleaved RGB bytes, row-major. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A byte array that is not a decodable PNG or JPEG (the message says which and why). */
export class ImageDecodeError extends Error {
  /** @param source a file name or description; @param detail what went wrong. */
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = "ImageDecodeError";
  }
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/**
 * Tells the format of encoded bytes from their magic number.
 *
 * @example
 * ```ts
 * import { sniffImageFormat } from "./image_codec.ts";
 * console.log(sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))); // "jpeg"
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): "png" | "jpeg" | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

/**
 * Decodes PNG or JPEG bytes to RGB (grayscale expanded, alpha dropped, CMYK converted).
 * Throws {@link ImageDecodeError} naming `source` for unknown formats and truncated or corrupt data.
 *
 * @example
 * ```ts
 * import { decodeImage, encodePng } from "./image_codec.ts";
 * const png = encodePng(new Uint8Array(2 * 2 * 3).fill(7), 2, 2);
 * const image = await decodeImage(png);
 * console.log(image.width, image.data[0]); // 2 7
 * ```
 */
export async function decodeImage(bytes: Uint8Array, source = "image"): Promise<DecodedImage> {
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageDecodeError(source, "not a PNG or JPEG (unrecognised header bytes)");
  try {
    if (format === "png") {
      const { width, height, framebuffer } = (await pngCodec.init()).decode(bytes);
      return { width, height, data: dropAlpha(framebuffer, width * height) };
    }
    const frame = (await jpegCodec.init()).decode(bytes);
    const pixels = frame.width * frame.height;
    const data = new Uint8Array(pixels * 3);
    if (frame.format === 0) {
      for (let i = 0; i < pixels; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = frame.buffer[i];
    } else if (frame.format === 1) {
      data.set(frame.buffer.subarray(0, pixels * 3));
    } else {
      for (let i = 0; i < pixels; i++) {
        const k = 1 - frame.buffer[4 * i + 3] / 255;
        for (let c = 0; c < 3; c++) {
          data[3 * i + c] = Math.round(255 * (1 - frame.buffer[4 * i + c] / 255) * k);
        }
      }
    }
    return { width: frame.width, height: frame.height, data };
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw new ImageDecodeError(
      source,
      `corrupt or truncated ${format.toUpperCase()} (${(error as Error).message})`,
    );
  }
}

function dropAlpha(rgba: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    rgb[3 * i] = rgba[4 * i];
    rgb[3 * i + 1] = rgba[4 * i + 1];
    rgb[3 * i + 2] = rgba[4 * i + 2];
  }
  return rgb;
}

/**
 * Encodes RGB, RGBA or single-channel bytes as a PNG (channels inferred from the length).
 *
 * @example
 * ```ts
 * import { encodePng } from "./image_codec.ts";
 * const png = encodePng(new Uint8Array(4 * 3).fill(255), 4, 3); // a white 4×3 grayscale image
 * console.log(png[1] === 0x50); // "P" of the PNG magic
 * ```
 */
export function encodePng(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  const channels = pixels.length / (width * height);
  if (![1, 3, 4].includes(channels)) {
    throw new RangeError(`encodePng: ${pixels.length} bytes is not 1, 3 or 4 channels of ${width}×${height}`);
  }
  return pngWriter.encode(pixels, { width, height, channels, level: 6 });
}
