// drawText / textSize against a reference read straight from the glyph table (glyphRows): every lit font
// pixel becomes a scale×scale block of the colour, nothing else changes, and text crossing the bitmap's
// edges is clipped rather than wrapped onto the next row.
import assert from "node:assert/strict";
import { glyphRows } from "../../data/bitmap_font.ts";
import { drawText, textSize } from "../../data/draw_text.ts";

/** The expected RGBA bitmap, drawn pixel by pixel from the glyph rows (5 columns + 1 of spacing). */
function reference(width: number, height: number, text: string, x0: number, y0: number, scale: number) {
  const rgba = new Uint8Array(width * height * 4).fill(255);
  for (let c = 0; c < text.length; c++) {
    const rows = glyphRows(text[c]);
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        if (((rows[row] >> (4 - col)) & 1) === 0) continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const x = x0 + (c * 6 + col) * scale + dx, y = y0 + row * scale + dy;
            if (x < 0 || y < 0 || x >= width || y >= height) continue;
            rgba.set([10, 20, 30, 255], 4 * (y * width + x));
          }
        }
      }
    }
  }
  return rgba;
}

Deno.test("drawText lights exactly the glyph table's pixels, scaled, in the colour given", () => {
  const width = 64, height = 24;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  drawText(rgba, width, height, "Ab 0.9", { x: 3, y: 2, scale: 2, color: [10, 20, 30] });
  assert.deepEqual(rgba, reference(width, height, "Ab 0.9", 3, 2, 2));
  assert.ok(rgba.some((v, i) => i % 4 === 0 && v === 10), "something was drawn");
});

Deno.test("drawText clips text that crosses the bitmap's edges (no wrap onto the next row)", () => {
  const width = 10, height = 5;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  drawText(rgba, width, height, "WWW", { x: -3, y: -2, color: [10, 20, 30] });
  assert.deepEqual(rgba, reference(width, height, "WWW", -3, -2, 1));
});

Deno.test("textSize is the drawn extent: the last lit column and row fall inside it", () => {
  for (const scale of [1, 3]) {
    const text = "MM";
    const { width, height } = textSize(text, { scale });
    assert.deepEqual([width, height], [text.length * 6 * scale, 7 * scale]);
    const w = width + 4, h = height + 4;
    const rgba = new Uint8Array(w * h * 4).fill(255);
    drawText(rgba, w, h, text, { scale, color: [10, 20, 30] });
    let maxX = -1, maxY = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (rgba[4 * (y * w + x)] === 10) maxX = Math.max(maxX, x), maxY = Math.max(maxY, y);
      }
    }
    assert.ok(maxX < width && maxY === height - 1, `scale ${scale}: lit up to (${maxX}, ${maxY})`);
  }
});
