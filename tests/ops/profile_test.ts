/**
 * The kernel profiler (ops/profile.ts): every dispatch between start and stop is recorded once, under its
 * op and kernel, with its params and grid, in execution order; a big conv gets more GPU time than a
 * 4-element add; profiling changes no result; query sets roll over; misuse throws.
 */
import assert from "node:assert/strict";
import { add, getGpu, tensorFromArray } from "../../ops/mod.ts";
import { conv2d, packConv2dWeights } from "../../ops/conv2d.ts";
import { dispatch, dispatchStats, params } from "../../ops/kernel.ts";
import {
  QUERIES_PER_SET,
  startKernelProfile,
  stopKernelProfile,
  summarizeKernelProfile,
} from "../../ops/profile.ts";
import { randomFloats } from "../_util.ts";

const gpu = await getGpu();

Deno.test("a profile attributes a big conv and a tiny add to their ops, as many as dispatchStats counts", async () => {
  const [h, w, cin, cout] = [48, 48, 64, 64];
  const x = tensorFromArray(randomFloats(h * w * cin, 1), [1, h, w, cin]);
  const packed = packConv2dWeights(randomFloats(cout * cin * 9, 2), [cout, cin, 3, 3]);
  const a = tensorFromArray(randomFloats(4, 3), [4]);
  const unprofiled = await conv2d(x, packed, { padding: 1 }).read();

  await startKernelProfile();
  const before = dispatchStats();
  const y = conv2d(x, packed, { padding: 1 });
  const s = add(a, a);
  const profile = await stopKernelProfile();
  const counted = dispatchStats().dispatches - before.dispatches;

  assert.equal(profile.dispatches.length, counted);
  assert.deepStrictEqual(profile.dispatches.map((d) => d.op), ["conv2d", "add"]);
  const [convD, addD] = profile.dispatches;
  assert.match(convD.kernel, /^conv2d\/gemm\//);
  assert.match(addD.kernel, /add/);
  // the conv's params block: batch, h, w, cin, ho, wo, cols (Cout padded), cols4, kh, kw, stride, pad, m
  assert.deepStrictEqual([...convD.params.subarray(0, 13)], [
    1,
    h,
    w,
    cin,
    h,
    w,
    cout,
    cout / 4,
    3,
    3,
    1,
    1,
    h * w,
  ]);
  assert.notEqual(convD.grid, "indirect");
  for (const d of profile.dispatches) assert.ok(Number.isFinite(d.ms) && d.ms >= 0, `${d.op} ${d.ms} ms`);
  // ~340 MFLOP against 4 additions: orders of magnitude apart on any adapter
  assert.ok(convD.ms > addD.ms, `conv ${convD.ms} ms vs add ${addD.ms} ms`);
  assert.ok(addD.startMs >= convD.startMs);
  const sum = profile.dispatches.reduce((t, d) => t + d.ms, 0);
  assert.ok(Math.abs(profile.gpuMs - sum) <= 1e-9 * Math.max(1, sum));
  assert.ok(profile.spanMs >= profile.gpuMs - 1e-6, "dispatches run one after another");

  const byOp = summarizeKernelProfile(profile);
  assert.deepStrictEqual(byOp.map((e) => [e.name, e.count]), [["conv2d", 1], ["add", 1]]);
  assert.ok(Math.abs(byOp.reduce((t, e) => t + e.share, 0) - 1) < 1e-9 || profile.gpuMs === 0);

  // profiling changes no result
  assert.deepStrictEqual(await y.read(), unprofiled);
  assert.deepStrictEqual(await s.read(), (await a.read()).map((v) => v + v));
  for (const t of [x, packed.weight, a, y, s]) t.dispose();
});

const IOTA = {
  key: "test/profile_iota",
  source: /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(4) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { o[g.x] = g.x + 1u; }
}`,
};

Deno.test("a bounded dispatch is recorded as its workgroup-count kernel and an indirect dispatch", async () => {
  const out = tensorFromArray(new Uint32Array(16), [16]);
  const counts = tensorFromArray(new Uint32Array([2]), [1]);
  await startKernelProfile();
  const before = dispatchStats();
  dispatch(IOTA, {
    op: "iota",
    tensors: [["out", out]],
    params: params(["u32", 16]),
    workgroups: 4,
    bound: { counts, stride: 16, unitsPerRow: 1, unitsPerWorkgroup: 4 },
  });
  const profile = await stopKernelProfile();
  assert.equal(profile.dispatches.length, dispatchStats().dispatches - before.dispatches);
  assert.deepStrictEqual(profile.dispatches.map((d) => [d.op, d.grid]), [
    ["kernel/dispatch_args", [1, 1, 1]],
    ["iota", "indirect"],
  ]);
  assert.deepStrictEqual([...await out.read()].slice(0, 4), [1, 2, 3, 4]);
  for (const t of [out, counts]) t.dispose();
});

Deno.test("a profile longer than one query set and many batches keeps every dispatch in order", async () => {
  const a = tensorFromArray(randomFloats(4, 5), [4]);
  const n = QUERIES_PER_SET / 2 + 50;
  const batchSize = gpu.batchSize;
  gpu.batchSize = 16;
  try {
    await startKernelProfile();
    const before = dispatchStats();
    let acc = a;
    for (let i = 0; i < n; i++) {
      const next = add(acc, a);
      if (acc !== a) acc.dispose();
      acc = next;
    }
    const profile = await stopKernelProfile();
    assert.equal(profile.dispatches.length, n);
    assert.equal(dispatchStats().dispatches - before.dispatches, n);
    assert.ok(dispatchStats().submits - before.submits >= n / 16, "the batches were submitted as usual");
    for (let i = 1; i < n; i++) {
      assert.ok(profile.dispatches[i].startMs >= profile.dispatches[i - 1].startMs, `dispatch ${i} in order`);
    }
    const expected = (await a.read()).map((v) => v * (n + 1));
    const got = await acc.read();
    // n f32 additions in a row: rounding grows to ~n·2⁻²⁴ ≈ 1.3e-4 relative
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-3 * Math.abs(expected[i])));
    acc.dispose();
  } finally {
    gpu.batchSize = batchSize;
    a.dispose();
  }
});

Deno.test("starting a profile twice or stopping none throws", async () => {
  await assert.rejects(stopKernelProfile(), /no kernel profile is recording/);
  await startKernelProfile();
  await assert.rejects(startKernelProfile(), /already recording/);
  const profile = await stopKernelProfile();
  assert.equal(profile.dispatches.length, 0);
  assert.equal(gpu.recorder, null);
});
