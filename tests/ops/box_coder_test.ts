import assert from "node:assert/strict";
import { DTypeError, getGpu, LimitError, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { clipBoxesToImage, decodeBoxes, encodeBoxes, removeSmallBoxes } from "../../ops/box_coder.ts";
import { BBOX_XFORM_CLIP, ROI_BOX_WEIGHTS, RPN_BOX_WEIGHTS } from "../../model/config.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();
const fixture = loadFixture("ops/box_coder.json");
const tensor = (name: string) => {
  const t = fixture.tensors[name];
  return tensorFromArray(t.data as Float32Array, t.shape);
};
const ref = (name: string) => fixture.tensors[name];

Deno.test("model/config.ts's BBOX_XFORM_CLIP is torchvision's log(1000/16)", () => {
  assert.equal(BBOX_XFORM_CLIP, fixture.meta.bbox_xform_clip);
});

Deno.test("decodeBoxes with RPN weights matches BoxCoder.decode, incl. clamped dw/dh", async () => {
  const out = decodeBoxes(tensor("rpn_deltas"), tensor("rpn_anchors"), RPN_BOX_WEIGHTS, BBOX_XFORM_CLIP);
  assert.deepEqual(out.shape, ref("rpn_decoded").shape);
  assertClose(await out.read(), ref("rpn_decoded").data, 1e-5, "rpn decode");
});

Deno.test("decodeBoxes of [R, 4·11] deltas with RoI weights matches BoxCoder.decode", async () => {
  const out = decodeBoxes(tensor("roi_deltas"), tensor("roi_proposals"), ROI_BOX_WEIGHTS, BBOX_XFORM_CLIP);
  assert.deepEqual(out.shape, ref("roi_decoded").shape);
  assertClose(await out.read(), ref("roi_decoded").data, 1e-5, "roi decode");
});

Deno.test("decodeBoxes with clipToImages equals clipBoxesToImage of the decode bit for bit", async () => {
  const deltas = tensor("roi_deltas");
  const boxes = tensor("roi_proposals");
  const rows = boxes.shape[0] - (boxes.shape[0] % 2);
  const d = tensorFromArray((await deltas.read() as Float32Array).slice(0, rows * deltas.shape[1]), [
    rows,
    deltas.shape[1],
  ]);
  const b = tensorFromArray((await boxes.read() as Float32Array).slice(0, rows * 4), [rows, 4]);
  const sizes: [number, number][] = [[37, 61], [80, 45]];
  for (const [imageSizes, weights] of [[sizes, ROI_BOX_WEIGHTS], [[[50, 50]], RPN_BOX_WEIGHTS]] as const) {
    const fused = decodeBoxes(d, b, weights, BBOX_XFORM_CLIP, imageSizes);
    const separate = clipBoxesToImage(decodeBoxes(d, b, weights, BBOX_XFORM_CLIP), imageSizes);
    const [f, s] = await Promise.all([fused.read(), separate.read()]);
    assert.deepEqual(fused.shape, separate.shape);
    assert.deepEqual(f, s);
    assert.ok((f as Float32Array).some((v) => v === 0) && (f as Float32Array).some((v) => v > 1));
  }
});

Deno.test("encodeBoxes matches BoxCoder.encode_single for RoI and RPN weights", async () => {
  const [gt, proposals] = [tensor("enc_gt"), tensor("roi_proposals")];
  assertClose(
    await encodeBoxes(gt, proposals, ROI_BOX_WEIGHTS).read(),
    ref("enc_roi").data,
    1e-5,
    "roi encode",
  );
  assertClose(
    await encodeBoxes(gt, proposals, RPN_BOX_WEIGHTS).read(),
    ref("enc_rpn").data,
    1e-5,
    "rpn encode",
  );
});

Deno.test("clipBoxesToImage clips each image's boxes to its own size (even and uneven splits)", async () => {
  const sizes = fixture.meta.clip_sizes as [number, number][];
  const even = clipBoxesToImage(tensor("clip_boxes"), sizes);
  assert.deepEqual(await even.read(), ref("clip_even").data);
  const uneven = clipBoxesToImage(
    tensor("clip_per_class"),
    sizes,
    fixture.meta.clip_uneven_counts as number[],
  );
  assert.deepEqual(uneven.shape, [97, 3, 4]);
  assert.deepEqual(await uneven.read(), ref("clip_uneven").data);
});

for (const [name, minSize] of [["small_keep_1e-3", 1e-3], ["small_keep_5", 5]] as const) {
  Deno.test(`removeSmallBoxes mask equals remove_small_boxes indices (${name})`, async () => {
    const mask = removeSmallBoxes(tensor("small_boxes"), minSize);
    assert.deepEqual(mask.shape, [513]);
    assert.equal(mask.dtype, "u32");
    const data = await mask.read();
    const kept = Array.from(data.keys()).filter((i) => data[i] === 1);
    assert.ok(data.every((v) => v === 0 || v === 1));
    assert.deepEqual(kept, Array.from(ref(name).data));
  });
}

Deno.test("box ops reject wrong box shapes, dtypes and image counts", () => {
  const boxes = tensorFromArray(new Float32Array(12), [3, 4]);
  assert.throws(
    () => decodeBoxes(tensorFromArray(new Float32Array(8), [2, 4]), boxes, RPN_BOX_WEIGHTS, BBOX_XFORM_CLIP),
    (e: Error) =>
      e instanceof ShapeError && /decodeBoxes: deltas \[2,4\] f32 must be \[R, 4·C\]/.test(e.message),
  );
  assert.throws(
    () => decodeBoxes(tensorFromArray(new Float32Array(9), [3, 3]), boxes, RPN_BOX_WEIGHTS, BBOX_XFORM_CLIP),
    ShapeError,
  );
  assert.throws(
    () => encodeBoxes(boxes, tensorFromArray(new Float32Array(8), [2, 4]), RPN_BOX_WEIGHTS),
    ShapeError,
  );
  assert.throws(() => removeSmallBoxes(tensorFromArray(new Int32Array(4), [1, 4]), 1), DTypeError);
  assert.throws(() => clipBoxesToImage(boxes, [[5, 5], [6, 6]]), /do not split evenly/);
  assert.throws(() => clipBoxesToImage(boxes, [[5, 5], [6, 6]], [1, 1]), ShapeError);
  assert.throws(() => clipBoxesToImage(boxes, Array(16).fill([5, 5]), Array(16).fill(0)), LimitError);
});
