import assert from "node:assert/strict";
import { getGpu, tensorFromArray } from "../../../ops/mod.ts";
import { positiveLabels, sampledBinaryTargets } from "../../../ops/detection/sampled_labels.ts";

await getGpu();

Deno.test("positiveLabels flags labels above 0; sampledBinaryTargets marks positives and sampled slots", async () => {
  const labels = new Int32Array([3, -1, 0, 7]);
  assert.deepEqual(Array.from(await positiveLabels(tensorFromArray(labels, [4])).read()), [1, 0, 0, 1]);
  const { targets, valid } = sampledBinaryTargets(
    tensorFromArray(new Uint32Array([1, 0, 0, 1]), [4]),
    tensorFromArray(new Uint32Array([0, 1, 0, 0]), [4]),
  );
  assert.deepEqual(Array.from(await targets.read()), [1, 0, 0, 1]);
  assert.deepEqual(Array.from(await valid.read()), [1, 1, 0, 1]);
});
