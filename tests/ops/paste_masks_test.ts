import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, tensorFromArray } from "../../mod.ts";
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
