import assert from "node:assert/strict";
import { DTypeError, getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { upsampleNearest } from "../../ops/upsample.ts";
import { loadFixture } from "../_fixtures.ts";

await getGpu();
const fixture = loadFixture("ops/upsample.json");

for (const [name, meta] of Object.entries(fixture.meta)) {
  Deno.test(`upsampleNearest ${name} equals torch interpolate(nearest) exactly`, async () => {
    const [outH, outW] = (meta as { out: [number, number] }).out;
    const x = fixture.tensors[`${name}_x`];
    const y = fixture.tensors[`${name}_y`];
    const out = upsampleNearest(tensorFromArray(x.data as Float32Array, x.shape), outH, outW);
    assert.deepEqual(out.shape, y.shape);
    assert.deepEqual(await out.read(), y.data);
  });
}

Deno.test("upsampleNearest rejects bad ranks, dtypes and sizes", () => {
  const x = tensorFromArray(new Float32Array(12).fill(1), [1, 2, 3, 2]);
  assert.throws(
    () => upsampleNearest(x.reshape([2, 3, 2]), 4, 4),
    (e: Error) => e instanceof ShapeError && /upsampleNearest: x must have rank 4/.test(e.message),
  );
  assert.throws(
    () => upsampleNearest(x, 0, 4),
    (e: Error) => e instanceof ShapeError && /output size/.test(e.message),
  );
  const i = tensorFromArray(new Int32Array(12), [1, 2, 3, 2]);
  assert.throws(() => upsampleNearest(i, 4, 4), DTypeError);
});
