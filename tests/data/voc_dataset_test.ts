// VOC segmentation layout (SegmentationObject/ + SegmentationClass/ palette PNGs, 255 void, image lists)
// and labelme's VOC export (class_names.txt): instances, their classes, void pixels left out.
import assert from "node:assert/strict";
import { loadVocDataset, VOC_CLASS_NAMES } from "../../data/voc_dataset.ts";
import { SHAPES_CLASS_NAMES } from "../../data/shapes.ts";
import { layoutItems, VOC_IDS_OF_SHAPES, vocExpected, writeVoc } from "./_layouts.ts";

Deno.test("a VOC folder: instance masks without void pixels, classes from SegmentationClass, splits", async () => {
  const root = await Deno.makeTempDir();
  try {
    const items = layoutItems(3);
    const names = await writeVoc(root, items);
    const ds = await loadVocDataset(root);
    assert.deepEqual(ds.names, names);
    assert.equal(ds.classNames, VOC_CLASS_NAMES);
    assert.equal(ds.classNames.length, 21);
    for (const [i, want] of items.entries()) {
      const got = await ds.get(i);
      const expected = vocExpected(want);
      assert.deepEqual(got.image, want.image);
      assert.deepEqual(
        Array.from(got.target.labels),
        Array.from(want.target.labels, (l) => VOC_IDS_OF_SHAPES[l]),
      );
      assert.deepEqual(got.target.masks, expected.masks);
      assert.deepEqual(Array.from(got.target.boxes), expected.boxes);
    }
    assert.equal((await ds.get(items.length - 1)).target.labels.length, 0, "the negative image is kept");
    const train = await loadVocDataset(root, { split: "train" });
    assert.deepEqual(train.names, names.slice(1));
    assert.deepEqual((await loadVocDataset(root, { split: "val" })).names, [names[0]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("labelme's VOC export: class_names.txt names the classes (__ignore__ and _background_ handled)", async () => {
  const root = await Deno.makeTempDir();
  try {
    const items = layoutItems(2);
    await writeVoc(root, items, { classNamesTxt: true });
    const ds = await loadVocDataset(root);
    assert.deepEqual(ds.classNames, SHAPES_CLASS_NAMES);
    assert.deepEqual((await ds.get(0)).target.labels, items[0].target.labels);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
