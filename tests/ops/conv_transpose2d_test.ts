import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { convTranspose2d, packConvTranspose2dWeights } from "../../ops/conv_transpose2d.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();

const fixture = loadFixture("ops/conv_transpose2d.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

for (const c of fixture.meta.cases as { name: string; relu: boolean }[]) {
  const [cin, cout] = shape(`${c.name}.weight`);
  Deno.test(`convTranspose2d 2×2 s2 matches torch: ${c.name} (x [${shape(`${c.name}.x`)}] → ${cout}${c.relu ? ", relu" : ""})`, async () => {
    const packed = packConvTranspose2dWeights(f32(`${c.name}.weight`), [cin, cout], f32(`${c.name}.bias`));
    const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
    const y = convTranspose2d(x, packed, { relu: c.relu });
    assert.deepEqual(y.shape, shape(`${c.name}.out`));
    assertClose(await y.read(), f32(`${c.name}.out`), 1e-4, c.name);
    for (const t of [x, y, packed.weight, packed.bias]) t?.dispose();
  });
}

Deno.test("convTranspose2d bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packConvTranspose2dWeights(randomFloats(8 * 4 * 4, 1), [8, 4]);
  assert.throws(
    () => convTranspose2d(tensorFromArray(randomFloats(2 * 3 * 3 * 6, 2), [2, 3, 3, 6]), packed),
    (e: Error) =>
      e instanceof ShapeError &&
      /convTranspose2d: x \[2,3,3,6\] f32 has Cin 6.*\[Cin 8, Cout 4/.test(e.message),
  );
  assert.throws(
    () => convTranspose2d(tensorFromArray(randomFloats(24, 3), [3, 8]), packed),
    (e: Error) => e instanceof ShapeError && /convTranspose2d: x must have rank 4/.test(e.message),
  );
  assert.throws(() => packConvTranspose2dWeights(new Float32Array(5), [8, 4]), ShapeError);
});
