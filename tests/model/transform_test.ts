// model/transform.ts against torchvision 0.14's GeneralizedRCNNTransform (train mode) and its postprocess:
// fixture tests/fixtures/model/transform.json written by tools/reference/make_transform_fixtures.py.
import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../ops/mod.ts";
import { resolveConfig } from "../../model/config.ts";
import { postprocessBoxes, transformImages, transformTargets } from "../../model/transform.ts";
import { ShapeError } from "../../ops/errors.ts";
import { loadFixture } from "../_fixtures.ts";

await getGpu();
const fixture = loadFixture("model/transform.json");
const cases = fixture.meta as Record<string, { min_size: number; max_size: number; count: number }>;
const tensor = (name: string) => fixture.tensors[name].data;
const pairs = (data: ArrayLike<number>) =>
  Array.from({ length: data.length / 2 }, (_, i) => [data[2 * i], data[2 * i + 1]] as [number, number]);

for (const [name, c] of Object.entries(cases)) {
  const config = resolveConfig({ preset: "small", minSize: c.min_size, maxSize: c.max_size });
  const originalSizes = pairs(tensor(`${name}_original_sizes`));
  const index = Array.from({ length: c.count }, (_, i) => i);

  Deno.test(`transformImages and transformTargets equal torchvision's transform bit for bit (${name})`, () => {
    // Pixels do not change sizes, boxes or masks: a grey image of each original size.
    const images = originalSizes.map(([height, width]) => ({
      data: new Uint8Array(height * width * 3).fill(128),
      width,
      height,
    }));
    const batch = transformImages(config, images);
    batch.images.dispose();
    assert.deepEqual(batch.originalSizes, originalSizes);
    assert.deepEqual(batch.imageSizes, pairs(tensor(`${name}_sizes`)));
    const targets = index.map((i) => ({
      boxes: tensor(`${name}_boxes${i}`) as Float32Array,
      labels: tensor(`${name}_labels${i}`) as Int32Array,
      masks: tensor(`${name}_masks${i}`) as Uint8Array,
    }));
    const gt = transformTargets(targets, batch);
    index.forEach((i) => {
      const masks = fixture.tensors[`${name}_resized_masks${i}`];
      assert.deepEqual(gt[i].boxes, tensor(`${name}_resized_boxes${i}`), `image ${i} boxes`);
      assert.deepEqual(gt[i].masks, masks.data, `image ${i} masks`);
      assert.deepEqual(gt[i].maskSize, masks.shape.slice(1), `image ${i} mask size`);
      assert.deepEqual(gt[i].maskSize, batch.imageSizes[i]);
      assert.equal(gt[i].labels, targets[i].labels);
      assert.ok(gt[i].masks!.some((v) => v === 1) && gt[i].masks!.some((v) => v === 0));
    });
  });

  Deno.test(`postprocessBoxes equals torchvision's transform.postprocess bit for bit (${name})`, async () => {
    const detected = index.map((i) => tensor(`${name}_detected${i}`) as Float32Array);
    const perImage = detected[0].length / 4;
    const boxes = tensorFromArray(Float32Array.from(detected.flatMap((d) => Array.from(d))), [
      c.count * perImage,
      4,
    ]);
    const sizes = { imageSizes: pairs(tensor(`${name}_sizes`)), originalSizes };
    const back = postprocessBoxes(boxes, sizes);
    const [got] = await readTensors([back]);
    const expected = Float32Array.from(index.flatMap((i) => Array.from(tensor(`${name}_postprocessed${i}`))));
    assert.deepEqual(got, expected);
    boxes.dispose();
    back.dispose();
  });
}

Deno.test("transformTargets names a batch whose targets and images differ in number", () => {
  const sizes = { imageSizes: [[4, 4]] as [number, number][], originalSizes: [[2, 2]] as [number, number][] };
  assert.throws(() => transformTargets([], sizes), ShapeError);
});
