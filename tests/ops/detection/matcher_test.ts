import assert from "node:assert/strict";
import { DTypeError, getGpu, ShapeError, tensorFromArray } from "../../../ops/mod.ts";
import { disposeGtBatch, uploadGtBatch } from "../../../ops/detection/gt_batch.ts";
import { matchBoxes, MATCHER_GT_TILE, matchQuality } from "../../../ops/detection/matcher.ts";
import { loadFixture } from "../../_fixtures.ts";

await getGpu();
const fx = loadFixture("ops/targets_matcher.json");
const t = fx.tensors;
const counts = fx.meta.counts as number[];
const settings = fx.meta.settings as [number, number, boolean][];
const quality = tensorFromArray(t.quality.data as Float32Array, t.quality.shape);
const valid = tensorFromArray(Uint32Array.from(t.valid.data), t.valid.shape);

Deno.test("the fixture exercises ties, a 0-max GT, more GT than one tile and an image without GT", () => {
  assert.ok(counts[0] > MATCHER_GT_TILE && counts[1] === 0);
  const q = t.quality.data as Float32Array;
  const n = t.quality.shape[1];
  assert.ok(q.subarray(5 * n, 6 * n).every((v) => v === 0));
  assert.deepEqual(q.subarray(6 * n, 7 * n), q.subarray(7 * n, 8 * n));
});

settings.forEach(([high, low, lowQuality], s) => {
  for (const masked of [false, true]) {
    Deno.test(
      `matchQuality(${high}, ${low}, lowQuality=${lowQuality}${
        masked ? ", invalid columns" : ""
      }) equals torchvision Matcher`,
      async () => {
        const m = matchQuality(quality, counts, {
          highThreshold: high,
          lowThreshold: low,
          allowLowQualityMatches: lowQuality,
          valid: masked ? valid : undefined,
        });
        assert.deepEqual(m.shape, [3, t.quality.shape[1]]);
        const expected = t[`matches_${s}${masked ? "_masked" : ""}`].data as Int32Array;
        assert.deepEqual([...await m.read()], [...expected]);
      },
    );
  }
});

Deno.test("matchBoxes takes the first of tied GT and hands low-quality ties their match", async () => {
  // GT 0 and 1 identical (tie → 0); GT 2 small: its best anchors (two, tied) get it back below 0.3.
  const gt = uploadGtBatch([{
    boxes: new Float32Array([0, 0, 10, 10, 0, 0, 10, 10, 40, 40, 42, 42]),
    labels: new Int32Array([1, 2, 3]),
  }, { boxes: new Float32Array(0), labels: new Int32Array(0) }]);
  const anchors = tensorFromArray(
    new Float32Array([0, 0, 10, 9, 38, 40, 44, 46, 40, 38, 46, 44, 20, 20, 30, 30, 0, 0, 10, 5]),
    [5, 4],
  );
  const m = await matchBoxes(gt, anchors, {
    highThreshold: 0.7,
    lowThreshold: 0.3,
    allowLowQualityMatches: true,
  })
    .read();
  assert.deepEqual([...m], [0, 2, 2, -1, -2, -1, -1, -1, -1, -1]);
  disposeGtBatch(gt);
});

Deno.test("matchQuality / matchBoxes reject bad shapes, dtypes and thresholds naming the op", () => {
  assert.throws(() => matchQuality(quality, [70, 2], { highThreshold: 0.7, lowThreshold: 0.3 }), ShapeError);
  assert.throws(
    () => matchQuality(quality, counts, { highThreshold: 0.3, lowThreshold: 0.7 }),
    /matchQuality: lowThreshold 0.7 must be ≤ highThreshold 0.3/,
  );
  assert.throws(
    () => matchQuality(quality, counts, { highThreshold: 0.7, lowThreshold: 0.3, valid: quality }),
    DTypeError,
  );
  const gt = uploadGtBatch([{ boxes: new Float32Array(4), labels: new Int32Array(1) }]);
  const opts = { highThreshold: 0.7, lowThreshold: 0.3 };
  assert.throws(
    () => matchBoxes(gt, tensorFromArray(new Float32Array(6), [2, 3]), opts),
    /matchBoxes: boxes/,
  );
  assert.throws(() => matchBoxes(gt, tensorFromArray(new Float32Array(16), [2, 2, 4]), opts), ShapeError);
  disposeGtBatch(gt);
});
