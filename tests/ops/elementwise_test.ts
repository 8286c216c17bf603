import assert from "node:assert/strict";
import {
  add,
  copy,
  DisposedTensorError,
  DTypeError,
  fill,
  fillInPlace,
  getGpu,
  mul,
  relu,
  ShapeError,
  tensorFromArray,
  tidy,
} from "../../ops/mod.ts";
import { ZERO_FILL } from "../../ops/elementwise.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

await getGpu();

// Sizes: below one workgroup, not a multiple of 4 or of 256, a multiple of 4 (vec4 path), and one needing
// more than 65,535 workgroups in x (65,535 × 256 scalar threads < 17,000,001 elements).
const SIZES = [1, 37 * 53, 1000, 256 * 7 + 3, 17_000_001];

for (const n of SIZES) {
  Deno.test(`add and mul of f32 match float64 for n=${n}`, async () => {
    const a = randomFloats(n, 1 + n, -3, 3);
    const b = randomFloats(n, 2 + n, -3, 3);
    const ta = tensorFromArray(a, [n]);
    const tb = tensorFromArray(b, [n]);
    const [sumOut, prodOut] = [add(ta, tb), mul(ta, tb)];
    const expectSum = new Float64Array(n);
    const expectProd = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      expectSum[i] = a[i] + b[i];
      expectProd[i] = a[i] * b[i];
    }
    assertClose(await sumOut.read(), expectSum, 1e-6, "add");
    assertClose(await prodOut.read(), expectProd, 1e-6, "mul");
    for (const t of [ta, tb, sumOut, prodOut]) t.dispose();
  });
}

Deno.test("add and mul of i32 are exact, relu of f32 matches", async () => {
  const n = 1023;
  const a = randomInts(n, 5, -1000, 1000);
  const b = randomInts(n, 6, -1000, 1000);
  const ta = tensorFromArray(a, [31, 33]);
  const tb = tensorFromArray(b, [31, 33]);
  const s = await add(ta, tb).read();
  const p = await mul(ta, tb).read();
  for (let i = 0; i < n; i++) {
    assert.equal(s[i], a[i] + b[i]);
    assert.equal(p[i], Math.imul(a[i], b[i]));
  }
  const x = randomFloats(4097, 7);
  const r = await relu(tensorFromArray(x, [4097])).read();
  assertClose(r, Array.from(x, (v) => Math.max(v, 0)), 0, "relu");
});

Deno.test("fill and copy reproduce their inputs for f32, i32 and u32", async () => {
  assert.deepEqual(Array.from(await fill([3, 5], -2.5).read()), new Array(15).fill(-2.5));
  assert.deepEqual(Array.from(await fill([7], -9, "i32").read()), new Array(7).fill(-9));
  assert.deepEqual(
    Array.from(await fill([5], 4_000_000_000, "u32").read()),
    new Array(5).fill(4_000_000_000),
  );
  const x = randomFloats(70_001, 11);
  assert.deepEqual(await copy(tensorFromArray(x, [70_001])).read(), x);
  const y = randomInts(12, 12, -50, 50);
  assert.deepEqual(await copy(tensorFromArray(y, [3, 4])).read(), y);
});

Deno.test("fillInPlace writes zeros over earlier data with the buffer clear and with the kernel; -0 keeps its sign", async () => {
  for (const clearBuffer of [true, false]) {
    ZERO_FILL.clearBuffer = clearBuffer;
    try {
      for (const size of [5, 70_001]) {
        const x = tensorFromArray(randomFloats(size, 21, 1, 2), [size]);
        assert.deepEqual(
          Array.from(await fillInPlace(x, 0).read()),
          new Array(size).fill(0),
          `${clearBuffer} ${size}`,
        );
        const i = tensorFromArray(randomInts(size, 22, 1, 50), [size]);
        assert.deepEqual(
          Array.from(await fillInPlace(i.reshape([1, size]), 0).read()),
          new Array(size).fill(0),
        );
        x.dispose();
        i.dispose();
      }
      const z = await fill([3], -0).read();
      assert.ok(Array.from(z).every((v) => Object.is(v, -0)), `-0 kept: ${z}`);
    } finally {
      ZERO_FILL.clearBuffer = true;
    }
  }
});

Deno.test("tidy frees intermediates and keeps what it returns", async () => {
  const x = tensorFromArray(randomFloats(64, 3), [64]);
  let inner: ReturnType<typeof add> | undefined;
  const y = tidy(() => {
    inner = add(x, x);
    return relu(inner);
  });
  assert.ok(inner!.disposed, "intermediate freed");
  assert.ok(!y.disposed && !x.disposed, "result and outer tensor kept");
  assert.equal((await y.read()).length, 64);
});

Deno.test("bad calls name the op and the shapes", () => {
  const a = tensorFromArray(randomFloats(6, 1), [2, 3]);
  const b = tensorFromArray(randomFloats(6, 2), [3, 2]);
  assert.throws(
    () => add(a, b),
    (e: Error) => e instanceof ShapeError && /add: a \[2,3\] f32 and b \[3,2\]/.test(e.message),
  );
  const i = tensorFromArray(new Int32Array(6), [2, 3]);
  assert.throws(() => mul(a, i), (e: Error) => e instanceof DTypeError && /mul/.test(e.message));
  b.dispose();
  assert.throws(
    () => relu(b),
    (e: Error) => e instanceof DisposedTensorError && /relu: tensor x \[3,2\]/.test(e.message),
  );
  assert.throws(() => tensorFromArray(new Float32Array(5), [2, 3]), ShapeError);
});
