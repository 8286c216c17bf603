import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { maxPool2d, maxPool2dOutputSize, type Pair } from "../../ops/pool.ts";
import { loadFixture } from "../_fixtures.ts";

await getGpu();
const fixture = loadFixture("ops/pool.json");

for (const [name, meta] of Object.entries(fixture.meta)) {
  Deno.test(`maxPool2d ${name} equals torch max_pool2d exactly`, async () => {
    const { kernel, stride, padding } = meta as { kernel: Pair; stride: Pair; padding: Pair };
    const x = fixture.tensors[`${name}_x`];
    const y = fixture.tensors[`${name}_y`];
    const out = maxPool2d(tensorFromArray(x.data as Float32Array, x.shape), { kernel, stride, padding });
    assert.deepEqual(out.shape, y.shape);
    assert.deepEqual(await out.read(), y.data);
  });
}

Deno.test("maxPool2dOutputSize follows torch's floor rule", () => {
  assert.equal(maxPool2dOutputSize(400, 3, 2, 1), 200);
  assert.equal(maxPool2dOutputSize(37, 3, 2, 1), 19);
  assert.equal(maxPool2dOutputSize(25, 1, 2, 0), 13);
});

Deno.test("maxPool2d rejects bad ranks, paddings and windows larger than the input", () => {
  const x = tensorFromArray(new Float32Array(2 * 3 * 3 * 2).fill(1), [2, 3, 3, 2]);
  assert.throws(
    () => maxPool2d(x.reshape([6, 3, 2]), { kernel: 3 }),
    (e: Error) => e instanceof ShapeError && /maxPool2d: x must have rank 4/.test(e.message),
  );
  assert.throws(
    () => maxPool2d(x, { kernel: 3, padding: 2 }),
    (e: Error) => e instanceof ShapeError && /padding/.test(e.message),
  );
  assert.throws(
    () => maxPool2d(x, { kernel: 5 }),
    (e: Error) => e instanceof ShapeError && /too small/.test(e.message),
  );
  assert.throws(() => maxPool2d(x, { kernel: 0 }), ShapeError);
});
