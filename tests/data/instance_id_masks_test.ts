// Id-map PNGs: palette indices (not colours) and grey levels read back exactly, whatever row filters the
// writer chose; RGB masks through VOC's colour map; instances split as torchvision's PennFudan tutorial does.
import assert from "node:assert/strict";
import { DataError } from "../../data/errors.ts";
import { encodePng } from "../../data/image_codec.ts";
import { decodeIdPng, instancesFromIds, majorityClass } from "../../data/instance_id_masks.ts";
import { Rng } from "../../data/prng.ts";
import { encodePalettePng, torchvisionBoxes } from "./_layouts.ts";

const W = 37, H = 23;
const rng = new Rng(3);
const ids = Uint8Array.from({ length: W * H }, () => rng.int(0, 255));

Deno.test("decodeIdPng returns palette indices and grey levels exactly", async () => {
  assert.deepEqual((await decodeIdPng(await encodePalettePng(ids, W, H))).ids, Uint16Array.from(ids));
  // imagescript's writer picks its own row filters (sub/up/average/paeth): grey, RGB and RGBA.
  const grey = await decodeIdPng(encodePng(ids, W, H, 1));
  assert.deepEqual([grey.width, grey.height], [W, H]);
  assert.deepEqual(grey.ids, Uint16Array.from(ids));
  const rgb = new Uint8Array(W * H * 3).map((_, i) => ids[Math.floor(i / 3)]);
  assert.deepEqual((await decodeIdPng(encodePng(rgb, W, H, 3))).ids, Uint16Array.from(ids));
});

Deno.test("an RGB mask in VOC colours reads as VOC indices; other colours are a DataError", async () => {
  // VOC colour map by hand: index 1 (128,0,0), 2 (0,128,0), 15 (192,128,128), 255 (224,224,192).
  const colours: [number, number[]][] = [[1, [128, 0, 0]], [2, [0, 128, 0]], [15, [192, 128, 128]], [
    255,
    [224, 224, 192],
  ]];
  const rgb = new Uint8Array(4 * 3);
  colours.forEach(([, c], i) => rgb.set(c, 3 * i));
  assert.deepEqual(Array.from((await decodeIdPng(encodePng(rgb, 4, 1, 3))).ids), colours.map(([i]) => i));
  rgb.set([1, 2, 3], 0);
  await assert.rejects(
    () => decodeIdPng(encodePng(rgb, 4, 1, 3), "m.png"),
    (e) => e instanceof DataError && e.reason === "bad-mask" && e.message.includes("m.png"),
  );
  await assert.rejects(
    () => decodeIdPng(encodePng(new Uint8Array(100), 10, 10, 1), "big.png", { maxPixels: 99 }),
    (e) => e instanceof DataError && /10×10 = 100 pixels is over the limit of 99/.test(e.message),
  );
  await assert.rejects(
    () => decodeIdPng(new Uint8Array(40), "x.png"),
    (e) => e instanceof DataError && e.reason === "corrupt-image",
  );
});

Deno.test("instancesFromIds: one mask per id in ascending order, masks_to_boxes boxes, degenerate ones dropped", () => {
  const map = new Uint16Array(W * H);
  const rect = (id: number, x1: number, y1: number, x2: number, y2: number) => {
    for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) map[y * W + x] = id;
  };
  rect(7, 2, 3, 10, 8);
  rect(3, 20, 1, 30, 20);
  rect(9, 33, 5, 33, 15); // one pixel wide: no box area
  rect(255, 0, 22, 36, 22); // void
  const found = instancesFromIds({ width: W, height: H, ids: map }, { ignore: [255] });
  assert.deepEqual(found.ids, [3, 7]);
  assert.deepEqual(found.dropped, [{ id: 9, reason: "zero-area-box" }]);
  assert.deepEqual(Array.from(found.labels), [1, 1]);
  const want = Uint8Array.from(
    { length: 2 * W * H },
    (_, i) => (map[i % (W * H)] === [3, 7][Math.floor(i / (W * H))] ? 1 : 0),
  );
  assert.deepEqual(found.masks, want);
  assert.deepEqual(Array.from(found.boxes), torchvisionBoxes(want, 2, W, H));
  assert.deepEqual(Array.from(found.boxes), [20, 1, 30, 20, 2, 3, 10, 8]);
  // Labels from a class map by majority; label 0 drops the instance.
  const classes = new Uint16Array(W * H).fill(4);
  const labelled = instancesFromIds({ width: W, height: H, ids: map }, {
    ignore: [255],
    labelOf: (id, pixels) => (id === 3 ? 0 : majorityClass(classes, pixels)),
  });
  assert.deepEqual(labelled.ids, [7]);
  assert.deepEqual(Array.from(labelled.labels), [4]);
  assert.deepEqual(labelled.dropped.map((d) => d.reason), ["no-class", "zero-area-box"]);
});
