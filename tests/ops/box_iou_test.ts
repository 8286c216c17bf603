import assert from "node:assert/strict";
import { DTypeError, getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { boxIou, boxIouBatched } from "../../ops/box_iou.ts";
import { disposeGtBatch, uploadGtBatch } from "../../ops/detection/gt_batch.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();
const t = loadFixture("ops/targets_iou.json").tensors;
const meta = loadFixture("ops/targets_iou.json").meta;
const f32 = (name: string) => tensorFromArray(t[name].data as Float32Array, t[name].shape);

Deno.test("boxIou of 37 × 53 boxes crossing the border equals torchvision box_iou", async () => {
  const iou = boxIou(f32("a"), f32("b"));
  assert.deepEqual(iou.shape, [37, 53]);
  assertClose(await iou.read(), t.iou.data as Float32Array, 1e-6, "iou");
});

Deno.test("boxIouBatched compares each image's GT (5, 0, 3) with that image's boxes", async () => {
  const counts = meta.counts as number[];
  const gtAll = t.gt.data as Float32Array;
  let row = 0;
  const gt = uploadGtBatch(counts.map((c) => {
    const boxes = gtAll.slice(4 * row, 4 * (row + c));
    row += c;
    return { boxes, labels: new Int32Array(c).fill(1) };
  }));
  const iou = boxIouBatched(gt, f32("boxes"));
  assert.deepEqual(iou.shape, [8, 41]);
  const out = await iou.read();
  assertClose(out, t.batched.data as Float32Array, 1e-6, "batched iou");
  assert.equal(out[0], 1, "an identical box has IoU exactly 1");
  // Shared boxes: every image against image 0's boxes.
  const shared = await boxIouBatched(gt, f32("boxes").reshape([3 * 41, 4])).read();
  assert.equal(shared.length, 8 * 123);
  disposeGtBatch(gt);
});

Deno.test("boxIou rejects bad shapes and dtypes naming the op", () => {
  const a = tensorFromArray(new Float32Array(12), [3, 4]);
  assert.throws(() => boxIou(a, tensorFromArray(new Float32Array(6), [2, 3])), ShapeError);
  assert.throws(() => boxIou(a.reshape([12]), a), /boxIou: a must be \[N, 4\]/);
  assert.throws(() => boxIou(a, tensorFromArray(new Int32Array(4), [1, 4])), DTypeError);
  const gt = uploadGtBatch([{ boxes: new Float32Array(4), labels: new Int32Array(1) }]);
  assert.throws(
    () => boxIouBatched(gt, tensorFromArray(new Float32Array(24), [2, 3, 4])),
    /boxIouBatched: boxes/,
  );
  disposeGtBatch(gt);
});
