import assert from "node:assert/strict";
import { DTypeError, getGpu, readTensors, ShapeError, tensorFromArray } from "../../../ops/mod.ts";
import { sampleBalanced, type SampleResult } from "../../../ops/detection/sampler.ts";
import { randomInts } from "../../_util.ts";

await getGpu();

// 6 images × 997 elements: labels in {-1, 0, 1, 2, 3} with different mixes per image (one without positives,
// one with fewer negatives than the batch needs).
const [images, len] = [6, 997];
const labels = randomInts(images * len, 17, -1, 4);
for (let i = 0; i < len; i++) {
  if (labels[len + i] > 0) labels[len + i] = 0; // image 1: no positives
  if (labels[2 * len + i] === 0 && i % 9 !== 0) labels[2 * len + i] = -1; // image 2: ~25 negatives
}
const labelTensor = tensorFromArray(labels, [images, len]);

const sum = (a: Uint32Array) => a.reduce((s, v) => s + v, 0);

async function draw(seed: number, step: number, batch = 256, fraction = 0.25) {
  const s: SampleResult = sampleBalanced(labelTensor, {
    batchSizePerImage: batch,
    positiveFraction: fraction,
    seed,
    step,
  });
  const [pos, neg, numPos, numNeg, totals] = await readTensors([
    s.positive,
    s.negative,
    s.numPositive,
    s.numNegative,
    s.totals,
  ]);
  const u = (x: unknown) => x as Uint32Array;
  return { pos: u(pos), neg: u(neg), numPos: u(numPos), numNeg: u(numNeg), totals: u(totals) };
}

Deno.test("sampleBalanced draws exactly min(#pos, ⌊b·f⌋) positives and min(#neg, b − numPos) negatives", async () => {
  const d = await draw(1, 0);
  let sampled = 0;
  let positives = 0;
  for (let b = 0; b < images; b++) {
    const row = labels.subarray(b * len, (b + 1) * len);
    const nPos = row.filter((l) => l >= 1).length;
    const nNeg = row.filter((l) => l === 0).length;
    const wantPos = Math.min(nPos, 64);
    const wantNeg = Math.min(nNeg, 256 - wantPos);
    const pos = d.pos.subarray(b * len, (b + 1) * len);
    const neg = d.neg.subarray(b * len, (b + 1) * len);
    assert.equal(sum(pos), wantPos, `positives of image ${b}`);
    assert.equal(sum(neg), wantNeg, `negatives of image ${b}`);
    assert.equal(d.numPos[b], wantPos);
    assert.equal(d.numNeg[b], wantNeg);
    row.forEach((l, i) => {
      if (pos[i]) assert.ok(l >= 1, `image ${b} element ${i}: label ${l} sampled as positive`);
      if (neg[i]) assert.equal(l, 0, `image ${b} element ${i}: label ${l} sampled as negative`);
    });
    sampled += wantPos + wantNeg;
    positives += wantPos;
  }
  assert.equal(d.numPos[1], 0);
  assert.ok(d.numNeg[2] < 192 && d.numNeg[2] > 0, "image 2 runs out of negatives");
  assert.deepEqual([...d.totals], [sampled, positives]);
});

Deno.test("sampleBalanced is reproducible for a (seed, step) and differs across seeds, steps and images", async () => {
  const a = await draw(42, 3);
  const b = await draw(42, 3);
  assert.deepEqual(a.pos, b.pos);
  assert.deepEqual(a.neg, b.neg);
  for (const other of [await draw(43, 3), await draw(42, 4)]) {
    assert.notDeepEqual(a.pos, other.pos);
    assert.notDeepEqual(a.neg, other.neg);
  }
  // Images 3 and 4 hold the same labels in a copy: still different picks.
  const same = tensorFromArray(new Int32Array([...labels.subarray(0, len), ...labels.subarray(0, len)]), [
    2,
    len,
  ]);
  const [p] = await readTensors([
    sampleBalanced(same, { batchSizePerImage: 64, positiveFraction: 0.5, seed: 1, step: 0 }).positive,
  ]);
  assert.notDeepEqual(p.subarray(0, len), p.subarray(len));
});

