// COCO instances datasets built in a temp dir. Expected targets are derived here from the annotations:
// xywh → x1y1x2y2 clipped, category ids sorted → labels 1..C, rectangle polygons rasterised by the COCO
// rule (integer rectangle [x1,x2)×[y1,y2)), uncompressed RLEs written column-major by hand below.
import assert from "node:assert/strict";
import { loadCocoDataset } from "../../data/coco_dataset.ts";
import { rectMask, writeTinyCoco } from "./tiny_coco.ts";

Deno.test("COCO items: sorted image ids, contiguous labels, clipped boxes, masks of every segmentation kind", async () => {
  const dir = await Deno.makeTempDir();
  const fx = await writeTinyCoco(dir);
  const ds = await loadCocoDataset(`${dir}/instances.json`, dir);
  assert.deepEqual(ds.imageIds, [1, 2, 3]);
  assert.deepEqual(ds.categoryIds, [1, 3, 7]);
  assert.deepEqual(ds.classNames, ["background", "ant", "cat", "dog"]);
  assert.equal(ds.labelToCategoryId(3), 7);
  assert.equal(ds.categoryIdToLabel(3), 2);

  const a = await ds.get(0);
  assert.equal(a.imageId, 1);
  assert.deepEqual(a.image.data, fx.img1);
  assert.deepEqual(a.annotationIds, [10, 11]);
  assert.deepEqual(a.target.labels, new Int32Array([3, 1]));
  assert.deepEqual(a.target.boxes, new Float32Array([1, 1, 5, 4, 6, 2, 9, 7]));
  const m = a.target.masks!;
  assert.deepEqual(m.subarray(0, 80), rectMask(10, 8, 1, 1, 5, 4));
  assert.deepEqual(m.subarray(80, 160), fx.rleMask);
  // Crowd regions are out of the targets but available.
  assert.deepEqual(a.crowd.annotationIds, [12]);
  assert.deepEqual(a.crowd.labels, new Int32Array([2]));
  assert.deepEqual(a.crowd.boxes, new Float32Array([0, 5, 3, 8]));
  assert.deepEqual(a.crowd.masks, fx.crowdMask);
  assert.equal(ds.annotations(1).length, 3);
  assert.deepEqual(a.polygons, [[[1, 1, 5, 1, 5, 4, 1, 4]], null]);

  const b = await ds.get(1);
  assert.deepEqual(b.target.boxes, new Float32Array([8, 5, 12, 9, 0, 0, 2, 3]));
  const union = rectMask(12, 9, 8, 5, 10, 7).map((v, i) => v | rectMask(12, 9, 10, 7, 12, 9)[i]);
  assert.deepEqual(b.target.masks!.subarray(0, 108), union);
  assert.deepEqual(b.target.masks!.subarray(108), fx.compressedMask);

  const c = await ds.get(2);
  assert.equal(c.target.labels.length, 0);
  assert.equal(c.target.masks!.length, 0);
});

Deno.test("skipEmpty drops images without non-crowd objects; withMasks false skips masks", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCoco(dir);
  const ds = await loadCocoDataset(`${dir}/instances.json`, dir, { skipEmpty: true, withMasks: false });
  assert.deepEqual(ds.imageIds, [1, 2]);
  const a = await ds.get(0);
  assert.equal(a.target.masks, undefined);
  assert.equal(a.target.labels.length, 2);
});

Deno.test("a _background_ category (labelme's COCO export) is not a class: labels stay 1..C", async () => {
  const { layoutItems, writeCocoWithBackground } = await import("./_layouts.ts");
  const root = await Deno.makeTempDir();
  try {
    const items = layoutItems(2);
    const path = await writeCocoWithBackground(root, items);
    const ds = await loadCocoDataset(path, root);
    assert.deepEqual(ds.classNames, ["background", "square", "circle", "triangle"]);
    assert.deepEqual(ds.categoryIds, [1, 2, 3]);
    assert.deepEqual(ds.droppedCategories.map((c) => c.name), ["_background_"]);
    assert.equal(ds.length, items.length, "the image without objects is kept");
    for (const [i, want] of items.entries()) {
      const got = await ds.get(i);
      assert.deepEqual(got.target.labels, want.target.labels);
      assert.deepEqual(got.target.masks, want.target.masks ?? new Uint8Array(0));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
