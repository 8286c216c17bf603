import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { setBindingLimitForTesting } from "../../ops/binding_chunks.ts";
import { maskBytes, pasteMasks } from "../../ops/paste_masks.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();

// torchvision 0.14 roi_heads.paste_masks_in_image of 7 masks (M = 28) into a 61×83 image, boxes crossing
// the borders, one tiny box and one mostly outside (tools/reference/make_roi_fixtures.py).
const fx = loadFixture("ops/paste_masks.json");
const [h, w] = fx.meta.image_size as [number, number];
const masks = tensorFromArray(fx.tensors.masks.data as Float32Array, fx.tensors.masks.shape);
const boxes = tensorFromArray(fx.tensors.boxes.data as Float32Array, fx.tensors.boxes.shape);
const expected = fx.tensors.probs.data as Float32Array;

Deno.test("pasteMasks probabilities match torchvision's paste_masks_in_image", async () => {
  const { probs, shape } = pasteMasks(masks, boxes, [h, w]);
  assert.deepEqual(shape, [7, h, w]);
  assert.deepEqual(probs!.shape, [7, h, w]);
  assertClose(await probs!.read(), expected, 1e-4, "paste_masks");
  // every mask lands somewhere, and the pasted region is not the whole image
  for (let r = 0; r < 7; r++) {
    const plane = expected.subarray(r * h * w, (r + 1) * h * w);
    assert.ok(plane.some((v) => v > 0) && plane.some((v) => v === 0), `mask ${r} is partly pasted`);
  }
});

Deno.test("pasteMasks binary masks equal torch probs >= 0.5 (except within 1e-5 of 0.5)", async () => {
  const { probs, binary, shape } = pasteMasks(masks, boxes, [h, w]);
  const [p, words] = await readTensors([probs!, binary]);
  const bytes = maskBytes(words as Uint32Array, shape);
  let ones = 0;
  for (let i = 0; i < expected.length; i++) {
    assert.ok(bytes[i] === 0 || bytes[i] === 1);
    assert.equal(bytes[i], p[i] >= 0.5 ? 1 : 0, `binary follows our own probability at ${i}`);
    if (Math.abs(expected[i] - 0.5) >= 1e-5) assert.equal(bytes[i], expected[i] >= 0.5 ? 1 : 0, `pixel ${i}`);
    ones += bytes[i];
  }
  assert.ok(ones > 100, `${ones} foreground pixels`);
  const only = pasteMasks(masks, boxes, [h, w], { probabilities: false });
  assert.equal(only.probs, null);
  assert.deepEqual(await only.binary.read(), words);
});

Deno.test("pasteMasks splits outputs above the binding limit (odd image size) into aligned ranges", async () => {
  const whole = pasteMasks(masks, boxes, [h, w]);
  const [p, words] = await readTensors([whole.probs!, whole.binary]);
  setBindingLimitForTesting(2048); // 7 × 61 × 83 pixels → 8,859 words → 70 dispatches
  try {
    const split = pasteMasks(masks, boxes, [h, w]);
    const [ps, ws] = await readTensors([split.probs!, split.binary]);
    assert.deepEqual(ps, p);
    assert.deepEqual(ws, words);
  } finally {
    setBindingLimitForTesting(null);
  }
});

Deno.test("pasteMasks threshold option and a box entirely outside the image", async () => {
  const outside = tensorFromArray(new Float32Array([200, 100, 240, 130, 10, 10, 30, 30]), [2, 4]);
  const two = tensorFromArray((fx.tensors.masks.data as Float32Array).slice(0, 2 * 28 * 28), [2, 28, 28]);
  const { probs, binary, shape } = pasteMasks(two, outside, [h, w], { threshold: 0.25 });
  const [p, words] = await readTensors([probs!, binary]);
  assert.ok(p.subarray(0, h * w).every((v) => v === 0));
  const bytes = maskBytes(words as Uint32Array, shape);
  for (let i = 0; i < p.length; i++) assert.equal(bytes[i], p[i] >= 0.25 ? 1 : 0);
});

