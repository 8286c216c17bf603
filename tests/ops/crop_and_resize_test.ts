import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { setBindingLimitForTesting } from "../../ops/binding_chunks.ts";
import { cropAndResize, pyramidRoiAlign } from "../../ops/crop_and_resize.ts";
import { assertClose, randomFloats, rng } from "../_util.ts";

await getGpu();

/**
 * Reference of `tf.image.crop_and_resize(..., method="bilinear")`, transcribed from TensorFlow's CPU kernel
 * (tensorflow/core/kernels/image/crop_and_resize_op.cc, CropAndResizePerBox):
 *   height_scale = crop_h > 1 ? (y2 − y1)(H − 1) / (crop_h − 1) : 0
 *   in_y = crop_h > 1 ? y1 (H − 1) + y · height_scale : 0.5 (y1 + y2)(H − 1)     (same for x)
 *   in_y ∉ [0, H − 1] → extrapolation value; else lerp between floor(in_y) and ceil(in_y):
 *   top = tl + (tr − tl)·x_lerp, bottom = bl + (br − bl)·x_lerp, out = top + (bottom − top)·y_lerp.
 * TF evaluates the coordinates in float32, so they are rounded with Math.fround here (the boundary tests
 * depend on it); the interpolation is float64.
 */
function cropAndResizeRef(
  image: Float32Array,
  [n, h, w, c]: number[],
  boxes: Float32Array,
  indices: Int32Array,
  [ch, cw]: [number, number],
  extrapolation: number,
): Float64Array {
  const f = Math.fround;
  const r = indices.length;
  const out = new Float64Array(r * ch * cw * c);
  for (let b = 0; b < r; b++) {
    const [y1, x1, y2, x2] = boxes.subarray(b * 4, b * 4 + 4);
    const hs = ch > 1 ? f(f(f(y2 - y1) * (h - 1)) / (ch - 1)) : 0;
    const ws = cw > 1 ? f(f(f(x2 - x1) * (w - 1)) / (cw - 1)) : 0;
    for (let y = 0; y < ch; y++) {
      const inY = ch > 1 ? f(f(y1 * (h - 1)) + f(y * hs)) : f(0.5 * (y1 + y2) * (h - 1));
      for (let x = 0; x < cw; x++) {
        const inX = cw > 1 ? f(f(x1 * (w - 1)) + f(x * ws)) : f(0.5 * (x1 + x2) * (w - 1));
        const o = ((b * ch + y) * cw + x) * c;
        const bi = indices[b];
        if (bi < 0 || bi >= n || inY < 0 || inY > h - 1 || inX < 0 || inX > w - 1) {
          out.fill(extrapolation, o, o + c);
          continue;
        }
        const [t, bo, l, ri] = [Math.floor(inY), Math.ceil(inY), Math.floor(inX), Math.ceil(inX)];
        const at = (yy: number, xx: number, k: number) => image[((bi * h + yy) * w + xx) * c + k];
        for (let k = 0; k < c; k++) {
          const top = at(t, l, k) + (at(t, ri, k) - at(t, l, k)) * (inX - l);
          const bottom = at(bo, l, k) + (at(bo, ri, k) - at(bo, l, k)) * (inX - l);
          out[o + k] = top + (bottom - top) * (inY - t);
        }
      }
    }
  }
  return out;
}

function randomBoxes(count: number, seed: number): Float32Array {
  const next = rng(seed);
  const boxes = new Float32Array(count * 4);
  for (let i = 0; i < count * 4; i++) boxes[i] = -0.25 + 1.5 * next(); // crosses the borders, some flipped
  boxes.set([0, 0, 1, 1, 0.3, 0.2, 0.3, 0.9, 0.8, 0.7, 0.1, 0.2, 0.4, 0.4, 0.45, 0.47], 0);
  return boxes;
}

const shape = [2, 9, 11];
for (const c of [4, 7, 16]) {
  for (const size of [[7, 7], [14, 14], [1, 1], [1, 5], [5, 3]] as [number, number][]) {
    Deno.test(`crop_and_resize C=${c} crop ${size} matches TensorFlow's formula`, async () => {
      const image = randomFloats(shape[0] * shape[1] * shape[2] * c, 10 + c);
      const boxes = randomBoxes(13, c + size[0]);
      const indices = Int32Array.from({ length: 13 }, (_, i) => i % 2);
      const extrapolation = size[0] === 1 ? 0 : 0.25;
      const out = cropAndResize(
        tensorFromArray(image, [...shape, c]),
        tensorFromArray(boxes, [13, 4]),
        tensorFromArray(indices, [13]),
        size,
        extrapolation,
      );
      assert.deepEqual(out.shape, [13, ...size, c]);
      const ref = cropAndResizeRef(image, [...shape, c], boxes, indices, size, extrapolation);
      assertClose(await out.read(), ref, 1e-5, "crop_and_resize");
    });
  }
}

