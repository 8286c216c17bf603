import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { upsampleNearestBackward } from "../../ops/upsample.ts";
import { nearestSourceIndex } from "../../model/mask_resize.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();
// torch 1.13 autograd of F.interpolate(size=..., mode="nearest") (tools/reference/make_backward_fixtures.py).
const fixture = loadFixture("ops/upsample_backward.json");

for (const [name, meta] of Object.entries(fixture.meta)) {
  Deno.test(`upsampleNearestBackward ${name} matches torch autograd`, async () => {
    const { in: [h, w] } = meta as { in: [number, number] };
    const g = fixture.tensors[`${name}_grad_out`];
    const expected = fixture.tensors[`${name}_grad_x`];
    const gradX = upsampleNearestBackward(tensorFromArray(g.data as Float32Array, g.shape), h, w);
    assert.deepEqual(gradX.shape, expected.shape);
    assertClose(await gradX.read(), expected.data, 1e-6, name);
  });
}

Deno.test("upsampleNearestBackward equals a CPU scatter with nearestSourceIndex on awkward ratios", async () => {
  for (const [h, w, oh, ow] of [[3, 7, 1000, 29], [29, 31, 30, 17], [1, 1, 5, 3]]) {
    const c = 2;
    const g = randomFloats(oh * ow * c, h * 100 + w);
    const expected = new Float32Array(h * w * c);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const s = nearestSourceIndex(oy, h, oh) * w + nearestSourceIndex(ox, w, ow);
        for (let k = 0; k < c; k++) expected[s * c + k] += g[(oy * ow + ox) * c + k];
      }
    }
    const out = await upsampleNearestBackward(tensorFromArray(g, [1, oh, ow, c]), h, w).read();
    assertClose(out, expected, 1e-5, `${h}x${w} <- ${oh}x${ow}`);
  }
});

Deno.test("upsampleNearestBackward rejects bad ranks and sizes", () => {
  const g = tensorFromArray(new Float32Array(24), [1, 3, 4, 2]);
  assert.throws(
    () => upsampleNearestBackward(g.reshape([3, 4, 2]), 2, 2),
    (e: Error) =>
      e instanceof ShapeError && /upsampleNearestBackward: gradOut must have rank 4/.test(e.message),
  );
  assert.throws(
    () => upsampleNearestBackward(g, 0, 2),
    (e: Error) => e instanceof ShapeError && /input size \[0,2\]/.test(e.message),
  );
});
