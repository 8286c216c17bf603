// Flip and batch collation. Expected values come from the definitions (pixel (x, y) ← (W-1-x, y); padding
// zeros at the bottom and right).
import assert from "node:assert/strict";
import { collateBatch } from "../../data/collate.ts";
import { Rng } from "../../data/prng.ts";
import { flipItem } from "../../data/transforms_flip.ts";
import type { TrainItem } from "../../data/types.ts";

/** Random image with one axis-aligned rectangle instance and one disc instance. */
function sampleItem(w: number, h: number, seed: number): TrainItem {
  const rng = new Rng(seed);
  const data = Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255));
  const masks = new Uint8Array(2 * w * h);
  const rect = [Math.floor(w / 5), Math.floor(h / 4), Math.floor(w / 2), Math.floor((3 * h) / 4)];
  for (let y = rect[1]; y < rect[3]; y++) for (let x = rect[0]; x < rect[2]; x++) masks[y * w + x] = 1;
  const cx = (2 * w) / 3, cy = h / 2, r = Math.min(w, h) / 4;
  let x1 = w, y1 = h, x2 = 0, y2 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 < r * r) {
        masks[w * h + y * w + x] = 1;
        [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x + 1), Math.max(y2, y + 1)];
      }
    }
  }
  return {
    image: { data, width: w, height: h },
    target: { boxes: new Float32Array([...rect, x1, y1, x2, y2]), labels: new Int32Array([1, 2]), masks },
  };
}

Deno.test("flip mirrors pixels, boxes and masks; flipping twice is the identity", () => {
  const item = sampleItem(13, 9, 1);
  const f = flipItem(item);
  const W = 13;
  for (let y = 0; y < 9; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        assert.equal(f.image.data[(y * W + x) * 3 + c], item.image.data[(y * W + W - 1 - x) * 3 + c]);
      }
      assert.equal(f.target.masks![9 * W + y * W + x], item.target.masks![9 * W + y * W + W - 1 - x]);
    }
  }
  // x1' = W - x2, x2' = W - x1; y unchanged.
  const b = item.target.boxes;
  assert.deepEqual(f.target.boxes.subarray(0, 4), new Float32Array([W - b[2], b[1], W - b[0], b[3]]));
  assert.deepEqual(flipItem(f), item);
});

Deno.test("collate pads to a multiple of 32 and keeps the image sizes", () => {
  const a = sampleItem(70, 50, 4), b = sampleItem(20, 33, 5);
  const batch = collateBatch([a, b]);
  assert.equal(batch.height, 64);
  assert.equal(batch.width, 96);
  assert.deepEqual(batch.imageSizes, [[50, 70], [33, 20]]);
  assert.equal(batch.pixels.length, 2 * 64 * 96 * 3);
  for (const [k, item] of [a, b].entries()) {
    const img = batch.images[k];
    assert.equal(img.width, 96);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 96; x++) {
        const inside = y < item.image.height && x < item.image.width;
        for (let c = 0; c < 3; c++) {
          const want = inside ? item.image.data[(y * item.image.width + x) * 3 + c] : 0;
          assert.equal(img.data[(y * 96 + x) * 3 + c], want);
        }
        const wantMask = inside ? item.target.masks![y * item.image.width + x] : 0;
        assert.equal(batch.targets[k].masks![y * 96 + x], wantMask);
      }
    }
    assert.deepEqual(batch.targets[k].boxes, item.target.boxes);
  }
  assert.equal(collateBatch([a], { sizeDivisible: 1 }).height, 50);
});
