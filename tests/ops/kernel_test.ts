/**
 * Bounded (indirect) dispatches of ops/kernel.ts: the workgroup count computed on the GPU from per-segment
 * counts covers exactly the rows up to the last occupied one (checked against the count worked out here),
 * folds above 65,535 workgroups, runs nothing for empty slots, and the ops that take `occupied` compute
 * the occupied rows bit for bit as their unbounded runs do (the ReLU gradient also against a CPU mask).
 */
import assert from "node:assert/strict";
import { getGpu, readTensors, tensorFromArray } from "../../ops/mod.ts";
import { conv2d, packConv2dWeights } from "../../ops/conv2d.ts";
import { dispatch, dispatchStats, type OccupiedRows, params, setBoundedDispatch } from "../../ops/kernel.ts";
import { reluGrad } from "../../ops/gemm_backward.ts";
import { linear, packLinearWeights } from "../../ops/linear.ts";
import { multiScaleRoiAlign } from "../../ops/multiscale_roi_align.ts";
import type { Tensor } from "../../ops/tensor.ts";
import { randomFloats } from "../_util.ts";

await getGpu();

// Marks every invocation that runs: out[linear workgroup index * 4 + lane] = 1 (over a zero-filled buffer).
const MARK = {
  key: "test/mark",
  source: /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(4) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
    @builtin(num_workgroups) nwg: vec3u) {
  let i = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 4u + lid.x;
  if (i < p.n) { o[i] = 1u; }
}`,
};

/** Rows up to the last occupied one, as the workgroup-count kernel should find them. */
function boundRows(counts: number[], stride: number): number {
  let rows = 0;
  counts.forEach((c, b) => {
    const k = Math.min(c, stride);
    if (k > 0) rows = Math.max(rows, b * stride + k);
  });
  return rows;
}

async function marked(
  capacityUnits: number,
  bound: { counts: number[]; stride: number; unitsPerRow: number; firstUnit?: number },
  grid?: [number, number, number],
): Promise<Uint32Array> {
  const out = tensorFromArray(new Uint32Array(capacityUnits), [capacityUnits]);
  const counts = tensorFromArray(Uint32Array.from(bound.counts), [bound.counts.length]);
  dispatch(MARK, {
    op: "mark",
    tensors: [["out", out]],
    params: params(["u32", capacityUnits]),
    workgroups: grid ?? Math.ceil(capacityUnits / 4),
    bound: {
      counts,
      segments: bound.counts.length,
      stride: bound.stride,
      unitsPerRow: bound.unitsPerRow,
      unitsPerWorkgroup: 4,
      firstUnit: bound.firstUnit,
      axis: grid ? 1 : undefined,
    },
  });
  return await out.read() as Uint32Array;
}

function ran(marks: Uint32Array): number {
  const first = marks.indexOf(0);
  const n = first < 0 ? marks.length : first;
  assert.ok(marks.subarray(n).every((v) => v === 0), "the workgroups that ran are a prefix");
  return n;
}

Deno.test("a bounded dispatch runs exactly the workgroups up to the last occupied row", async () => {
  const stride = 10;
  const unitsPerRow = 3;
  const capacity = 4 * stride * unitsPerRow; // 4 segments of 10 rows, 3 units a row
  for (
    const counts of [[10, 10, 10, 10], [3, 0, 0, 0], [0, 0, 0, 0], [2, 7, 0, 0], [0, 0, 0, 1], [99, 0, 0, 0]]
  ) {
    const units = boundRows(counts, stride) * unitsPerRow;
    const expected = Math.min(capacity, Math.ceil(units / 4) * 4);
    assert.equal(ran(await marked(capacity, { counts, stride, unitsPerRow })), expected, `counts ${counts}`);
  }
});

Deno.test("a bounded dispatch over a range starts at its first unit; an explicit grid bounds one axis", async () => {
  // the range [20, 120) of a 3-units-a-row tensor: rows up to 17 → units up to 51 → 31 units of this range
  assert.equal(ran(await marked(100, { counts: [17], stride: 40, unitsPerRow: 3, firstUnit: 20 })), 32);
  assert.equal(ran(await marked(100, { counts: [5], stride: 40, unitsPerRow: 3, firstUnit: 20 })), 0);
  // grid [1, 25, 1] of 4-lane workgroups along y: 9 rows of 3 units → 7 workgroups
  assert.equal(ran(await marked(100, { counts: [9], stride: 40, unitsPerRow: 3 }, [1, 25, 1])), 28);
});

Deno.test("a bounded dispatch above 65,535 workgroups folds into y and covers every occupied unit", async () => {
  const capacity = 4 * 200_000; // 200,000 workgroups at full capacity
  const marks = await marked(capacity, { counts: [170_001], stride: 200_000, unitsPerRow: 4 });
  assert.equal(ran(marks), 4 * 170_001);
});

Deno.test("setBoundedDispatch(false) runs the full capacity; dispatchStats counts both kinds", async () => {
  const before = dispatchStats();
  await marked(40, { counts: [1], stride: 10, unitsPerRow: 1 });
  const mid = dispatchStats();
  assert.equal(mid.dispatches - before.dispatches, 2, "the workgroup-count kernel and the dispatch");
  assert.equal(mid.indirect - before.indirect, 1);
  setBoundedDispatch(false);
  try {
    assert.equal(ran(await marked(40, { counts: [1], stride: 10, unitsPerRow: 1 })), 40);
  } finally {
    setBoundedDispatch(true);
  }
  const after = dispatchStats();
  assert.equal(after.dispatches - mid.dispatches, 1);
  assert.equal(after.indirect, mid.indirect);
});

/** Occupied rows of `rows` (rank ≥ 1 tensors with that many leading rows), as flat ranges. */
function occupiedSlices(values: Float32Array, rowsTotal: number, counts: number[], stride: number): number[] {
  const per = values.length / rowsTotal;
  const out: number[] = [];
  counts.forEach((c, b) => {
    for (let r = b * stride; r < b * stride + Math.min(c, stride); r++) {
      out.push(...values.subarray(r * per, (r + 1) * per));
    }
  });
  return out;
}

async function sameOnOccupiedRows(
  run: (occupied?: OccupiedRows) => Tensor,
  rows: number,
  counts: number[],
  stride: number,
): Promise<void> {
  const occupied = {
    counts: tensorFromArray(Uint32Array.from(counts), [counts.length]),
    segments: counts.length,
    stride,
  };
  const full = run();
  const bounded = run(occupied);
  const [a, b] = await readTensors([full, bounded]) as Float32Array[];
  const fa = occupiedSlices(a, rows, counts, stride);
  const fb = occupiedSlices(b, rows, counts, stride);
  assert.ok(fa.length > 0);
  assert.deepEqual(fb, fa);
}

Deno.test("conv2d, linear and RoIAlign with occupied rows equal their full runs on those rows", async () => {
  const stride = 12;
  const counts = [5, 0, 12];
  const rows = stride * counts.length;
  const x = tensorFromArray(randomFloats(rows * 6 * 6 * 8, 1), [rows, 6, 6, 8]);
  const conv = packConv2dWeights(randomFloats(16 * 8 * 9, 2), [16, 8, 3, 3], randomFloats(16, 3));
  await sameOnOccupiedRows(
    (occupied) => conv2d(x, conv, { padding: 1, relu: true, occupied }),
    rows,
    counts,
    stride,
  );
  const flat = x.reshape([rows, 6 * 6 * 8]);
  const fc = packLinearWeights(randomFloats(20 * 288, 4), [20, 288], randomFloats(20, 5));
  await sameOnOccupiedRows((occupied) => linear(flat, fc, { relu: true, occupied }), rows, counts, stride);
  const level = (h: number, seed: number) => tensorFromArray(randomFloats(h * h * 8, seed), [1, h, h, 8]);
  const features = { p2: level(32, 6), p3: level(16, 7), p4: level(8, 8), p5: level(4, 9) };
  const roiValues = new Float32Array(rows * 5);
  for (let r = 0; r < rows; r++) {
    roiValues.set([0, r % 7, (3 * r) % 11, 20 + (r % 9) * 10, 30 + (r % 5) * 18], 5 * r);
  }
  const rois = tensorFromArray(roiValues, [rows, 5]);
  await sameOnOccupiedRows(
    (occupied) =>
      multiScaleRoiAlign(features, rois, [[128, 128]], { outputSize: 7, samplingRatio: 2, occupied }),
    rows,
    counts,
    stride,
  );
});

Deno.test("the ReLU gradient with occupied rows is bounded and equals the CPU mask on those rows", async () => {
  const stride = 12;
  const counts = [5, 0, 12];
  const rows = stride * counts.length;
  const shape = [rows, 7, 3, 4];
  const size = shape.reduce((a, b) => a * b, 1);
  const gValues = randomFloats(size, 11);
  const yValues = randomFloats(size, 12); // about half negative: the mask matters
  const g = tensorFromArray(gValues, shape);
  const y = tensorFromArray(yValues, shape);
  const expected = gValues.map((v, i) => yValues[i] > 0 ? v : 0);
  const before = dispatchStats().indirect;
  await sameOnOccupiedRows(
    (occupied) => reluGrad("test", g, { relu: true, out: y, occupied }),
    rows,
    counts,
    stride,
  );
  assert.equal(dispatchStats().indirect - before, 1, "the occupied run is one bounded dispatch");
  const full = await reluGrad("test", g, { relu: true, out: y }).read() as Float32Array;
  assert.deepEqual(Array.from(full), Array.from(expected));
});
