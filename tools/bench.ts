/**
 * `deno task bench [--json] [--only SECTION,...] [--peer-steps N] [--peer-quick]`: runs every benchmark
 * section on the adapter it finds and prints a table; with `--json` the last stdout line is one JSON object
 * of all figures (snake_case keys). Every run first records what the figures depend on: the CPU (model,
 * family, AVX2 / AVX-512 / FMA, cores), the Mesa version of the Vulkan driver in use and the load average
 * (at the start and at the end: other processes on the cores make the figures noisy). The `peer` section
 * times torchvision on the same inputs in the same run (see tools/bench/peer.ts) and gives `*_vs_torch`
 * ratios; `--peer-quick` leaves R50-FPN out of it. The `profile` section (tools/bench/profile.ts) prints
 * per-op GPU time tables of a demo step, a small train step and a small detect.
 * @module
 */
import { parseArgs } from "node:util";
import { getGpu } from "../ops/mod.ts";
import { type BenchRow, formatTable } from "./bench/_report.ts";
import { loadAverage, machineRecord } from "./bench/machine.ts";
import { benchRuntime } from "./bench/runtime.ts";

const SECTIONS: Record<string, () => Promise<BenchRow[]>> = {
  runtime: benchRuntime,
  basic: () => import("./bench/basic.ts").then((m) => m.benchBasic()),
  data: () => import("./bench/data.ts").then((m) => m.benchData()),
  coco_eval: () => import("./bench/coco_eval.ts").then((m) => m.benchCocoEval()),
  roi: () => import("./bench/roi.ts").then((m) => m.benchRoi()),
  nms: () => import("./bench/nms.ts").then((m) => m.benchNms()),
  conv: () => import("./bench/conv.ts").then((m) => m.benchConv()),
  conv_backward: () => import("./bench/conv_backward.ts").then((m) => m.benchConvBackward()),
  detect: () => import("./bench/detect.ts").then((m) => m.benchDetect()),
  train: () => import("./bench/train.ts").then((m) => m.benchTrain()),
  optimizer: () => import("./bench/optimizer.ts").then((m) => m.benchOptimizer()),
  train_ops: () => import("./bench/train_ops.ts").then((m) => m.benchTrainOps()),
  targets: () => import("./bench/targets.ts").then((m) => m.benchTargets()),
  distributed: () => import("./bench/distributed.ts").then((m) => m.benchDistributed()),
  profile: () => import("./bench/profile.ts").then((m) => m.benchProfile()),
  peer: () =>
    import("./bench/peer.ts").then((m) =>
      m.benchPeer({ trainSteps: peerSteps, r50Repeats: values["peer-quick"] ? 0 : 1 })
    ),
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    only: { type: "string" },
    "peer-steps": { type: "string" },
    "peer-quick": { type: "boolean", default: false },
    help: { type: "boolean" },
  },
});
if (values.help) {
  console.log(
    `usage: deno task bench [--json] [--only ${
      Object.keys(SECTIONS).join(",")
    }] [--peer-steps N] [--peer-quick]\n` +
      "  --peer-steps N   timed training steps of the peer section, after one warm-up step (default 4)\n" +
      "  --peer-quick     the peer section without R50-FPN (small model and conv only)",
  );
  Deno.exit(0);
}
const peerSteps = Number(values["peer-steps"] ?? 4);
if (!Number.isInteger(peerSteps) || peerSteps < 1) {
  console.error(`--peer-steps must be a positive integer, got ${JSON.stringify(values["peer-steps"])}`);
  Deno.exit(2);
}
const selected = values.only ? values.only.split(",") : Object.keys(SECTIONS);
for (const name of selected) {
  if (!SECTIONS[name]) {
    console.error(`unknown section "${name}"; known: ${Object.keys(SECTIONS).join(", ")}`);
    Deno.exit(2);
  }
}
const gpu = await getGpu();
const machine = await machineRecord();
const simd = machine.avx512 ? "AVX-512" : machine.avx2 ? "AVX2" : "no AVX2";
console.log(`adapter: ${gpu.info.description}${gpu.info.isFallbackAdapter ? " (software)" : ""}`);
console.log(
  `cpu: ${machine.cpuModel}, family ${machine.cpuFamily}, ${simd}${machine.fma ? " + FMA" : ""}, ` +
    `${machine.cores} cores; Mesa ${machine.mesaVersion} (${machine.mesaSource}); load average ${machine.loadAverage}` +
    (gpu.info.softwareThreads ? `; LP_NUM_THREADS ${gpu.info.softwareThreads}` : ""),
);
const figures: Record<string, number | string | boolean> = {
  adapter: gpu.info.description,
  cpu_model: machine.cpuModel,
  cpu_family: machine.cpuFamily,
  cpu_avx2: machine.avx2,
  cpu_avx512: machine.avx512,
  cpu_fma: machine.fma,
  cpu_cores: machine.cores,
  mesa_version: machine.mesaVersion,
  lavapipe_threads: gpu.info.softwareThreads ?? "mesa default",
  load_average_start: machine.loadAverage,
};
for (const name of selected) {
  gpu.pool.resetPeak();
  const rows = await SECTIONS[name]();
  console.log(`\n== ${name}\n${formatTable(rows)}`);
  for (const row of rows) figures[row.key] = Number(row.value.toPrecision(6));
}
figures.load_average_end = await loadAverage();
console.log(`\nload average at the end: ${figures.load_average_end}`);
if (values.json) console.log(JSON.stringify(figures));
