import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../ops/mod.ts";
import { compactFlags, indexValid } from "../../ops/compact.ts";

await getGpu();

Deno.test("indexValid flags the entries of a −1-padded index list", async () => {
  const idx = new Int32Array([3, -1, 0, 7]);
  assert.deepEqual(Array.from(await indexValid(tensorFromArray(idx, [4])).read()), [1, 0, 1, 1]);
});

Deno.test("compactFlags lists the flagged positions in order, then −1, with their count", async () => {
  for (const n of [1, 7, 256, 300, 1029]) {
    const flags = Uint32Array.from({ length: n }, (_, i) => ((i * 7919) % 13 < 4 ? 1 : 0));
    const { index, total } = compactFlags(tensorFromArray(flags, [n]));
    const [idx, t] = await readTensors([index, total]);
    const expected = [...flags.keys()].filter((i) => flags[i] !== 0);
    assert.equal(t[0], expected.length, `n ${n}`);
    assert.deepEqual([...idx], [...expected, ...Array(n - expected.length).fill(-1)], `n ${n}`);
  }
});
