import assert from "node:assert/strict";
import { getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { linear, packLinearWeights } from "../../ops/linear.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();

const fixture = loadFixture("ops/linear.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

for (const c of fixture.meta.cases as { name: string; relu: boolean }[]) {
  const [out, inF] = shape(`${c.name}.weight`);
  Deno.test(`linear matches torch: ${c.name} (${shape(`${c.name}.x`)[0]}×${inF} → ${out}${c.relu ? ", relu" : ""})`, async () => {
    const packed = packLinearWeights(f32(`${c.name}.weight`), [out, inF], f32(`${c.name}.bias`));
    const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
    const y = linear(x, packed, { relu: c.relu });
    assert.deepEqual(y.shape, shape(`${c.name}.out`));
    assertClose(await y.read(), f32(`${c.name}.out`), 1e-4, c.name);
    for (const t of [x, y, packed.weight, packed.bias]) t?.dispose();
  });
}

Deno.test("linear with nchwInput on a flattened NHWC map equals torch's flatten of NCHW", async () => {
  const [r, ch, h, w, out] = [3, 5, 2, 3, 6];
  const nchw = randomFloats(r * ch * h * w, 1); // torch layout [R, C, H, W]
  const weight = randomFloats(out * ch * h * w, 2);
  const bias = randomFloats(out, 3);
  const expected = new Float64Array(r * out);
  const inF = ch * h * w;
  for (let i = 0; i < r; i++) {
    for (let o = 0; o < out; o++) {
      let s = bias[o];
      for (let k = 0; k < inF; k++) s += nchw[i * inF + k] * weight[o * inF + k];
      expected[i * out + o] = s;
    }
  }
  const nhwc = new Float32Array(nchw.length);
  for (let i = 0; i < r; i++) {
    for (let c = 0; c < ch; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          nhwc[((i * h + y) * w + x) * ch + c] = nchw[((i * ch + c) * h + y) * w + x];
        }
      }
    }
  }
  const packed = packLinearWeights(weight, [out, inF], bias, { nchwInput: [ch, h, w] });
  const y = linear(tensorFromArray(nhwc, [r, inF]), packed);
  assertClose(await y.read(), expected, 1e-5, "flattened NHWC");
});

Deno.test("linear bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packLinearWeights(randomFloats(6 * 5, 1), [6, 5]);
  assert.throws(
    () => linear(tensorFromArray(randomFloats(8, 2), [2, 4]), packed),
    (e: Error) =>
      e instanceof ShapeError && /linear: x \[2,4\] f32 has 4 features.*\[out 6, in 5\]/.test(e.message),
  );
  assert.throws(
    () => linear(tensorFromArray(randomFloats(10, 3), [10]), packed),
    (e: Error) => e instanceof ShapeError && /linear: x must have rank 2.*\[10\]/.test(e.message),
  );
  assert.throws(() => packLinearWeights(new Float32Array(7), [6, 5]), ShapeError);
});
