import assert from "node:assert/strict";
import { ShapeError } from "../../mod.ts";
import { concatLastAxis, gatherRows, getGpu, splitLastAxis, tensorFromArray } from "../../ops/mod.ts";
import { randomFloats, randomInts } from "../_util.ts";

await getGpu();

Deno.test("gatherRows follows indices with per-group offsets and zero padding", async () => {
  const x = randomFloats(7 * 3, 1);
  const idx = new Int32Array([2, -1, 0, 1, 2, 5]); // two groups of 3 rows, source groups of 3 (+1 out of range)
  const got = await gatherRows(tensorFromArray(x, [7, 3]), tensorFromArray(idx, [6]), {
    idxGroup: 3,
    srcGroup: 3,
  })
    .read();
  const expected: number[] = [];
  idx.forEach((k, m) => {
    const row = k + Math.floor(m / 3) * 3;
    for (let d = 0; d < 3; d++) expected.push(k < 0 || row >= 7 ? 0 : x[row * 3 + d]);
  });
  assert.deepEqual(Array.from(got), expected.map(Math.fround));
});

Deno.test("concatLastAxis joins parts along the last axis", async () => {
  const a = randomInts(2 * 3, 1, -9, 9), b = randomInts(2 * 5, 2, -9, 9);
  const got = await concatLastAxis([tensorFromArray(a, [2, 3]), tensorFromArray(b, [2, 5])]).read();
  const expected = [...a.slice(0, 3), ...b.slice(0, 5), ...a.slice(3), ...b.slice(5)];
  assert.deepEqual(Array.from(got), expected);
  assert.throws(() => concatLastAxis([tensorFromArray(a, [2, 3]), tensorFromArray(b, [5, 2])]), ShapeError);
  const [ra, rb] = splitLastAxis(tensorFromArray(Int32Array.from(expected), [2, 8]), [3, 5]);
  assert.deepEqual(Array.from(await ra.read()), Array.from(a));
  assert.deepEqual(Array.from(await rb.read()), Array.from(b));
});
