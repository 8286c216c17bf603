// Image decoding against fixtures written by tools/reference/make_tfrecord_fixtures.py: PNGs written by
// hand (greyscale, grey+alpha, RGBA) and JPEGs written and decoded by Pillow/libjpeg.
import assert from "node:assert/strict";
import { decodeImage, decodeMaskPng, encodePng, readImageFile } from "../../data/image_codec.ts";
import { DataError } from "../../data/errors.ts";

const DIR = new URL("../fixtures/data/", import.meta.url).pathname;
const EXPECTED = JSON.parse(await Deno.readTextFile(`${DIR}codec_expected.json`)) as {
  images: Record<string, { width: number; height: number; rgb: number[]; tolerance: number }>;
};

Deno.test("PNG and JPEG fixtures decode to the expected RGB values", async () => {
  const names = Object.keys(EXPECTED.images);
  assert.ok(names.length >= 3);
  for (const name of names) {
    const want = EXPECTED.images[name];
    const image = await readImageFile(`${DIR}${name}`);
    assert.equal(image.width, want.width, name);
    assert.equal(image.height, want.height, name);
    assert.equal(image.data.length, want.rgb.length, name);
    let maxDiff = 0;
    for (let i = 0; i < want.rgb.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(image.data[i] - want.rgb[i]));
    }
    assert.ok(maxDiff <= want.tolerance, `${name}: max difference ${maxDiff} > ${want.tolerance}`);
  }
});

Deno.test("encodePng round-trips greyscale masks and RGB images", async () => {
  const mask = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
  const back = await decodeMaskPng(encodePng(mask, 7, 5, 1));
  assert.deepEqual(back, { mask, width: 7, height: 5 });
  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
  assert.deepEqual(await decodeImage(encodePng(rgb, 4, 3, 3)), { data: rgb, width: 4, height: 3 });
});

Deno.test("corrupt and unknown image bytes give a corrupt-image DataError naming the file", async () => {
  const jpeg = await Deno.readFile(`${DIR}codec_rgb.jpg`);
  await assert.rejects(
    () => decodeImage(jpeg.subarray(0, 40), "cut.jpg"),
    (e) => e instanceof DataError && e.reason === "corrupt-image" && e.file === "cut.jpg",
  );
  await assert.rejects(
    () => decodeImage(new TextEncoder().encode("not an image"), "x.bin"),
    (e) => e instanceof DataError && e.reason === "corrupt-image" && /x\.bin/.test(e.message),
  );
  await assert.rejects(
    () => readImageFile(`${DIR}does_not_exist.png`),
    (e) => e instanceof DataError && e.reason === "missing-file",
  );
});
