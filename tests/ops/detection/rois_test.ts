import assert from "node:assert/strict";
import { ShapeError } from "../../../mod.ts";
import { gatherRows, getGpu, readTensors, tensorFromArray } from "../../../ops/mod.ts";
import { indexValid } from "../../../ops/compact.ts";
import { boxesToRois, gatherSlots } from "../../../ops/detection/rois.ts";
import { randomFloats, randomInts } from "../../_util.ts";

await getGpu();

Deno.test("boxesToRois prefixes each box with its image index", async () => {
  const boxes = randomFloats(4 * 4, 7, 0, 100);
  const rois = await boxesToRois(tensorFromArray(boxes, [4, 4]), 2).read();
  for (let i = 0; i < 4; i++) {
    assert.equal(rois[5 * i], Math.floor(i / 2));
    assert.deepEqual(
      Array.from(rois.subarray(5 * i + 1, 5 * i + 5)),
      Array.from(boxes.subarray(4 * i, 4 * i + 4)),
    );
  }
});

Deno.test("gatherSlots equals gatherRows + boxesToRois + indexValid (or + gathered labels) bit for bit", async () => {
  const src = tensorFromArray(randomFloats(40 * 4, 31, -5, 90), [40, 4]);
  const labels = tensorFromArray(randomInts(40, 32, 0, 5), [40]);
  // two images of 6 slots: kept indices, −1 padding, one index past the source (gathers zeros)
  const keep = tensorFromArray(new Int32Array([3, 17, 39, 0, -1, -1, 22, 41, 5, -1, -1, -1]), [12]);
  const plain = gatherSlots(src, keep, 6);
  const withLabels = gatherSlots(src, keep, 6, { labels });
  const boxes = gatherRows(src, keep);
  const [a, b, c, d, e, f, g, h] = await readTensors([
    plain.boxes,
    plain.rois,
    plain.valid!,
    withLabels.labels!,
    withLabels.rois,
    boxes,
    boxesToRois(boxes, 6),
    indexValid(keep),
  ]);
  assert.deepEqual(a, f);
  assert.deepEqual(b, g);
  assert.deepEqual(e, g);
  assert.deepEqual(c, h);
  assert.deepEqual(d, await gatherRows(labels, keep).read());
  assert.deepEqual([...c], [1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0]);
  assert.equal(plain.labels, undefined);
  assert.throws(() => gatherSlots(src, keep, 5), ShapeError);
});
