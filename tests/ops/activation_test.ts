import assert from "node:assert/strict";
import { DTypeError, getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import {
  flatten,
  nchwFlattenOrderPermutation,
  permuteFlattenedInputColumns,
  sigmoid,
  softmax,
} from "../../ops/activation.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();
const fixture = loadFixture("ops/activation.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

for (const name of ["sigmoid_odd", "sigmoid_v4"]) {
  Deno.test(`sigmoid ${name} matches torch incl. saturated inputs`, async () => {
    const out = await sigmoid(tensorFromArray(f32(`${name}_x`), shape(`${name}_x`))).read();
    assertClose(out, f32(`${name}_y`), 1e-6, name);
    assert.ok(out.every((v) => Number.isFinite(v)), "no NaN or inf at ±100");
  });
}

for (const name of ["softmax_short", "softmax_classes", "softmax_long_offset", "softmax_single"]) {
  Deno.test(`softmax ${name} over the last axis matches torch (float64 reference)`, async () => {
    const out = softmax(tensorFromArray(f32(`${name}_x`), shape(`${name}_x`)));
    assert.deepEqual(out.shape, shape(`${name}_y`));
    assertClose(await out.read(), f32(`${name}_y`), 1e-5, name);
  });
}

Deno.test("nchwFlattenOrderPermutation maps our H·W·C index to torch's C·H·W index", () => {
  const [c, h, w] = [3, 2, 5];
  const perm = nchwFlattenOrderPermutation(c, h, w);
  assert.equal(new Set(perm).size, c * h * w, "a permutation");
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) assert.equal(perm[(y * w + x) * c + k], k * h * w + y * w + x);
    }
  }
});

Deno.test("flatten of NHWC features with the permuted fc weight equals torch's NCHW flatten + linear", async () => {
  const { C, H, W, out } = fixture.meta.fc as { C: number; H: number; W: number; out: number };
  const x = tensorFromArray(f32("fc_x_nhwc"), shape("fc_x_nhwc"));
  const flat = flatten(x);
  assert.deepEqual(flat.shape, [shape("fc_x_nhwc")[0], C * H * W]);
  assert.equal(flat.buffer, x.buffer, "a view, not a copy");
  const features = await flat.read();
  const weight = permuteFlattenedInputColumns(f32("fc_weight"), out, C, H, W);
  const bias = f32("fc_bias");
  const rows = flat.shape[0];
  const cols = C * H * W;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let acc = bias[o];
      for (let j = 0; j < cols; j++) acc += features[r * cols + j] * weight[o * cols + j];
      y[r * out + o] = acc;
    }
  }
  assertClose(y, f32("fc_y"), 1e-5, "fc6 after flatten");
  // without the permutation the result is wrong (the test can fail)
  const unpermuted = f32("fc_weight");
  let bad = 0;
  for (let j = 0; j < cols; j++) bad += features[j] * unpermuted[j];
  assert.ok(Math.abs(bad + bias[0] - f32("fc_y")[0]) > 1e-3);
});

Deno.test("activation ops reject bad dtypes, axes and weight sizes", () => {
  const i = tensorFromArray(new Int32Array(4), [4]);
  assert.throws(() => sigmoid(i), (e: Error) => e instanceof DTypeError && /sigmoid/.test(e.message));
  assert.throws(() => softmax(i), (e: Error) => e instanceof DTypeError && /softmax/.test(e.message));
  const x = tensorFromArray(new Float32Array(6), [2, 3]);
  assert.throws(
    () => flatten(x, 2),
    (e: Error) => e instanceof ShapeError && /flatten: startDim 2/.test(e.message),
  );
  assert.deepEqual(flatten(x, -1).shape, [2, 3]);
  assert.deepEqual(flatten(x, 0).shape, [6]);
  assert.throws(() => permuteFlattenedInputColumns(new Float32Array(10), 2, 2, 2, 2), ShapeError);
});
