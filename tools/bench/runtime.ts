/**
 * Runtime micro-benchmarks: dispatch overhead of small batched dispatches and copy bandwidth.
 * @module
 */
import { add, copy, getGpu, tensorFromArray } from "../../ops/mod.ts";
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
  return [
    {
      label: "dispatch overhead (256-elem add, batched)",
      value: dispatchUs,
      unit: "µs/dispatch",
      key: "dispatch_overhead_us",
    },
    { label: "copy bandwidth (64 MiB, read+write)", value: gbps, unit: "GB/s", key: "copy_bandwidth_gbps" },
  ];
}
