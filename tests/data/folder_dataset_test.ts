// Folder datasets (images/NAME.png + masks/NAME_<k>_<label>.png): generated shapes written to disk read
// back with identical images, labels and masks, and boxes equal to the masks' tight boxes as torchvision's
// masks_to_boxes gives them (x2 = max x: the shapes' pixel-edge boxes minus one).
import assert from "node:assert/strict";
import { DataError } from "../../data/errors.ts";
import { loadFolderDataset } from "../../data/folder_dataset.ts";
import { encodePng } from "../../data/image_codec.ts";
import { ShapesDataset } from "../../data/shapes.ts";

Deno.test("shapes written as a folder dataset read back exactly", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/images`);
  await Deno.mkdir(`${root}/masks`);
  const shapes = new ShapesDataset({ count: 3, width: 48, height: 40, seed: 8 });
  const names = ["img_a", "img_b", "img_c"];
  for (let i = 0; i < 3; i++) {
    const { image, target } = await shapes.get(i);
    await Deno.writeFile(`${root}/images/${names[i]}.png`, encodePng(image.data, 48, 40, 3));
    for (let k = 0; k < target.labels.length; k++) {
      const mask = target.masks!.subarray(k * 48 * 40, (k + 1) * 48 * 40).map((v) => v * 255);
      await Deno.writeFile(
        `${root}/masks/${names[i]}_${k}_${target.labels[k]}.png`,
        encodePng(mask, 48, 40, 1),
      );
    }
  }
  const ds = await loadFolderDataset(root);
  assert.deepEqual(ds.names, names);
  for (let i = 0; i < 3; i++) {
    const want = await shapes.get(i);
    const got = await ds.get(i);
    assert.deepEqual(got.image, want.image);
    assert.deepEqual(got.target.labels, want.target.labels);
    assert.deepEqual(got.target.masks, want.target.masks);
    assert.deepEqual(got.target.boxes, want.target.boxes.map((v, j) => (j % 4 >= 2 ? v - 1 : v)));
  }
  await Deno.writeFile(`${root}/masks/img_a_9_1.png`, encodePng(new Uint8Array(48 * 40), 48, 40, 1));
  const withEmpty = await loadFolderDataset(root);
  await assert.rejects(
    () => withEmpty.get(0),
    (e) => e instanceof DataError && e.reason === "zero-area-box" && e.file.endsWith("img_a_9_1.png"),
  );
  await Deno.writeFile(`${root}/masks/ghost_0_1.png`, encodePng(new Uint8Array(4), 2, 2, 1));
  await assert.rejects(
    () => loadFolderDataset(root),
    (e) => e instanceof DataError && e.reason === "unknown-image",
  );
});
