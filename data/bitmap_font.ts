/**
 * A 5×7 bitmap font for labels drawn on result pictures (class names and scores). Built in so that drawing
 * needs no font file: imagescript's text rendering needs TTF bytes, which an edge script may not have.
 * Lower-case letters are drawn with the upper-case glyphs; unknown characters draw as a hollow box.
 * @module
 */

/** Glyph width and height in font pixels (plus one column of spacing when drawn). */
export const GLYPH_WIDTH = 5;
/** Glyph height in font pixels. */
export const GLYPH_HEIGHT = 7;

// Each glyph: 7 rows, each a 5-bit number (bit 4 = leftmost column).
const GLYPHS: Record<string, readonly number[]> = {
  " ": [0, 0, 0, 0, 0, 0, 0],
  "0": [14, 17, 19, 21, 25, 17, 14],
  "1": [4, 12, 4, 4, 4, 4, 14],
  "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2],
  "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14],
  "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12],
  "A": [14, 17, 17, 31, 17, 17, 17],
  "B": [30, 17, 17, 30, 17, 17, 30],
  "C": [14, 17, 16, 16, 16, 17, 14],
  "D": [28, 18, 17, 17, 17, 18, 28],
  "E": [31, 16, 16, 30, 16, 16, 31],
  "F": [31, 16, 16, 30, 16, 16, 16],
  "G": [14, 17, 16, 23, 17, 17, 15],
  "H": [17, 17, 17, 31, 17, 17, 17],
  "I": [14, 4, 4, 4, 4, 4, 14],
  "J": [7, 2, 2, 2, 2, 18, 12],
  "K": [17, 18, 20, 24, 20, 18, 17],
  "L": [16, 16, 16, 16, 16, 16, 31],
  "M": [17, 27, 21, 21, 17, 17, 17],
  "N": [17, 17, 25, 21, 19, 17, 17],
  "O": [14, 17, 17, 17, 17, 17, 14],
  "P": [30, 17, 17, 30, 16, 16, 16],
  "Q": [14, 17, 17, 17, 21, 18, 13],
  "R": [30, 17, 17, 30, 20, 18, 17],
  "S": [15, 16, 16, 14, 1, 1, 30],
  "T": [31, 4, 4, 4, 4, 4, 4],
  "U": [17, 17, 17, 17, 17, 17, 14],
  "V": [17, 17, 17, 17, 17, 10, 4],
  "W": [17, 17, 17, 21, 21, 21, 10],
  "X": [17, 17, 10, 4, 10, 17, 17],
  "Y": [17, 17, 17, 10, 4, 4, 4],
  "Z": [31, 1, 2, 4, 8, 16, 31],
  ".": [0, 0, 0, 0, 0, 12, 12],
  ",": [0, 0, 0, 0, 12, 4, 8],
  ":": [0, 12, 12, 0, 12, 12, 0],
  "-": [0, 0, 0, 31, 0, 0, 0],
  "_": [0, 0, 0, 0, 0, 0, 31],
  "/": [0, 1, 2, 4, 8, 16, 0],
  "%": [24, 25, 2, 4, 8, 19, 3],
  "(": [2, 4, 8, 8, 8, 4, 2],
  ")": [8, 4, 2, 2, 2, 4, 8],
  "#": [10, 10, 31, 10, 31, 10, 10],
  "'": [12, 4, 8, 0, 0, 0, 0],
};
const UNKNOWN = [31, 17, 17, 17, 17, 17, 31];

/**
 * The rows of a character's glyph (5-bit numbers, leftmost column in bit 4).
 *
 * @example
 * ```ts
 * import { glyphRows } from "./bitmap_font.ts";
 * console.log(glyphRows("1")); // [4, 12, 4, 4, 4, 4, 14]
 * ```
 */
export function glyphRows(char: string): readonly number[] {
  return GLYPHS[char] ?? GLYPHS[char.toUpperCase()] ?? UNKNOWN;
}

/**
 * Width in image pixels of `text` drawn at `scale` (each glyph 5 columns plus 1 of spacing).
 *
 * @example
 * ```ts
 * import { textWidth } from "./bitmap_font.ts";
 * console.log(textWidth("cat 0.98", 2)); // 96
 * ```
 */
export function textWidth(text: string, scale: number): number {
  return text.length * (GLYPH_WIDTH + 1) * scale;
}

/**
 * Calls `plot(x, y)` for every lit image pixel of `text` drawn with its top-left corner at (x0, y0).
 *
 * @example
 * ```ts
 * import { rasterizeText } from "./bitmap_font.ts";
 * let lit = 0;
 * rasterizeText("I", 0, 0, 1, () => lit++);
 * console.log(lit); // 11
 * ```
 */
export function rasterizeText(
  text: string,
  x0: number,
  y0: number,
  scale: number,
  plot: (x: number, y: number) => void,
): void {
  for (let c = 0; c < text.length; c++) {
    const rows = glyphRows(text[c]);
    const gx = x0 + c * (GLYPH_WIDTH + 1) * scale;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (!(rows[row] & (1 << (GLYPH_WIDTH - 1 - col)))) continue;
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) plot(gx + col * scale + sx, y0 + row * scale + sy);
        }
      }
    }
  }
}
