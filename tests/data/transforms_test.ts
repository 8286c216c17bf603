// Flip, matterport square mode, mini-masks and batch collation. Expected values come from the definitions
// (pixel (x, y) ← (W-1-x, y); matterport utils.resize_image arithmetic worked through in comments; masks
// compared with tight boxes computed independently here).
import assert from "node:assert/strict";
import { collateBatch } from "../../data/collate.ts";
import { Rng } from "../../data/prng.ts";
import { flipItem } from "../../data/transforms_flip.ts";
import { expandMasks, minimizeMasks } from "../../data/transforms_minimask.ts";
import { resizeSquare, squareScale } from "../../data/transforms_square.ts";
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

Deno.test("square mode follows matterport resize_image arithmetic", () => {
  // 480×640, min 800, max 1024: scale = max(1, 800/480) = 1.667; round(640·1.667) = 1067 > 1024, so
  // scale = 1024/640 = 1.6 → 768×1024; top pad = (1024-768)//2 = 128 → window (128, 0, 896, 1024).
  assert.deepEqual(squareScale(480, 640, { minDim: 800, maxDim: 1024 }), {
    scale: 1.6,
    height: 768,
    width: 1024,
  });
  // min_dim never shrinks: 600×900 with min 200, max 1024 keeps scale 1.
  assert.deepEqual(squareScale(600, 900, { minDim: 200, maxDim: 1024 }), {
    scale: 1,
    height: 600,
    width: 900,
  });
  // Python round() is half-to-even: 5×16 capped at 8 → scale 0.5, round(2.5) = 2.
  assert.deepEqual(squareScale(5, 16, { maxDim: 8 }), { scale: 0.5, height: 2, width: 8 });
  // Without min_dim nothing is upscaled to max_dim.
  assert.deepEqual(squareScale(1, 4, { maxDim: 10 }), { scale: 1, height: 1, width: 4 });
  // min_scale raises the scale.
  assert.deepEqual(squareScale(10, 20, { maxDim: 100, minScale: 3 }), { scale: 3, height: 30, width: 60 });

  const item = sampleItem(20, 10, 2);
  const r = resizeSquare(item, { minDim: 16, maxDim: 32 });
  // scale = max(1, 16/10) = 1.6 → 16×32; pads: top (32-16)//2 = 8, bottom 8, left 0.
  assert.equal(r.scale, 1.6);
  assert.deepEqual(r.window, [8, 0, 24, 32]);
  assert.deepEqual(r.padding, [[8, 8], [0, 0]]);
  assert.equal(r.item.image.width, 32);
  assert.equal(r.item.image.height, 32);
  // Padding is zero, and box 0 (x 4..10, y 2..7 in the source) maps to x·1.6, y·1.6 + 8.
  assert.ok(r.item.image.data.subarray(0, 8 * 32 * 3).every((v) => v === 0));
  assert.deepEqual(
    Array.from(r.item.target.boxes.subarray(0, 4)),
    [4 * 1.6, 2 * 1.6 + 8, 10 * 1.6, 7 * 1.6 + 8].map(Math.fround),
  );
  // Masks live inside the window only.
  const m = r.item.target.masks!;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) if (y < 8 || y >= 24) assert.equal(m[y * 32 + x], 0);
  }
  assert.ok(m.some((v) => v === 1));
});

Deno.test("mini-masks: a box-filling rectangle is all ones; expand(minimize(m)) stays close to m", () => {
  const item = sampleItem(40, 30, 3);
  const { boxes, masks } = item.target;
  const mini = minimizeMasks(boxes, masks!, 2, 40, 30, 28, 28);
  assert.ok(mini.subarray(0, 28 * 28).every((v) => v === 1));
  const disc = mini.subarray(28 * 28);
  assert.ok(disc.some((v) => v === 0) && disc.some((v) => v === 1));
  const back = expandMasks(boxes, mini, 2, 28, 28, 40, 30);
  assert.deepEqual(back.subarray(0, 1200), masks!.subarray(0, 1200));
  let inter = 0, union = 0;
  for (let i = 1200; i < 2400; i++) {
    inter += back[i] & masks![i];
    union += back[i] | masks![i];
  }
  assert.ok(inter / union > 0.9, `disc IoU ${inter / union}`);
  // Nothing leaks outside the box.
  for (let y = 0; y < 30; y++) {
    for (let x = 0; x < 40; x++) {
      if (x < boxes[4] || x >= boxes[6] || y < boxes[5] || y >= boxes[7]) {
        assert.equal(back[1200 + y * 40 + x], 0);
      }
    }
  }
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
