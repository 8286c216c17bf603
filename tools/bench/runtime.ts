/**
 * Runtime micro-benchmarks: dispatch overhead of small batched dispatches, copy bandwidth, and the adapter's
 * arithmetic ceiling (`alu_ceiling_gflops`: 65,536 invocations each running a loop of 16 independent vec4
 * FMAs on registers, no memory reads, the trip count from a uniform: a reference rate of the adapter's
 * arithmetic, not a hard ceiling — the conv GEMM kernel with its operand loads replaced by arithmetic ran
 * faster, 50–92 GFLOP/s against 54–56 on an AMD family 26 machine). On lavapipe, AMD Zen 3 / AVX2, 2 cores,
 * Mesa 25.0.7: 59–65 GFLOP/s (8 accumulators 53, 4 only 38); the same loop with a compile-time trip count
 * ran at half that, 27–31 GFLOP/s. torch's OpenBLAS runs a 3×3 conv at 120–150 on the same cores.
 * @module
 */
import { add, copy, dispatch, emptyTensor, getGpu, params, tensorFromArray } from "../../ops/mod.ts";
import type { BenchRow } from "./_report.ts";

/** Measures µs per small dispatch (batched, one sync at the end) and GB/s of a large copy. */
export async function benchRuntime(): Promise<BenchRow[]> {
  const gpu = await getGpu();
  const small = tensorFromArray(new Float32Array(256).fill(1.5), [256]);
  const dispatches = 2000;
  const runSmall = async () => {
    for (let i = 0; i < dispatches; i++) add(small, small).dispose();
    await gpu.sync();
  };
  await runSmall();
  let t0 = performance.now();
  await runSmall();
  const dispatchUs = (performance.now() - t0) * 1000 / dispatches;

  const elements = 16 * 1024 * 1024; // 64 MiB of f32
  const big = tensorFromArray(new Float32Array(elements).fill(0.25), [elements]);
  const copies = 5;
  copy(big).dispose();
  await gpu.sync();
  t0 = performance.now();
  for (let i = 0; i < copies; i++) copy(big).dispose();
  await gpu.sync();
  const seconds = (performance.now() - t0) / 1000;
  const gbps = (2 * big.byteLength * copies) / seconds / 1e9; // bytes read + written
  small.dispose();
  big.dispose();
  const aluGflops = await aluCeilingGflops();
  return [
    {
      label: "dispatch overhead (256-elem add, batched)",
      value: dispatchUs,
      unit: "µs/dispatch",
      key: "dispatch_overhead_us",
    },
    { label: "copy bandwidth (64 MiB, read+write)", value: gbps, unit: "GB/s", key: "copy_bandwidth_gbps" },
    {
      label: "arithmetic ceiling (vec4 FMAs on registers, no reads)",
      value: aluGflops,
      unit: "GFLOP/s",
      key: "alu_ceiling_gflops",
    },
  ];
}

/** Best of three: GFLOP/s of a register-only FMA loop (see the module notes). */
async function aluCeilingGflops(): Promise<number> {
  const gpu = await getGpu();
  const accumulators = 16, iterations = 2048, invocations = 65536;
  const names = Array.from({ length: accumulators }, (_, i) => `a${i}`);
  const kernel = {
    key: `bench/alu_ceiling/${accumulators}`,
    source: `struct P { iterations: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  ${names.map((a, i) => `var ${a} = vec4<f32>(f32(id.x) * 1e-9 + ${i}e-3);`).join("\n  ")}
  let m = vec4<f32>(0.999999);
  let c = vec4<f32>(1e-7);
  for (var i = 0u; i < p.iterations; i++) {
    ${names.map((a) => `${a} = fma(${a}, m, c);`).join("\n    ")}
  }
  out[id.x] = ${names.join(" + ")};
}`,
  };
  const out = emptyTensor([invocations, 4]);
  const run = async () => {
    dispatch(kernel, {
      op: "bench/alu_ceiling",
      tensors: [["out", out]],
      params: params(["u32", iterations]),
      workgroups: invocations / 64,
    });
    await gpu.sync();
  };
  await run();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  out.dispose();
  return (2 * 4 * accumulators * iterations * invocations) / (best * 1e6);
}
