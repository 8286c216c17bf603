import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../../ops/mod.ts";
import { boxCandidates, rpnCandidates } from "../../../ops/detection/candidates.ts";
import { randomFloats } from "../../_util.ts";

await getGpu();

Deno.test("rpnCandidates scores by sigmoid and drops padding, small and low-score boxes", async () => {
  const [b, l, k, t] = [2, 2, 3, 11];
  const idx = new Int32Array([0, 4, -1, 7, 9, 10, 1, 2, 3, -1, 5, 6]);
  const logits = randomFloats(b * t, 3, -4, 4);
  const boxes = new Float32Array(b * l * k * 4);
  for (let i = 0; i < b * l * k; i++) boxes.set([i, i, i + (i % 3 === 0 ? 0.0005 : 5), i + 4], 4 * i);
  const c = rpnCandidates(
    tensorFromArray(idx, [b, l, k]),
    tensorFromArray(logits, [b, t]),
    tensorFromArray(boxes, [12, 4]),
    {
      minSize: 1e-3,
      scoreThresh: 0.3,
    },
  );
  const [scores, valid, levels] = await readTensors([c.scores, c.valid, c.levels]);
  idx.forEach((j, i) => {
    const image = Math.floor(i / (l * k));
    assert.equal(levels[i], Math.floor(i / k) % l);
    if (j < 0) return assert.equal(valid[i], 0);
    const s = 1 / (1 + Math.exp(-logits[image * t + j]));
    assert.ok(Math.abs(scores[i] - s) < 1e-6);
    assert.equal(valid[i], s >= 0.3 && i % 3 !== 0 ? 1 : 0, `slot ${i}`);
  });
});

Deno.test("boxCandidates drops the background column and applies the score and size rules", async () => {
  const [r, c] = [5, 4];
  const probs = randomFloats(r * c, 4, 0, 1);
  const boxes = randomFloats(r * c * 4, 5, 0, 50).map((v, i) => (i % 4 >= 2 ? v + 60 : v));
  boxes.set([3, 3, 3.001, 40], 4 * (2 * c + 1)); // too thin
  const rowValid = new Uint32Array([1, 1, 1, 0, 1]);
  const out = boxCandidates(
    tensorFromArray(probs, [r, c]),
    tensorFromArray(boxes, [r, c, 4]),
    tensorFromArray(rowValid, [r]),
    {
      scoreThresh: 0.3,
      minSize: 1e-2,
    },
  );
  const [ob, os, ol, ov] = await readTensors([out.boxes, out.scores, out.labels, out.valid]);
  for (let row = 0; row < r; row++) {
    for (let cls = 1; cls < c; cls++) {
      const i = row * (c - 1) + cls - 1;
      const s = probs[row * c + cls];
      const bx = boxes.subarray(4 * (row * c + cls), 4 * (row * c + cls) + 4);
      assert.equal(ol[i], cls);
      assert.equal(os[i], s);
      assert.deepEqual(Array.from(ob.subarray(4 * i, 4 * i + 4)), Array.from(bx));
      const ok = rowValid[row] === 1 && s > 0.3 && bx[2] - bx[0] >= 1e-2 && bx[3] - bx[1] >= 1e-2;
      assert.equal(ov[i], ok ? 1 : 0, `row ${row} class ${cls}`);
    }
  }
});
