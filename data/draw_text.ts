/**
 * Text on an RGBA bitmap with the built-in 5×7 font (`bitmap_font.ts`): captions and axis labels on
 * pictures made without a font file (the loss curve and the demo's overlay grid draw with it).
 * @module
 */
import { GLYPH_HEIGHT, rasterizeText, textWidth } from "./bitmap_font.ts";

/** Options of {@link drawText}. */
export interface DrawTextOptions {
  /** Left edge of the text in image pixels (rounded; default 0). */
  x?: number;
  /** Top edge of the text in image pixels (rounded; default 0). */
  y?: number;
  /** Each font pixel becomes scale×scale image pixels (default 1). */
  scale?: number;
  /** RGB colour (default black); the alpha of drawn pixels becomes 255. */
  color?: readonly number[];
}

/**
 * The size in image pixels of `text` drawn by {@link drawText} at `scale` (each glyph 5×7 font pixels plus
 * one column of spacing).
 *
 * @example Centre a label
 * ```ts
 * import assert from "node:assert";
 * import { textSize } from "./draw_text.ts";
 * const { width, height } = textSize("step", { scale: 2 });
 * assert.deepStrictEqual([width, height], [48, 14]);
 * const x = (200 - width) / 2; // left edge that centres it on a 200-pixel-wide image
 * assert.strictEqual(x, 76);
 * ```
 */
export function textSize(text: string, options: { scale?: number } = {}): { width: number; height: number } {
  const scale = options.scale ?? 1;
  return { width: textWidth(text, scale), height: GLYPH_HEIGHT * scale };
}

/**
 * Draws `text` into an RGBA bitmap of `width`×`height` pixels (row-major, 4 bytes a pixel) with its top-left
 * corner at (`x`, `y`); pixels outside the bitmap are left out.
 *
 * @example A caption on a white bitmap
 * ```ts
 * import assert from "node:assert";
 * import { drawText } from "./draw_text.ts";
 * const width = 20, height = 9;
 * const rgba = new Uint8Array(width * height * 4).fill(255);
 * drawText(rgba, width, height, "I", { x: 1, y: 1, color: [255, 0, 0] });
 * const red = (x: number, y: number) => rgba[4 * (y * width + x) + 1] === 0;
 * // "I" is a 3-pixel bar on top, a stem in column 2 of the glyph and a bar at the bottom: 11 pixels.
 * let lit = 0;
 * for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) lit += red(x, y) ? 1 : 0;
 * assert.strictEqual(lit, 11);
 * assert.ok(red(3, 4)); // the stem
 * ```
 */
export function drawText(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  text: string,
  options: DrawTextOptions = {},
): void {
  const [r, g, b] = options.color ?? [0, 0, 0];
  const x0 = Math.round(options.x ?? 0), y0 = Math.round(options.y ?? 0);
  rasterizeText(text, x0, y0, options.scale ?? 1, (x, y) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = 4 * (y * width + x);
    rgba[o] = r, rgba[o + 1] = g, rgba[o + 2] = b, rgba[o + 3] = 255;
  });
}
