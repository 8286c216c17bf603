/**
 * Boxes and areas of binary instance masks (n×H×W, row-major, 0/1).
 *
 * Decision: boxes follow torchvision's `ops.masks_to_boxes` (what its fine-tuning tutorial trains on):
 * `[min x, min y, max x, max y]` of the set pixels, so x2 / y2 are the last pixel's index, not its far
 * edge. The generated shapes dataset asks for pixel-edge boxes (`pixelEdges`: x2 = max x + 1), the
 * convention of its analytic geometry and of COCO's `bbox` (x + width).
 * @module
 */

/** Options of {@link maskBox} and {@link masksToBoxes}. */
export interface MaskBoxOptions {
  /** x2 / y2 one past the last pixel (pixel edges) instead of torchvision's last pixel index. */
  pixelEdges?: boolean;
}

/**
 * Tight box of a binary mask, `[x1, y1, x2, y2]` as torchvision's `masks_to_boxes` (x2 = max x), or `null`
 * if empty. `offset` is where the mask starts in `mask`.
 * @example
 * ```ts
 * maskBox(new Uint8Array([0, 0, 0, 1]), 2, 2); // [1, 1, 1, 1]
 * maskBox(new Uint8Array([0, 0, 0, 1]), 2, 2, 0, { pixelEdges: true }); // [1, 1, 2, 2]
 * ```
 */
export function maskBox(
  mask: Uint8Array,
  width: number,
  height: number,
  offset = 0,
  options: MaskBoxOptions = {},
): number[] | null {
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
  if (x2 < 0) return null;
  const e = options.pixelEdges ? 1 : 0;
  return [x1, y1, x2 + e, y2 + e];
}

/**
 * Tight boxes (n×4, x1,y1,x2,y2) of every mask of an n×H×W stack, as torchvision's `masks_to_boxes`
 * (or pixel edges, see {@link MaskBoxOptions}); empty masks give a zero box.
 * @example
 * ```ts
 * masksToBoxes(new Uint8Array([0, 1, 0, 0]), 1, 2, 2); // Float32Array [1, 0, 1, 0]
 * ```
 */
export function masksToBoxes(
  masks: Uint8Array,
  n: number,
  width: number,
  height: number,
  options: MaskBoxOptions = {},
): Float32Array {
  const boxes = new Float32Array(n * 4);
  for (let k = 0; k < n; k++) {
    const b = maskBox(masks, width, height, k * width * height, options);
    if (b) boxes.set(b, 4 * k);
  }
  return boxes;
}
