import assert from "node:assert/strict";
import {
  add,
  DeviceLostError,
  dispatch,
  emptyTensor,
  getGpu,
  GpuValidationError,
  LimitError,
  params,
  readTensors,
  relu,
  SOFTWARE_THREADS,
  tensorFromArray,
} from "../../ops/mod.ts";

import { sizeClass } from "../../ops/buffer_pool.ts";
import { BIND_GROUP_CACHE } from "../../ops/gpu.ts";
import { foldWorkgroups } from "../../ops/kernel.ts";
import { randomFloats } from "../_util.ts";

const gpu = await getGpu();

Deno.test("the device is requested with the adapter's maximum limits", () => {
  assert.ok(gpu.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  assert.ok(gpu.limits.maxBufferSize > 256 * 1024 * 1024, `maxBufferSize ${gpu.limits.maxBufferSize}`);
  assert.ok(gpu.info.description.length > 0);
});

Deno.test("size classes waste at most a quarter and are monotone", () => {
  let previous = 0;
  for (let bytes = 1; bytes < 1e7; bytes = Math.ceil(bytes * 1.07)) {
    const size = sizeClass(bytes);
    assert.ok(size >= bytes && size >= 256, `class ${size} for ${bytes}`);
    if (bytes > 256) assert.ok(size <= bytes * 1.25 + 1, `class ${size} wastes > 25% for ${bytes}`);
    assert.ok(size >= previous);
    previous = size;
  }
});

Deno.test("workgroup grids fold above 65,535 without losing groups", () => {
  for (const count of [1, 65_535, 65_536, 1_000_003]) {
    const [x, y] = foldWorkgroups(count, 65_535);
    assert.ok(x <= 65_535 && x * y >= count && x * (y - 1) < count, `${count} → ${x}×${y}`);
  }
});

Deno.test("the pool reuses freed buffers and tracks live and peak bytes", () => {
  const before = gpu.pool.stats();
  gpu.pool.resetPeak();
  const a = emptyTensor([1000], "f32");
  const b = emptyTensor([1000], "f32");
  const during = gpu.pool.stats();
  assert.equal(during.liveBytes - before.liveBytes, 2 * sizeClass(4000));
  const bufferA = a.buffer;
  a.dispose();
  b.dispose();
  assert.equal(gpu.pool.stats().liveBytes, before.liveBytes);
  assert.equal(gpu.pool.stats().peakBytes, during.liveBytes);
  const c = emptyTensor([999], "f32"); // same size class: a pooled buffer comes back
  assert.ok(c.buffer === bufferA || c.buffer === b.buffer);
  c.dispose();
});

Deno.test("bind groups are reused for the same resources and bounded by BIND_GROUP_CACHE", async () => {
  const a = tensorFromArray(Float32Array.from({ length: 64 }, (_, i) => i), [64]);
  const b = tensorFromArray(Float32Array.from({ length: 64 }, (_, i) => 2 * i), [64]);
  await gpu.sync();
  // The same op on the same (pooled) buffers at the same uniform slot (a flush resets the slots) is a hit.
  const before = { ...gpu.bindGroupStats };
  let sum = add(a, b);
  for (let i = 0; i < 9; i++) {
    gpu.flush();
    sum.dispose();
    sum = add(a, b);
  }
  assert.deepEqual(await sum.read(), Float32Array.from({ length: 64 }, (_, i) => 3 * i));
  assert.ok(gpu.bindGroupStats.created - before.created <= 1, JSON.stringify(gpu.bindGroupStats));
  assert.ok(gpu.bindGroupStats.reused - before.reused >= 9, JSON.stringify(gpu.bindGroupStats));
  // Other buffers are other bind groups; the least recently used one is dropped beyond maxEntries.
  const saved = BIND_GROUP_CACHE.maxEntries;
  BIND_GROUP_CACHE.maxEntries = 4;
  try {
    const inputs = Array.from({ length: 6 }, (_, i) => tensorFromArray(new Float32Array(64).fill(i), [64]));
    const outputs = inputs.map(() => emptyTensor([64]));
    const run = (i: number) => {
      gpu.flush();
      dispatch({
        key: "test/copy",
        source: `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < p.n) { y[g.x] = x[g.x]; } }`,
      }, {
        op: "copy",
        tensors: [["x", inputs[i]], ["y", outputs[i]]],
        params: params(["u32", 64]),
        workgroups: 1,
      });
    };
    for (let i = 0; i < 6; i++) run(i);
    const created = gpu.bindGroupStats.created;
    run(5); // the most recent: kept
    assert.equal(gpu.bindGroupStats.created, created);
    run(0); // the oldest: evicted, so made again
    assert.equal(gpu.bindGroupStats.created, created + 1);
    const values = await readTensors(outputs) as Float32Array[];
    values.forEach((v, i) => assert.ok(v.every((x) => x === i), `output ${i}`));
  } finally {
    BIND_GROUP_CACHE.maxEntries = saved;
  }
});

Deno.test("one read-back returns many tensors of mixed dtypes", async () => {
  const x = randomFloats(37, 1);
  const y = new Int32Array([5, -6, 7]);
  const z = new Uint32Array([4_000_000_000]);
  const [rx, ry, rz] = await readTensors([
    tensorFromArray(x, [37]),
    tensorFromArray(y, [3]),
    tensorFromArray(z, [1]),
  ]);
  assert.deepEqual(rx, x);
  assert.deepEqual(ry, y);
  assert.deepEqual(rz, z);
});

Deno.test("a binding over maxStorageBufferBindingSize is refused with the op and the sizes", () => {
  const elements = gpu.limits.maxStorageBufferBindingSize / 4 + 1024;
  const big = emptyTensor([elements], "f32");
  assert.throws(
    () => relu(big),
    (e: Error) =>
      e instanceof LimitError &&
      /relu: x \[\d+\] f32 is \d+ bytes > maxStorageBufferBindingSize/.test(e.message),
  );
  big.dispose();
});

Deno.test("debug mode names the op, its shapes and the WGSL line of a validation error", async () => {
  gpu.debug = true;
  try {
    const out = tensorFromArray(randomFloats(4, 2), [4]);
    dispatch({
      key: "test/broken",
      source: `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(4) fn main(@builtin(global_invocation_id) g: vec3u) {
  o[g.x] = undefinedThing;
}`,
    }, { op: "brokenOp", tensors: [["out", out]], params: params(["u32", 4]), workgroups: 1 });
    await assert.rejects(
      () => gpu.sync(),
      (e: Error) =>
        e instanceof GpuValidationError && /brokenOp|test\/broken/.test(e.message) &&
        /line 6/.test(e.message),
    );
  } finally {
    gpu.debug = false;
  }
  // The context stays usable after the error.
  const x = tensorFromArray(new Float32Array([1, -2]), [2]);
  assert.deepEqual(Array.from(await add(x, x).read()), [2, -4]);
});

// Keep last in this file: it destroys the shared device.
/** Runs a fresh Deno that acquires the GPU and prints `LP_NUM_THREADS` as it saw it and as its GpuInfo says. */
async function threadsInFreshProcess(env: Record<string, string>, unset: boolean) {
  const code = `import { getGpu } from ${JSON.stringify(new URL("../../ops/gpu.ts", import.meta.url).href)};
const gpu = await getGpu();
console.log(JSON.stringify({ env: Deno.env.get("LP_NUM_THREADS") ?? null, info: gpu.info.softwareThreads }));`;
  const childEnv = { ...Deno.env.toObject(), ...env };
  if (unset) delete childEnv.LP_NUM_THREADS;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-webgpu", code],
    env: childEnv,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as { env: string | null; info: string | null };
}

Deno.test("lavapipe gets two compute threads per core unless LP_NUM_THREADS is set", async () => {
  const cores = navigator.hardwareConcurrency;
  const expected = cores <= SOFTWARE_THREADS.maxCores ? String(cores * SOFTWARE_THREADS.perCore) : null;
  assert.deepEqual(await threadsInFreshProcess({}, true), { env: expected, info: expected });
  assert.deepEqual(await threadsInFreshProcess({ LP_NUM_THREADS: "3" }, false), { env: "3", info: "3" });
});

Deno.test("a lost device gives DeviceLostError on the next op", async () => {
  const x = tensorFromArray(new Float32Array([1, 2]), [2]);
  gpu.device.destroy();
  await gpu.device.lost;
  assert.throws(() => add(x, x), DeviceLostError);
  assert.throws(() => emptyTensor([2]), DeviceLostError);
});
