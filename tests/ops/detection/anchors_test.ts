import assert from "node:assert/strict";
import { getGpu, ShapeError } from "../../../ops/mod.ts";
import { anchorsTensor, cellAnchors, torchvisionAnchors } from "../../../ops/detection/anchors.ts";
import { MASKRCNN_RESNET50_FPN } from "../../../model/config.ts";
import { loadFixture } from "../../_fixtures.ts";

await getGpu();
const fixture = loadFixture("ops/anchors.json");
// The fixture was made with torchvision's Mask R-CNN anchors (tools/reference/make_anchors_fixtures.py).
const { anchorSizes: SIZES, aspectRatios: RATIOS } = MASKRCNN_RESNET50_FPN;

Deno.test("cellAnchors equal torchvision's rounded base anchors for sizes 32..512 and ratios 0.5, 1, 2", () => {
  const ours = SIZES.flatMap((s, i) => Array.from(cellAnchors(s, RATIOS[i])));
  assert.deepEqual(ours, Array.from(fixture.tensors.cell_anchors.data));
});

type TvMeta = Record<string, { image: [number, number]; features: [number, number][] }>;
for (const [name, { image, features }] of Object.entries(fixture.meta.torchvision as TvMeta)) {
  Deno.test(`torchvisionAnchors ${name} equal AnchorGenerator exactly (odd feature sizes, // strides)`, async () => {
    const ours = torchvisionAnchors(image, features, SIZES, RATIOS);
    const ref = fixture.tensors[name];
    assert.equal(ours.length, ref.data.length);
    assert.deepEqual(ours, ref.data);
    const t = anchorsTensor(ours);
    assert.deepEqual(t.shape, ref.shape);
    assert.deepEqual(await t.read(), ref.data);
  });
}

Deno.test("torchvisionAnchors and anchorsTensor reject mismatched shapes", () => {
  assert.throws(
    () => torchvisionAnchors([64, 64], [[16, 16]], SIZES, RATIOS),
    (e: Error) =>
      e instanceof ShapeError && /torchvisionAnchors: 1 feature maps, 5 size tuples/.test(e.message),
  );
  assert.throws(() => torchvisionAnchors([8, 8], Array(5).fill([16, 16]), SIZES, RATIOS), ShapeError);
  assert.throws(() => anchorsTensor(new Float32Array(5)), ShapeError);
});
