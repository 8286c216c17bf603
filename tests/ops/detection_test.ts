import assert from "node:assert/strict";
import {
  boxCandidates,
  boxesToRois,
  concatLastAxis,
  gatherRows,
  getGpu,
  indexValid,
  positiveLabels,
  readTensors,
  rpnCandidates,
  sampledBinaryTargets,
  scaleBoxes,
  selectClassMask,
  ShapeError,
  splitLastAxis,
  tensorFromArray,
} from "../../ops/mod.ts";
import { gatherSlots } from "../../ops/detection.ts";
import { assertClose, randomFloats, randomInts } from "../_util.ts";

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

Deno.test("selectClassMask takes the sigmoid of each RoI's label channel", async () => {
  const [r, m, c] = [3, 5, 4];
  const logits = randomFloats(r * m * m * c, 6, -5, 5);
  const labels = new Int32Array([2, 0, -1]);
  const got = await selectClassMask(tensorFromArray(logits, [r, m, m, c]), tensorFromArray(labels, [r]))
    .read();
  const expected = Array.from({ length: r * m * m }, (_, i) => {
    const label = labels[Math.floor(i / (m * m))];
    return label < 0 ? 0 : 1 / (1 + Math.exp(-logits[i * c + label]));
  });
  assertClose(got, expected, 1e-6, "selectClassMask");
});

Deno.test("scaleBoxes, boxesToRois, indexValid, positiveLabels and sampledBinaryTargets", async () => {
  const boxes = randomFloats(4 * 4, 7, 0, 100);
  const ratios: [number, number][] = [[0.5, 2], [1.5, 0.75]];
  const scaled = await scaleBoxes(tensorFromArray(boxes, [4, 4]), ratios).read();
  const expected = Array.from(boxes, (v, i) => v * ratios[Math.floor(i / 8)][i % 2 === 0 ? 1 : 0]);
  assertClose(scaled, expected, 1e-7, "scaleBoxes");
  const rois = await boxesToRois(tensorFromArray(boxes, [4, 4]), 2).read();
  for (let i = 0; i < 4; i++) {
    assert.equal(rois[5 * i], Math.floor(i / 2));
    assert.deepEqual(
      Array.from(rois.subarray(5 * i + 1, 5 * i + 5)),
      Array.from(boxes.subarray(4 * i, 4 * i + 4)),
    );
  }
  const labels = new Int32Array([3, -1, 0, 7]);
  assert.deepEqual(Array.from(await indexValid(tensorFromArray(labels, [4])).read()), [1, 0, 1, 1]);
  assert.deepEqual(Array.from(await positiveLabels(tensorFromArray(labels, [4])).read()), [1, 0, 0, 1]);
  const { targets, valid } = sampledBinaryTargets(
    tensorFromArray(new Uint32Array([1, 0, 0, 1]), [4]),
    tensorFromArray(new Uint32Array([0, 1, 0, 0]), [4]),
  );
  assert.deepEqual(Array.from(await targets.read()), [1, 0, 0, 1]);
  assert.deepEqual(Array.from(await valid.read()), [1, 1, 0, 1]);
});

Deno.test("gatherSlots equals gatherRows + boxesToRois + indexValid (or + gathered labels) bit for bit", async () => {
  const src = tensorFromArray(randomFloats(40 * 4, 31, -5, 90), [40, 4]);
  const labels = tensorFromArray(randomInts(40, 32, 0, 5), [40]);
  // two images of 6 slots: kept indices, −1 padding, one index past the source (gathers zeros)
  const keep = tensorFromArray(new Int32Array([3, 17, 39, 0, -1, -1, 22, 41, 5, -1, -1, -1]), [12]);
  const plain = gatherSlots(src, keep, 6);
  const withLabels = gatherSlots(src, keep, 6, { labels });
  const boxes = gatherRows(src, keep);
  const [a, b, c, d, e, f, g, h] = await readTensors([
    plain.boxes,
    plain.rois,
    plain.valid!,
    withLabels.labels!,
    withLabels.rois,
    boxes,
    boxesToRois(boxes, 6),
    indexValid(keep),
  ]);
  assert.deepEqual(a, f);
  assert.deepEqual(b, g);
  assert.deepEqual(e, g);
  assert.deepEqual(c, h);
  assert.deepEqual(d, await gatherRows(labels, keep).read());
  assert.deepEqual([...c], [1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0]);
  assert.equal(plain.labels, undefined);
  assert.throws(() => gatherSlots(src, keep, 5), ShapeError);
});