Deno.test("sampleBalanced picks every candidate about equally often over 40 steps", async () => {
  const hits = new Float64Array(images * len);
  const steps = 40;
  for (let step = 0; step < steps; step++) {
    const d = await draw(9, step, 128, 0.5);
    d.pos.forEach((v, i) => (hits[i] += v));
  }
  // Image 0: 64 of its positives per step.
  const row = labels.subarray(0, len);
  const candidates = [...row.keys()].filter((i) => row[i] >= 1);
  const expected = (steps * 64) / candidates.length;
  const freq = candidates.map((i) => hits[i]);
  const mean = freq.reduce((a, v) => a + v, 0) / freq.length;
  const variance = freq.reduce((a, v) => a + (v - mean) ** 2, 0) / freq.length;
  const binomial = steps * (64 / candidates.length) * (1 - 64 / candidates.length);
  assert.ok(Math.abs(mean - expected) < 1e-9);
  assert.ok(
    variance < 2 * binomial && variance > 0.4 * binomial,
    `variance ${variance} vs binomial ${binomial}`,
  );
  assert.ok(Math.max(...freq) < expected + 6 * Math.sqrt(binomial), "no candidate is favoured");
  const half = freq.length >> 1;
  const early = freq.slice(0, half).reduce((a, v) => a + v, 0) / half;
  assert.ok(Math.abs(early - expected) < 0.1 * expected, `low indices picked ${early} times vs ${expected}`);
});

Deno.test("sampleBalanced with a batch above the candidates takes all of them (torchvision parity)", async () => {
  const d = await draw(5, 5, 4096, 0.5);
  assert.deepEqual([...d.pos], [...labels].map((l) => (l >= 1 ? 1 : 0)));
  assert.deepEqual([...d.neg], [...labels].map((l) => (l === 0 ? 1 : 0)));
});

Deno.test("sampleBalanced rejects bad labels and options naming the op", () => {
  const opts = { batchSizePerImage: 8, positiveFraction: 0.5, seed: 0, step: 0 };
  assert.throws(() => sampleBalanced(tensorFromArray(new Float32Array(4), [1, 4]), opts), DTypeError);
  assert.throws(
    () => sampleBalanced(tensorFromArray(new Int32Array(4), [4]), opts),
    /sampleBalanced: labels must be \[B, L\]/,
  );
  assert.throws(() => sampleBalanced(labelTensor, { ...opts, positiveFraction: 1.5 }), ShapeError);
  assert.throws(() => sampleBalanced(labelTensor, { ...opts, batchSizePerImage: 0 }), ShapeError);
  assert.throws(() => sampleBalanced(labelTensor, { ...opts, step: 2 ** 32 }), /step 4294967296/);
});

Deno.test("sampleBalanced with firstImage k draws for images k.. what the whole batch draws for them", async () => {
  const whole = await draw(5, 3);
  const tail = tensorFromArray(labels.slice(2 * len), [images - 2, len]);
  const s = sampleBalanced(tail, {
    batchSizePerImage: 256,
    positiveFraction: 0.25,
    seed: 5,
    step: 3,
    firstImage: 2,
  });
  const [pos, neg] = (await readTensors([s.positive, s.negative])) as Uint32Array[];
  assert.deepEqual(pos, whole.pos.slice(2 * len), "positives of images 2..5");
  assert.deepEqual(neg, whole.neg.slice(2 * len), "negatives of images 2..5");
  const unshifted = sampleBalanced(tail, {
    batchSizePerImage: 256,
    positiveFraction: 0.25,
    seed: 5,
    step: 3,
  });
  const [pos0] = (await readTensors([unshifted.positive])) as Uint32Array[];
  assert.notDeepEqual(pos0, whole.pos.slice(2 * len), "without the offset the draws differ");
  assert.throws(
    () =>
      sampleBalanced(tail, { batchSizePerImage: 4, positiveFraction: 0.5, seed: 1, step: 0, firstImage: -1 }),
    ShapeError,
  );
});