Deno.test("pasteMasks rejects bad shapes naming the op", () => {
  assert.throws(
    () => pasteMasks(masks.reshape([7, 28 * 28]), boxes, [h, w]),
    (e: Error) =>
      e instanceof ShapeError && /paste_masks: masks must be \[R, M, M\].*\[7,784\]/.test(e.message),
  );
  assert.throws(
    () => pasteMasks(masks, tensorFromArray(new Float32Array(35), [7, 5]), [h, w]),
    (e: Error) => e instanceof ShapeError && /paste_masks: boxes must be \[R, 4\].*\[7,5\]/.test(e.message),
  );
  assert.throws(() => pasteMasks(masks, boxes, [0, w]), (e: Error) => e instanceof ShapeError);
});

/**
 * Independent float64 reference of torchvision 0.14's `paste_masks_in_image` for one mask: `expand_masks`
 * (zero padding), `expand_boxes` by (M + 2·padding) / M in f32 then `.to(int64)` (truncation), TO_REMOVE = 1
 * and `max(·, 1)` sizes, `F.interpolate(bilinear, align_corners=False)` of the padded mask to (h, w) (source
 * indices in f32 as torch computes them, the blend in float64), then the paste clipped to the image.
 */
function pasteReference(
  mask: Float32Array,
  m: number,
  box: ArrayLike<number>,
  [imageH, imageW]: readonly [number, number],
  padding = 1,
): { image: Float64Array; intBox: number[] } {
  const f = Math.fround;
  const scale = f((m + 2 * padding) / m);
  const wHalf = f(f(f(box[2] - box[0]) * 0.5) * scale);
  const hHalf = f(f(f(box[3] - box[1]) * 0.5) * scale);
  const xc = f(f(box[2] + box[0]) * 0.5);
  const yc = f(f(box[3] + box[1]) * 0.5);
  const [x0, y0, x1, y1] = [f(xc - wHalf), f(yc - hHalf), f(xc + wHalf), f(yc + hHalf)].map((v) =>
    Math.trunc(v) | 0
  );
  const w = Math.max(x1 - x0 + 1, 1);
  const h = Math.max(y1 - y0 + 1, 1);
  const size = m + 2 * padding;
  const padded = (i: number, j: number) =>
    i < padding || j < padding || i >= m + padding || j >= m + padding
      ? 0
      : mask[(i - padding) * m + (j - padding)];
  const source = (dst: number, out: number) => {
    const ratio = f(size / out);
    const real = Math.max(f(f(ratio * f(dst + 0.5)) - 0.5), 0);
    const i0 = Math.floor(real);
    return [i0, i0 < size - 1 ? i0 + 1 : i0, real - i0];
  };
  const image = new Float64Array(imageH * imageW);
  for (let y = Math.max(y0, 0); y < Math.min(y1 + 1, imageH); y++) {
    const [a0, a1, ly] = source(y - y0, h);
    for (let x = Math.max(x0, 0); x < Math.min(x1 + 1, imageW); x++) {
      const [b0, b1, lx] = source(x - x0, w);
      const top = (1 - lx) * padded(a0, b0) + lx * padded(a0, b1);
      const bottom = (1 - lx) * padded(a1, b0) + lx * padded(a1, b1);
      image[y * imageW + x] = (1 - ly) * top + ly * bottom;
    }
  }
  return { image, intBox: [x0, y0, x1, y1] };
}

// Boxes a few pixels thick (1.6 px tall across the width, 2.3 px wide), sub-pixel, on integer corners and
// across every border (tools/reference/make_paste_fixtures.py).
const thin = loadFixture("ops/paste_masks_thin.json");
const [thinH, thinW] = thin.meta.image_size as [number, number];
const thinMasks = thin.tensors.masks.data as Float32Array;
const thinBoxes = thin.tensors.boxes.data as Float32Array;
const thinRows = thin.tensors.boxes.shape[0];
const plane = thinH * thinW;

