import assert from "node:assert/strict";
import { getGpu, ShapeError } from "../../ops/mod.ts";
import { imageTransform, resizedImageSize, type Rgb8Image } from "../../ops/image_transform.ts";
import { MASKRCNN_RESNET50_FPN } from "../../model/config.ts";
import { transformOptions } from "../../model/stage_config.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();
const fixture = loadFixture("ops/image_transform.json");
// torchvision's GeneralizedRCNNTransform normalisation and padding (the fixture's), sizes per case.
const TORCHVISION = transformOptions(MASKRCNN_RESNET50_FPN);

function imagesOf(name: string, count: number): Rgb8Image[] {
  return Array.from({ length: count }, (_, i) => {
    const t = fixture.tensors[`${name}_image${i}`];
    return { data: t.data as Uint8Array, height: t.shape[0], width: t.shape[1] };
  });
}

function toRgba(image: Rgb8Image): Rgb8Image {
  const data = new Uint8Array(image.height * image.width * 4);
  for (let p = 0; p < image.height * image.width; p++) {
    data.set(image.data.subarray(p * 3, p * 3 + 3), p * 4);
    data[p * 4 + 3] = 255 - (p % 256); // alpha must be ignored
  }
  return { data, height: image.height, width: image.width, channels: 4 };
}

for (const [name, m] of Object.entries(fixture.meta)) {
  const { min_size, max_size, count } = m as { min_size: number; max_size: number; count: number };
  Deno.test(`imageTransform ${name} matches torchvision GeneralizedRCNNTransform (RGB and RGBA input)`, async () => {
    const expected = fixture.tensors[`${name}_batch`];
    const sizes = Array.from(fixture.tensors[`${name}_sizes`].data);
    for (const images of [imagesOf(name, count), imagesOf(name, count).map(toRgba)]) {
      const out = imageTransform(images, { ...TORCHVISION, minSize: min_size, maxSize: max_size });
      assert.deepEqual(out.images.shape, expected.shape);
      assert.deepEqual(out.imageSizes.flat(), sizes);
      assert.deepEqual(out.originalSizes, images.map((im) => [im.height, im.width]));
      assertClose(await out.images.read(), expected.data as Float32Array, 1e-5, name);
      out.images.dispose();
    }
  });
}

Deno.test("resizedImageSize equals torchvision's resized size for 49 image sizes at 800/1333", () => {
  const rule = fixture.tensors.size_rule.data as Int32Array;
  for (let i = 0; i < rule.length; i += 4) {
    assert.deepEqual(
      resizedImageSize(rule[i], rule[i + 1]),
      [rule[i + 2], rule[i + 3]],
      `${rule[i]}×${rule[i + 1]}`,
    );
  }
});

Deno.test("imageTransform rejects byte counts that do not match the size and empty batches", () => {
  assert.throws(
    () => imageTransform([{ data: new Uint8Array(10), height: 2, width: 2 }], TORCHVISION),
    (e: Error) => e instanceof ShapeError && /imageTransform: image of 10 bytes is not 2×2×3/.test(e.message),
  );
  assert.throws(() => imageTransform([], TORCHVISION), ShapeError);
});
