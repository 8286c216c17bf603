// PennFudanPed layout (PNGImages/ + PedMasks/ instance-id palette PNGs): images, label 1 per instance,
// one mask per id, boxes as torchvision's masks_to_boxes; an image without a mask file is a negative.
import assert from "node:assert/strict";
import { DataError } from "../../data/errors.ts";
import { loadPennFudanDataset } from "../../data/pennfudan_dataset.ts";
import { encodePalettePng, layoutItems, torchvisionBoxes, writePennFudan } from "./_layouts.ts";

Deno.test("a PennFudan folder reads back the generated instances exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    const items = layoutItems(3);
    const names = await writePennFudan(root, items);
    const ds = await loadPennFudanDataset(root);
    assert.deepEqual(ds.names, names);
    assert.deepEqual(ds.classNames, ["background", "pedestrian"]);
    for (const [i, want] of items.entries()) {
      const got = await ds.get(i);
      const n = want.target.labels.length;
      const { width: W, height: H } = want.image;
      assert.deepEqual(got.image, want.image);
      assert.deepEqual(Array.from(got.target.labels), new Array(n).fill(1));
      assert.deepEqual(got.target.masks, want.target.masks ?? new Uint8Array(0));
      assert.deepEqual(Array.from(got.target.boxes), torchvisionBoxes(got.target.masks!, n, W, H));
      // torchvision's boxes end one pixel before the shapes' pixel-edge boxes.
      assert.deepEqual(
        Array.from(got.target.boxes),
        Array.from(want.target.boxes, (v, j) => j % 4 >= 2 ? v - 1 : v),
      );
    }
    assert.equal((await ds.get(items.length - 1)).target.labels.length, 0, "the negative image is kept");
    await Deno.writeFile(`${root}/PedMasks/Ghost_mask.png`, await encodePalettePng(new Uint8Array(4), 2, 2));
    await assert.rejects(
      () => loadPennFudanDataset(root),
      (e) => e instanceof DataError && e.reason === "unknown-image" && e.file.endsWith("Ghost_mask.png"),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
