/**
 * Boxes and areas of binary instance masks (n×H×W, row-major, 0/1).
 * @module
 */

/**
 * Tight box of a binary mask in pixels, `[x1, y1, x2, y2]` with exclusive x2/y2, or `null` if empty.
 * @example
 * ```ts
 * maskBox(new Uint8Array([0, 0, 0, 1]), 2, 2); // [1, 1, 2, 2]
 * ```
 */
export function maskBox(mask: Uint8Array, width: number, height: number, offset = 0): number[] | null {
  let x1 = width, y1 = height, x2 = -1, y2 = -1;
  for (let y = 0; y < height; y++) {
    const row = offset + y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x] !== 0) {
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        y2 = y;
      }
    }
  }
  return x2 < 0 ? null : [x1, y1, x2 + 1, y2 + 1];
}

/**
 * Number of non-zero pixels of mask `index` in an n×H×W stack.
 * @example
 * ```ts
 * maskArea(new Uint8Array([1, 0, 1, 1]), 2, 2, 0); // 3
 * ```
 */
export function maskArea(masks: Uint8Array, width: number, height: number, index = 0): number {
  let area = 0;
  const start = index * width * height;
  for (let i = start; i < start + width * height; i++) if (masks[i] !== 0) area++;
  return area;
}

/**
 * Tight boxes (n×4, x1,y1,x2,y2) of every mask of an n×H×W stack; empty masks give a zero box.
 * @example
 * ```ts
 * masksToBoxes(new Uint8Array([0, 1, 0, 0]), 1, 2, 2); // Float32Array [1, 0, 2, 1]
 * ```
 */
export function masksToBoxes(masks: Uint8Array, n: number, width: number, height: number): Float32Array {
  const boxes = new Float32Array(n * 4);
  for (let k = 0; k < n; k++) {
    const b = maskBox(masks, width, height, k * width * height);
    if (b) boxes.set(b, 4 * k);
  }
  return boxes;
}
