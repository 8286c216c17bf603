import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { inferScale, multiScaleRoiAlign, roiLevels, setupScales } from "../../ops/multiscale_roi_align.ts";
import { roiAlign } from "../../ops/roi_align.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();

// torchvision 0.14 MultiScaleRoIAlign(["p2".."p5"], 7, 2) on a batch of 2 images of 200×304 and 190×300
// (maps 50×76, 25×38, 13×19, 7×10, C = 4), with boxes on the exact level boundaries sqrt(area) = 224·2^k.
const fx = loadFixture("ops/multiscale_roi_align.json");
const names = ["p2", "p3", "p4", "p5"];
const features = Object.fromEntries(
  names.map((n) => [n, tensorFromArray(fx.tensors[n].data as Float32Array, fx.tensors[n].shape)]),
);
const rois = tensorFromArray(fx.tensors.rois.data as Float32Array, fx.tensors.rois.shape);
const imageShapes = fx.meta.image_shapes as [number, number][];

Deno.test("scales and level range are inferred as torchvision does", () => {
  const { scales, mapper } = setupScales(names.map((n) => features[n].shape[1]), imageShapes);
  assert.deepEqual(scales, fx.meta.scales);
  assert.deepEqual([mapper.kMin, mapper.kMax], [2, 5]);
  assert.equal(inferScale(200, 800), 0.25);
  assert.equal(inferScale(25, 800), 1 / 32);
});

Deno.test("roiLevels equals torchvision's LevelMapper exactly, boundary boxes included", async () => {
  const { mapper } = setupScales(names.map((n) => features[n].shape[1]), imageShapes);
  const levels = await roiLevels(rois, mapper).read();
  assert.deepEqual([...levels], [...fx.tensors.levels.data]);
  assert.ok(new Set(levels).size === 4, "the fixture covers all four levels");
});

Deno.test("multiScaleRoiAlign matches torchvision in RoI order", async () => {
  const out = multiScaleRoiAlign(features, rois, imageShapes, { outputSize: 7, samplingRatio: 2 });
  assert.deepEqual(out.shape, fx.tensors.output.shape);
  assertClose(await out.read(), fx.tensors.output.data, 1e-4, "multiscale");
});

Deno.test("multiScaleRoiAlign over one level is plain roi_align at the inferred scale", async () => {
  const one = multiScaleRoiAlign({ p3: features.p3 }, rois, imageShapes, {
    featmapNames: ["p3"],
    outputSize: [5, 3],
    samplingRatio: -1,
  });
  const ref = roiAlign(features.p3, rois, [5, 3], 0.125, -1, false);
  assert.deepEqual([...await one.read()], [...await ref.read()]);
});

Deno.test("multiScaleRoiAlign pools zeros for an inverted box", async () => {
  const inverted = tensorFromArray(new Float32Array([0, 50, 50, 10, 90]), [1, 5]);
  const out = await multiScaleRoiAlign(features, inverted, imageShapes, { outputSize: 2, samplingRatio: 2 })
    .read();
  assert.ok(out.every((v) => v === 0));
});

Deno.test("multiScaleRoiAlign rejects bad shapes naming the op", () => {
  const opts = { outputSize: 7, samplingRatio: 2 };
  assert.throws(
    () => multiScaleRoiAlign(features, tensorFromArray(new Float32Array(4), [1, 4]), imageShapes, opts),
    (e: Error) =>
      e instanceof ShapeError && /multiscale_roi_align: rois must be \[R, 5\].*\[1,4\]/.test(e.message),
  );
  const flat = { ...features, p4: tensorFromArray(new Float32Array(13 * 19 * 4), [13, 19, 4]) };
  assert.throws(
    () => multiScaleRoiAlign(flat, rois, imageShapes, opts),
    (e: Error) =>
      e instanceof ShapeError && /multiscale_roi_align: p4 must have rank 4.*\[13,19,4\]/.test(e.message),
  );
  const narrow = { ...features, p5: tensorFromArray(new Float32Array(2 * 7 * 10 * 3), [2, 7, 10, 3]) };
  assert.throws(
    () => multiScaleRoiAlign(narrow, rois, imageShapes, opts),
    (e: Error) =>
      e instanceof ShapeError && /p5 \[2,7,10,3\] f32 and p2 \[2,50,76,4\] f32 differ/.test(e.message),
  );
  assert.throws(
    () => multiScaleRoiAlign({ p2: features.p2 }, rois, imageShapes, opts),
    (e: Error) => e instanceof ShapeError && /p3, p4, p5 missing/.test(e.message),
  );
});
