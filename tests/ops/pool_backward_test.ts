import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { maxPool2dBackward, type Pair } from "../../ops/pool.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();
// torch 1.13 autograd of F.max_pool2d (tools/reference/make_backward_fixtures.py); the ties_int cases
// have integer-valued inputs in {0, 1, 2}, so most windows hold several maxima: torch's gradient goes to
// the first in scan order, and any other choice moves whole gradOut values.
const fixture = loadFixture("ops/pool_backward.json");

for (const [name, meta] of Object.entries(fixture.meta)) {
  Deno.test(`maxPool2dBackward ${name} matches torch autograd`, async () => {
    const { kernel, stride, padding } = meta as { kernel: Pair; stride: Pair; padding: Pair };
    const t = (k: string) => fixture.tensors[`${name}_${k}`];
    const x = tensorFromArray(t("x").data as Float32Array, t("x").shape);
    const g = tensorFromArray(t("grad_out").data as Float32Array, t("grad_out").shape);
    const gradX = maxPool2dBackward(x, g, { kernel, stride, padding });
    assert.deepEqual(gradX.shape, t("grad_x").shape);
    assertClose(await gradX.read(), t("grad_x").data, 1e-6, name);
  });
}

Deno.test("maxPool2dBackward sends a tied window's gradient to the first maximum only", async () => {
  // One 2×2 window of equal values, C = 1 and C = 4: the gradient lands on (0, 0) in every channel.
  for (const c of [1, 4]) {
    const x = tensorFromArray(new Float32Array(4 * c).fill(3), [1, 2, 2, c]);
    const g = tensorFromArray(new Float32Array(c).fill(5), [1, 1, 1, c]);
    const out = await maxPool2dBackward(x, g, { kernel: 2 }).read();
    const expected = new Float32Array(4 * c);
    expected.fill(5, 0, c);
    assert.deepEqual(out, expected);
  }
});

Deno.test("maxPool2dBackward rejects a gradOut of the wrong shape and bad windows", () => {
  const x = tensorFromArray(new Float32Array(2 * 5 * 5 * 3).fill(1), [2, 5, 5, 3]);
  const g = tensorFromArray(new Float32Array(2 * 3 * 3 * 3).fill(1), [2, 3, 3, 3]);
  assert.throws(
    () => maxPool2dBackward(x, g, { kernel: 3, stride: 2 }),
    (e: Error) =>
      e instanceof ShapeError &&
      /maxPool2dBackward: gradOut \[2,3,3,3\] f32 must be \[2,2,2,3\]/.test(e.message),
  );
  assert.throws(
    () => maxPool2dBackward(x.reshape([10, 5, 3]), g, { kernel: 3 }),
    (e: Error) => e instanceof ShapeError && /maxPool2dBackward: x must have rank 4/.test(e.message),
  );
  assert.throws(() => maxPool2dBackward(x, g, { kernel: 3, padding: 2 }), ShapeError);
});
