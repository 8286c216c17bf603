import assert from "node:assert/strict";
import { getGpu, ShapeError, sum, tensorFromArray } from "../../ops/mod.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

await getGpu();

function referenceSum(x: ArrayLike<number>, shape: number[], axis: number): Float64Array {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < len; k++) {
      for (let i = 0; i < inner; i++) out[o * inner + i] += x[(o * len + k) * inner + i];
    }
  }
  return out;
}

for (const n of [1, 255, 8193, 1_000_003]) {
  Deno.test(`sum over all ${n} elements matches float64`, async () => {
    const x = randomFloats(n, n, 0.5, 1.5); // positive so the relative error is meaningful
    const got = await sum(tensorFromArray(x, [n])).read();
    assert.equal(got.length, 1);
    assertClose(got, referenceSum(x, [n], 0), 1e-5, "sum");
  });
}

Deno.test("sum along each axis of a [3,37,53] tensor matches float64", async () => {
  const shape = [3, 37, 53];
  const x = randomFloats(3 * 37 * 53, 9);
  const t = tensorFromArray(x, shape);
  for (const axis of [0, 1, 2]) {
    const out = sum(t, axis);
    assert.deepEqual(out.shape, shape.filter((_, i) => i !== axis));
    assertClose(await out.read(), referenceSum(x, shape, axis), 1e-5, `sum axis ${axis}`);
  }
  assertClose(await sum(t, -1).read(), referenceSum(x, shape, 2), 1e-5, "sum axis -1");
});

Deno.test("sum with more than 65,535 outputs folds the workgroup grid", async () => {
  const rows = 70_000;
  const x = randomInts(rows * 3, 4, -100, 100);
  const got = await sum(tensorFromArray(x, [rows, 3]), 1).read();
  const expected = referenceSum(x, [rows, 3], 1);
  for (let i = 0; i < rows; i++) assert.equal(got[i], expected[i]);
});

Deno.test("sum rejects an axis out of range", () => {
  const t = tensorFromArray(randomFloats(6, 1), [2, 3]);
  assert.throws(() => sum(t, 2), (e: Error) => e instanceof ShapeError && /sum: axis 2/.test(e.message));
});