Deno.test("pyramidRoiAlign picks matterport's level per box and keeps box order", async () => {
  const image: [number, number] = [512, 768]; // only the level mapping uses it
  const c = 8;
  const sizes = [[16, 24], [8, 12], [4, 6], [2, 3]];
  const maps = sizes.map(([h, w], i) => randomFloats(2 * h * w * c, 40 + i));
  // sqrt(h·w) in image pixels from 16 to 1200: every level, in shuffled order, and two of zero area.
  const next = rng(5);
  const r = 24;
  const boxes = new Float32Array(r * 4);
  for (let i = 0; i < r; i++) {
    const s = Math.exp(Math.log(16) + (Math.log(1200) - Math.log(16)) * next()) /
      Math.sqrt(image[0] * image[1]);
    const y = next() * 0.8;
    const x = next() * 0.8;
    boxes.set([y, x, y + s * (0.7 + 0.6 * next()), x + s * (0.7 + 0.6 * next())], i * 4);
  }
  boxes.set([0.5, 0.5, 0.5, 0.7, 0.2, 0.2, 0.6, 0.2], 0);
  const indices = Int32Array.from({ length: r }, (_, i) => (i * 7) % 2);
  const levelCount = [0, 0, 0, 0];
  const expected = new Float64Array(r * 7 * 7 * c);
  for (let i = 0; i < r; i++) {
    const [y1, x1, y2, x2] = boxes.subarray(i * 4, i * 4 + 4);
    const area = (y2 - y1) * (x2 - x1);
    const raw = area > 0 ? Math.log2(Math.sqrt(area) / (224 / Math.sqrt(image[0] * image[1]))) : -Infinity;
    const level = Math.min(5, Math.max(2, 4 + Math.round(raw))) - 2; // no exact .5 ties in these boxes
    levelCount[level]++;
    const one = cropAndResizeRef(
      maps[level],
      [2, ...sizes[level], c],
      boxes.subarray(i * 4, i * 4 + 4),
      indices.subarray(i, i + 1),
      [7, 7],
      0,
    );
    expected.set(one, i * 49 * c);
  }
  assert.ok(levelCount.every((k) => k > 0), `every level used: ${levelCount}`);
  const out = pyramidRoiAlign(
    maps.map((m, i) => tensorFromArray(m, [2, ...sizes[i], c])),
    tensorFromArray(boxes, [r, 4]),
    tensorFromArray(indices, [r]),
    image,
    7,
  );
  assertClose(await out.read(), expected, 1e-5, "pyramid_roi_align");
});

Deno.test("crop_and_resize splits an output above the binding limit into aligned ranges", async () => {
  const image = randomFloats(2 * 9 * 11 * 7, 3);
  const boxes = randomBoxes(13, 3);
  const indices = Int32Array.from({ length: 13 }, (_, i) => i % 2);
  const args = [
    tensorFromArray(image, [2, 9, 11, 7]),
    tensorFromArray(boxes, [13, 4]),
    tensorFromArray(indices, [13]),
  ] as const;
  setBindingLimitForTesting(1024);
  try {
    const out = cropAndResize(...args, [14, 14]);
    assertClose(
      await out.read(),
      cropAndResizeRef(image, [2, 9, 11, 7], boxes, indices, [14, 14], 0),
      1e-5,
      "chunked",
    );
  } finally {
    setBindingLimitForTesting(null);
  }
});

Deno.test("crop_and_resize and pyramidRoiAlign reject bad shapes naming the op", () => {
  const image = tensorFromArray(randomFloats(9 * 11 * 4, 1), [1, 9, 11, 4]);
  const idx = tensorFromArray(new Int32Array([0]), [1]);
  assert.throws(
    () => cropAndResize(image, tensorFromArray(new Float32Array(5), [1, 5]), idx, 7),
    (e: Error) =>
      e instanceof ShapeError && /crop_and_resize: boxes must be \[R, 4\].*\[1,5\]/.test(e.message),
  );
  const boxes = tensorFromArray(new Float32Array([0, 0, 1, 1]), [1, 4]);
  assert.throws(
    () => cropAndResize(image.reshape([9, 11, 4]), boxes, idx, 7),
    (e: Error) =>
      e instanceof ShapeError && /crop_and_resize: image must have rank 4.*\[9,11,4\]/.test(e.message),
  );
  assert.throws(
    () => cropAndResize(image, boxes, tensorFromArray(new Int32Array([0, 0]), [2]), 7),
    (e: Error) => e instanceof ShapeError && /boxIndices must be \[R\]/.test(e.message),
  );
  assert.throws(
    () => pyramidRoiAlign([image, image], boxes, idx, [64, 64], 7),
    (e: Error) => e instanceof ShapeError && /pyramid_roi_align: expects the 4 feature maps/.test(e.message),
  );
});
