import assert from "node:assert/strict";
import { DTypeError, getGpu, readTensors, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { topk } from "../../ops/topk.ts";
import { loadFixture } from "../_fixtures.ts";

await getGpu();
const fx = loadFixture("ops/topk.json");
const t = fx.tensors;

/** Mirror of `perm_scores` in tools/reference/make_nms_fixtures.py (a cycle-walking bijection). */
function permScores(row: number, length: number): Float32Array {
  const m = 2 ** Math.max(1, Math.ceil(Math.log2(length)));
  const [a1, c1, a2, c2] = [40503 + 2 * row, 12345 + 7919 * row, 69069, 2891 + 131 * row];
  const step = (x: number) => {
    x = (x * a1 + c1) % m;
    x ^= x >> 9;
    x = (x * a2 + c2) % m;
    return x ^ (x >> 7);
  };
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let x = step(i);
    while (x >= length) x = step(x);
    out[i] = (x - Math.floor(length / 2)) / 4096;
  }
  return out;
}

Deno.test("topk of 2 rows × 182,400 with k=1000 equals torch.topk indices and values", async () => {
  const len = fx.meta.big_len as number;
  const rows = [permScores(0, len), permScores(1, len)];
  const at = t.big_sample_at.data as Int32Array;
  const sample = t.big_sample.data as Float32Array;
  for (let i = 0; i < at.length; i++) assert.equal(rows[i >> 8][at[i]], sample[i], "score mirror differs");
  const scores = new Float32Array(2 * len);
  scores.set(rows[0]);
  scores.set(rows[1], len);
  const { indices, values, counts } = topk(tensorFromArray(scores, [2, len]), fx.meta.big_k as number);
  assert.deepEqual(indices.shape, [2, 1000]);
  const [idx, val, cnt] = await readTensors([indices, values, counts]);
  assert.deepEqual([...cnt], [1000, 1000]);
  assert.deepEqual([...idx], [...t.big_indices.data]);
  assert.deepEqual([...val], [...t.big_values.data]);
});

for (const kind of ["plain", "masked"]) {
  Deno.test(`topk per FPN-level segment (${kind}) equals torch.topk per level`, async () => {
    const levels = fx.meta.seg_levels as number[];
    const scores = tensorFromArray(t.seg_scores.data as Float32Array, t.seg_scores.shape);
    const valid = kind === "masked"
      ? tensorFromArray(Uint32Array.from(t.seg_valid.data), t.seg_valid.shape)
      : undefined;
    const out = topk(scores, fx.meta.seg_k as number, { segments: levels, valid });
    assert.deepEqual(out.indices.shape, [2, levels.length, 1000]);
    assert.deepEqual(out.counts.shape, [2, levels.length]);
    const [idx, val, cnt] = await readTensors([out.indices, out.values, out.counts]);
    assert.deepEqual([...cnt], [...t[`seg_${kind}_counts`].data]);
    assert.deepEqual([...idx], [...t[`seg_${kind}_indices`].data]);
    assert.deepEqual([...val], [...t[`seg_${kind}_values`].data]);
  });
}

Deno.test("topk with k > L clamps k to L and sorts the whole row", async () => {
  const out = topk(tensorFromArray(t.short_scores.data as Float32Array, [2, 700]), fx.meta.short_k as number);
  assert.deepEqual(out.indices.shape, [2, 700]);
  const [idx, val, cnt] = await readTensors([out.indices, out.values, out.counts]);
  assert.deepEqual([...cnt], [700, 700]);
  assert.deepEqual([...idx], [...t.short_indices.data]);
  assert.deepEqual([...val], [...t.short_values.data]);
});

Deno.test("topk of a 1-D row with every entry masked out returns count 0 and -1 padding", async () => {
  const scores = tensorFromArray(new Float32Array([3, 1, 2]), [3]);
  const out = topk(scores, 2, { valid: tensorFromArray(new Uint32Array(3), [3]) });
  const [idx, cnt] = await readTensors([out.indices, out.counts]);
  assert.deepEqual([...cnt], [0]);
  assert.deepEqual([...idx], [-1, -1]);
});

Deno.test("topk rejects bad shapes, dtypes, k and segments naming the op", () => {
  const s = tensorFromArray(new Float32Array(6), [2, 3]);
  const isShape = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => topk(s.reshape([1, 2, 3]), 1), isShape(/topk: scores must be \[B, L\].*\[1,2,3\]/));
  assert.throws(() => topk(s, 0), isShape(/topk: k must be/));
  assert.throws(() => topk(s, 1, { segments: [1, 1] }), isShape(/topk: segments \[1,1\]/));
  const badValid = tensorFromArray(new Uint32Array(3), [3]);
  assert.throws(
    () => topk(s, 1, { valid: badValid }),
    isShape(/topk: valid \[3\] u32 must match scores \[2,3\]/),
  );
  const ints = tensorFromArray(new Int32Array(6), [2, 3]);
  assert.throws(() => topk(ints, 1), (e: Error) => e instanceof DTypeError && /topk: scores/.test(e.message));
});
