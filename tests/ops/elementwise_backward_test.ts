import assert from "node:assert/strict";
import { DTypeError, getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { addInto, reluBackward } from "../../ops/elementwise.ts";
import { loadFixture } from "../_fixtures.ts";
import { randomFloats } from "../_util.ts";

await getGpu();
// torch autograd of relu (tools/reference/make_backward_fixtures.py), zeros included: relu'(0) = 0.
const fx = loadFixture("ops/elementwise_backward.json");

for (const name of ["vec4", "scalar"]) {
  Deno.test(`reluBackward (${name}) equals torch autograd from the forward output`, async () => {
    const t = (k: string) => fx.tensors[`${name}_${k}`];
    const out = tensorFromArray(t("out").data as Float32Array, t("out").shape);
    const g = tensorFromArray(t("grad_out").data as Float32Array, t("grad_out").shape);
    assert.deepEqual(await reluBackward(out, g).read(), t("grad_x").data);
  });
}

Deno.test("addInto accumulates in place (vec4 and scalar sizes)", async () => {
  for (const n of [64, 37]) {
    const a = randomFloats(n, 1);
    const b = randomFloats(n, 2);
    const target = tensorFromArray(a, [n]);
    assert.equal(addInto(target, tensorFromArray(b, [n])), target);
    addInto(target, tensorFromArray(b, [n]));
    assert.deepEqual(await target.read(), a.map((v, i) => Math.fround(Math.fround(v + b[i]) + b[i])));
  }
});

Deno.test("reluBackward and addInto reject mismatched shapes, dtypes and aliasing", () => {
  const a = tensorFromArray(new Float32Array(6), [2, 3]);
  const b = tensorFromArray(new Float32Array(6), [3, 2]);
  assert.throws(
    () => reluBackward(a, b),
    (e: Error) =>
      e instanceof ShapeError && /reluBackward: out \[2,3\] f32 and gradOut \[3,2\] f32/.test(e.message),
  );
  assert.throws(
    () => addInto(a, b),
    (e: Error) => e instanceof ShapeError && /addInto: target \[2,3\] f32 and x \[3,2\] f32/.test(e.message),
  );
  assert.throws(
    () => addInto(a, a),
    (e: Error) => e instanceof ShapeError && /must not be the same/.test(e.message),
  );
  assert.throws(() => addInto(tensorFromArray(new Int32Array(6), [2, 3]), a), DTypeError);
});
