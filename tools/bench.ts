/**
 * `deno task bench [--json] [--only SECTION,...]`: runs every benchmark section on the adapter it finds and
 * prints a table; with `--json` the last stdout line is one JSON object of all figures (snake_case keys).
 * @module
 */
import { parseArgs } from "node:util";
import { getGpu } from "../mod.ts";
import { type BenchRow, formatTable } from "./bench/_report.ts";
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
};

const { values } = parseArgs({
  args: Deno.args,
  options: { json: { type: "boolean", default: false }, only: { type: "string" }, help: { type: "boolean" } },
});
if (values.help) {
  console.log(`usage: deno task bench [--json] [--only ${Object.keys(SECTIONS).join(",")}]`);
  Deno.exit(0);
}
const selected = values.only ? values.only.split(",") : Object.keys(SECTIONS);
for (const name of selected) {
  if (!SECTIONS[name]) {
    console.error(`unknown section "${name}"; known: ${Object.keys(SECTIONS).join(", ")}`);
    Deno.exit(2);
  }
}
const gpu = await getGpu();
console.log(`adapter: ${gpu.info.description}${gpu.info.isFallbackAdapter ? " (software)" : ""}`);
const figures: Record<string, number | string> = { adapter: gpu.info.description };
for (const name of selected) {
  gpu.pool.resetPeak();
  const rows = await SECTIONS[name]();
  console.log(`\n== ${name}\n${formatTable(rows)}`);
  for (const row of rows) figures[row.key] = Number(row.value.toPrecision(6));
}
if (values.json) console.log(JSON.stringify(figures));
