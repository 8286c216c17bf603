/**
 * Image dimensions from the header alone (PNG `IHDR`, JPEG `SOFn`), read before any pixel is decoded so
 * that the pixel limit of {@link decodeImage} is enforced before the decoder allocates anything.
 * @module
 */

/** Width and height in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** SOF markers that carry the frame size (baseline, extended, progressive, lossless; Huffman or arithmetic). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * The size a PNG's `IHDR` or a JPEG's first `SOFn` segment declares, or `undefined` when the header is
 * missing or cut short (the decoder then reports the damage). A JPEG height of 0 (defined later by a DNL
 * marker) is returned as 0.
 *
 * @example
 * ```ts
 * import { readImageSize } from "./image_header.ts";
 * const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 1, 0, 0, 0, 0, 2]);
 * console.log(readImageSize(png)); // { width: 256, height: 2 }
 * ```
 */
export function readImageSize(bytes: Uint8Array): ImageSize | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (
    bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47
  ) {
    const ihdr = bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52;
    return ihdr ? { width: v.getUint32(16), height: v.getUint32(20) } : undefined;
  }
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return undefined; // not at a marker: corrupt
    const marker = bytes[p + 1];
    if (marker === 0xff) { // fill byte
      p++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length
      p += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data / end before any frame header
    const length = v.getUint16(p + 2);
    if (SOF.has(marker)) {
      return p + 9 <= bytes.length ? { width: v.getUint16(p + 7), height: v.getUint16(p + 5) } : undefined;
    }
    p += 2 + length;
  }
  return undefined;
}
