/**
 * Cold compile time of every compute pipeline the browser workload (tools/browser/workload.ts: small model,
 * detect + 3 training steps) creates, on headless Chromium's WebGPU (Dawn/Tint, SwiftShader without a GPU)
 * and on Deno's (wgpu/naga). The pipelines are recorded in Deno, then each is compiled once with
 * `createComputePipelineAsync` in a fresh browser profile and once in Deno, and timed. Prints the slowest
 * and the totals; `--json FILE` writes all of them.
 *
 *   deno run -A --unstable-webgpu tools/browser/compile_times.ts [--size 96] [--top 25] [--json out.json]
 *       [--dawn-features disable_robustness,...]   (passed to Chromium as --enable-dawn-features)
 *       [--only REGEX] [--limit N]                  (time only the first N pipelines whose key matches)
 *       [--tiles hardware|software]                 (which GEMM tile variants to record; default hardware)
 *
 * The GEMM kernels pick their tiles with `softwareGemmTiles()` (ops/gpu.ts): a page takes the `hardware`
 * tiles, Deno on a fallback adapter the `software` ones. `--tiles` picks which variants are recorded and
 * timed on both (default `hardware`, what Chromium compiles; `software` shows the 8-row tiles' cost).
 * @module
 */
import { parseArgs } from "node:util";
import { encodePng } from "../../data/image_codec.ts";
import { ShapesDataset } from "../../data/shapes.ts";
import { initWeights } from "../../model/init.ts";
import { buildModel, disposeModel } from "../../model/mask_rcnn.ts";
import { saveWeights } from "../../mod.ts";
import { currentGpu, GpuContext } from "../../ops/gpu.ts";
import { bundleForBrowser, launchChromium, serveStatic } from "./harness.ts";
import { runWorkload, workloadConfig } from "./workload.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "96" },
    top: { type: "string", default: "25" },
    json: { type: "string" },
    "dawn-features": { type: "string" },
    only: { type: "string" },
    tiles: { type: "string", default: "hardware" },
    limit: { type: "string" },
  },
});
const size = Number(values.size);

interface Recorded {
  key: string;
  code: string;
  constants: Record<string, number>;
}
const recorded = new Map<string, Recorded>();
const original = GpuContext.prototype.pipeline;
GpuContext.prototype.pipeline = function (
  key: string,
  source: string,
  constants: Record<string, number> = {},
) {
  const full = key + JSON.stringify(Object.entries(constants).sort());
  if (!recorded.has(full)) recorded.set(full, { key, code: source, constants });
  return original.call(this, key, source, constants);
};

const model = await buildModel(workloadConfig(size));
// softwareGemmTiles() is true in Deno exactly on a fallback adapter: set the flag for the variants wanted
(currentGpu().info as { isFallbackAdapter: boolean }).isFallbackAdapter = values.tiles === "software";
initWeights(model, { seed: 5 });
const weights = saveWeights(model);
disposeModel(model);
const item = await new ShapesDataset({ count: 1, seed: 11, width: size, height: size }).get(0);
await runWorkload({ weights, image: encodePng(item.image.data, size, size, 3), size, trainSteps: 1 });
GpuContext.prototype.pipeline = original;
const only = values.only ? new RegExp(values.only) : undefined;
const list = [...recorded.values()].filter((p) => !only || only.test(p.key)).slice(
  0,
  values.limit ? Number(values.limit) : undefined,
);
console.log(`${list.length} pipelines recorded`);

// Deno (naga + the Vulkan driver): a fresh device, each pipeline compiled and awaited alone.
const adapter = (await navigator.gpu.requestAdapter())!;
const device = await adapter.requestDevice({
  requiredLimits: {
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
  },
});
const denoMs: number[] = [];
for (const p of list) {
  const t = performance.now();
  await device.createComputePipelineAsync({
    layout: "auto",
    compute: {
      module: device.createShaderModule({ code: p.code }),
      entryPoint: "main",
      constants: p.constants,
    },
  });
  denoMs.push(performance.now() - t);
}

const dir = await Deno.makeTempDir({ prefix: "compile_times_" });
await bundleForBrowser(new URL("../../mod.ts", import.meta.url).pathname, `${dir}/maskrcnn.js`);
const server = serveStatic({
  "/index.html": "<!doctype html><title>compile times</title>",
  "/maskrcnn.js": await Deno.readFile(`${dir}/maskrcnn.js`),
});
const dawnFeatures = values["dawn-features"];
const { browser, close } = await launchChromium(
  dawnFeatures ? [`--enable-dawn-features=${dawnFeatures}`] : [],
);
let browserMs: number[];
try {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/index.html`);
  browserMs = await page.evaluate(async (pipelines) => {
    const m = await import("/maskrcnn.js");
    const gpu = await m.getGpu(); // the library's own device request (limits as in a real run)
    const dev = gpu.device as GPUDevice;
    const out: number[] = [];
    for (const p of pipelines) {
      const t = performance.now();
      await dev.createComputePipelineAsync({
        layout: "auto",
        compute: {
          module: dev.createShaderModule({ code: p.code }),
          entryPoint: "main",
          constants: p.constants,
        },
      });
      out.push(performance.now() - t);
    }
    return out;
  }, list);
} finally {
  await close();
  await server.close();
  await Deno.remove(dir, { recursive: true });
}

const rows = list.map((p, i) => ({
  key: p.key,
  constants: p.constants,
  chromiumMs: browserMs[i],
  denoMs: denoMs[i],
}));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
console.log(
  `total: chromium ${(sum(browserMs) / 1000).toFixed(1)} s, deno ${(sum(denoMs) / 1000).toFixed(1)} s ` +
    `(${list.length} pipelines, compiled one after another)`,
);
const sorted = [...rows].sort((a, b) => b.chromiumMs - a.chromiumMs);
for (const r of sorted.slice(0, Number(values.top))) {
  const c = Object.entries(r.constants).map(([k, v]) => `${k}=${v}`).join(",");
  console.log(
    `${(r.chromiumMs / 1000).toFixed(2).padStart(7)} s chromium ${
      (r.denoMs / 1000).toFixed(2).padStart(6)
    } s deno  ${r.key}${c ? ` (${c})` : ""}`,
  );
}
if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 1));