Deno.test("the float64 paste reference reproduces torchvision on thin boxes (integer boxes, pixel counts)", () => {
  const torchProbs = thin.tensors.probs.data as Float32Array;
  const intBoxes = thin.tensors.int_boxes.data as Int32Array;
  const pixels = thin.tensors.pixels.data as Int32Array;
  for (let r = 0; r < thinRows; r++) {
    const ref = pasteReference(
      thinMasks.subarray(r * 784, (r + 1) * 784),
      28,
      thinBoxes.subarray(4 * r, 4 * r + 4),
      [thinH, thinW],
    );
    assert.deepEqual(ref.intBox, [...intBoxes.subarray(4 * r, 4 * r + 4)], `integer box ${r}`);
    const torchPlane = torchProbs.subarray(r * plane, (r + 1) * plane);
    assertClose(Float32Array.from(ref.image), torchPlane, 1e-5, `reference mask ${r}`);
    assert.equal(ref.image.reduce((n, v) => n + (v >= 0.5 ? 1 : 0), 0), pixels[r], `pixels of mask ${r}`);
  }
});

Deno.test("pasteMasks matches the float64 reference and torchvision's pixel counts on thin boxes", async () => {
  const masksT = tensorFromArray(thinMasks, [thinRows, 28, 28]);
  const boxesT = tensorFromArray(thinBoxes, [thinRows, 4]);
  const { probs, binary, shape } = pasteMasks(masksT, boxesT, [thinH, thinW]);
  const [p, words] = await readTensors([probs!, binary]);
  const bytes = maskBytes(words as Uint32Array, shape);
  const pixels = thin.tensors.pixels.data as Int32Array;
  for (let r = 0; r < thinRows; r++) {
    const ref = pasteReference(
      thinMasks.subarray(r * 784, (r + 1) * 784),
      28,
      thinBoxes.subarray(4 * r, 4 * r + 4),
      [thinH, thinW],
    ).image;
    let count = 0;
    for (let i = 0; i < plane; i++) {
      const q = r * plane + i;
      assert.ok(Math.abs(p[q] - ref[i]) <= 1e-6, `mask ${r} pixel ${i}: ${p[q]} vs ${ref[i]}`);
      if (Math.abs(ref[i] - 0.5) >= 1e-5) {
        assert.equal(bytes[q], ref[i] >= 0.5 ? 1 : 0, `mask ${r} pixel ${i}`);
      }
      count += bytes[q];
    }
    assert.equal(count, pixels[r], `pasted pixels of box ${r} [${thinBoxes.subarray(4 * r, 4 * r + 4)}]`);
  }
});

Deno.test("pasteMasks rows and occupied count paste one image's real slots only", async () => {
  const masksT = tensorFromArray(thinMasks, [thinRows, 28, 28]);
  const boxesT = tensorFromArray(thinBoxes, [thinRows, 4]);
  const whole = pasteMasks(masksT, boxesT, [thinH, thinW]);
  const counts = tensorFromArray(new Uint32Array([9, 3]), [2]);
  // rows 4..11 of the batch, of which the first 3 are real (counts[1])
  const part = pasteMasks(masksT, boxesT, [thinH, thinW], { rows: [4, 8], occupied: { counts, index: 1 } });
  assert.deepEqual(part.shape, [8, thinH, thinW]);
  const [pw, ww, pp, wp] = await readTensors([whole.probs!, whole.binary, part.probs!, part.binary]);
  assert.deepEqual(pp.subarray(0, 3 * plane), pw.subarray(4 * plane, 7 * plane));
  const wholeBytes = maskBytes(ww as Uint32Array, whole.shape);
  const partBytes = maskBytes(wp as Uint32Array, part.shape);
  assert.deepEqual(partBytes.subarray(0, 3 * plane), wholeBytes.subarray(4 * plane, 7 * plane));
  assert.throws(() => pasteMasks(masksT, boxesT, [thinH, thinW], { rows: [10, 8] }), ShapeError);
});
