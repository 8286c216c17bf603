// nearestSourceIndex against torch 1.13's nearest index (fixture tests/fixtures/ops/upsample.json, written by
// tools/reference/make_upsample_fixtures.py).
import assert from "node:assert/strict";
import { nearestSourceIndex } from "../../model/mask_resize.ts";
import { loadFixture } from "../_fixtures.ts";

const fixture = loadFixture("ops/upsample.json");

Deno.test("nearestSourceIndex equals torch's index for many size pairs", () => {
  const pairs = fixture.tensors.index_pairs.data as Int32Array;
  const values = fixture.tensors.index_values.data as Int32Array;
  let k = 0;
  for (let p = 0; p < pairs.length; p += 2) {
    const [inSize, outSize] = [pairs[p], pairs[p + 1]];
    for (let d = 0; d < outSize; d++) {
      assert.equal(
        nearestSourceIndex(d, inSize, outSize),
        values[k++],
        `in ${inSize} out ${outSize} dst ${d}`,
      );
    }
  }
  assert.equal(k, values.length);
});
