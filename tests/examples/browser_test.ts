/**
 * The library in a headless Chromium tab (Dawn's WebGPU, SwiftShader here) against the same work in Deno
 * (wgpu, lavapipe here): mod.ts bundled for the browser, weights and a PNG served from 127.0.0.1, the page's
 * `detect` equal to Deno's (boxes ±1e-3 px, scores ±1e-5, masks identical) and 3 SGD steps' losses within
 * 1e-4. Needs Debian's `chromium` (`.ci/run` installs it); without it the test is skipped with a loud
 * message, except under CI=true, where it fails. Prints the page's cold and warm times.
 * @module
 */
import assert from "node:assert/strict";
import { encodePng } from "../../data/image_codec.ts";
import { ShapesDataset } from "../../data/shapes.ts";
import { buildModel, disposeModel } from "../../model/mask_rcnn.ts";
import { saveWeights } from "../../mod.ts";
import { initWeights } from "../../model/init.ts";
import { bundleForBrowser, hasChromium, launchChromium, serveStatic } from "../../tools/browser/harness.ts";
import {
  runWorkload,
  workloadConfig,
  type WorkloadInput,
  type WorkloadResult,
} from "../../tools/browser/workload.ts";

const SIZE = 96;
const TRAIN_STEPS = 3;
const chromium = await hasChromium();
const inCi = (Deno.env.get("CI") ?? "") !== "" && Deno.env.get("CI") !== "false";
if (!chromium) {
  console.warn(
    "\n!!! tests/examples/browser_test.ts: no Chromium at $CHROMIUM_PATH or /usr/bin/chromium — the browser " +
      "test is SKIPPED (apt-get install -y chromium) !!!\n",
  );
}

async function inputs(): Promise<{ weights: Uint8Array; image: Uint8Array }> {
  const model = await buildModel(workloadConfig(SIZE));
  initWeights(model, { seed: 5 });
  const weights = saveWeights(model);
  disposeModel(model);
  const item = await new ShapesDataset({ count: 1, seed: 11, width: SIZE, height: SIZE }).get(0);
  return { weights, image: encodePng(item.image.data, SIZE, SIZE, 3) };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function describe(where: string, r: WorkloadResult): string {
  const t = r.times;
  return `${where}: load ${seconds(t.load)}, detect cold ${seconds(t.detectCold)}, warm ${
    seconds(t.detectWarm)
  }, train steps ${t.steps.map(seconds).join(" / ")}`;
}

Deno.test({
  name: "the bundled module in headless Chromium detects and trains like Deno (small model, 96×96)",
  ignore: !chromium && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.ok(chromium, "CI=true but Chromium is missing: .ci/run should have installed it");
    const { weights, image } = await inputs();
    const dir = await Deno.makeTempDir({ prefix: "browser_test_" });
    const bundleStart = performance.now();
    await bundleForBrowser(
      new URL("../../tools/browser/workload.ts", import.meta.url).pathname,
      `${dir}/workload.js`,
    );
    const bundleMs = performance.now() - bundleStart;
    const server = serveStatic({
      "/index.html": "<!doctype html><title>maskrcnn test</title>",
      "/workload.js": await Deno.readFile(`${dir}/workload.js`),
      "/weights.safetensors": weights,
      "/image.png": image,
    });
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      const consoleLines: string[] = [];
      page.on("console", (m) => {
        consoleLines.push(`${m.type()}: ${m.text()}`);
        if (m.text().startsWith("[workload]")) console.log(`  chromium ${m.text()}`);
      });
      page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
      await page.goto(`${server.origin}/index.html`);
      const pageStart = performance.now();
      const inPage = await page.evaluate(async ({ size, steps }) => {
        const adapter = await navigator.gpu?.requestAdapter();
        if (!adapter) throw new Error("no WebGPU adapter in the page");
        const w = await import("/workload.js");
        const png = new Uint8Array(await (await fetch("/image.png")).arrayBuffer());
        // the weights come by URL: loadWeights fetches them in a page
        const input: WorkloadInput = {
          weights: "/weights.safetensors",
          image: png,
          size,
          trainSteps: steps,
          log: (line) => console.log(`[workload] ${line}`),
        };
        const r = await w.runWorkload(input);
        return { ...r, adapter: `${adapter.info.vendor} / ${adapter.info.architecture}` };
      }, { size: SIZE, steps: TRAIN_STEPS }).catch((e) => {
        throw new Error(`${(e as Error).message}\npage console:\n${consoleLines.join("\n")}`);
      });
      const pageMs = performance.now() - pageStart;
      const inDeno = await runWorkload({ weights, image, size: SIZE, trainSteps: TRAIN_STEPS });
      console.log(`bundle ${seconds(bundleMs)}; page total ${seconds(pageMs)} on ${inPage.adapter}`);
      console.log(describe("chromium", inPage));
      console.log(describe("deno    ", inDeno));

      const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      console.log(
        `${inDeno.count} detections; max |Δ| box ${maxDiff(inPage.boxes, inDeno.boxes)} px, score ${
          maxDiff(inPage.scores, inDeno.scores)
        }, loss ${maxDiff(inPage.losses.flat(), inDeno.losses.flat())}; losses ${
          inDeno.losses.map((l) => l[0].toFixed(5)).join(", ")
        }`,
      );
      assert.ok(inDeno.count > 0, "Deno found no detections: the comparison would be empty");
      assert.equal(inPage.count, inDeno.count, "detection count");
      assert.deepEqual(inPage.labels, inDeno.labels, "labels");
      for (let i = 0; i < inDeno.boxes.length; i++) {
        const d = Math.abs(inPage.boxes[i] - inDeno.boxes[i]);
        assert.ok(d <= 1e-3, `box coordinate ${i}: page ${inPage.boxes[i]}, Deno ${inDeno.boxes[i]}`);
      }
      for (let i = 0; i < inDeno.count; i++) {
        const d = Math.abs(inPage.scores[i] - inDeno.scores[i]);
        assert.ok(d <= 1e-5, `score ${i}: page ${inPage.scores[i]}, Deno ${inDeno.scores[i]}`);
      }
      assert.equal(inPage.masks.length, inDeno.masks.length, "mask bytes");
      const differing = inDeno.masks.reduce((n, v, i) => n + (v !== inPage.masks[i] ? 1 : 0), 0);
      assert.equal(differing, 0, `${differing} mask pixels differ`);
      assert.ok(inDeno.masks.some((v) => v === 1), "all masks are empty: the comparison would be vacuous");

      assert.equal(inPage.losses.length, TRAIN_STEPS);
      for (let s = 0; s < TRAIN_STEPS; s++) {
        for (let k = 0; k < inDeno.losses[s].length; k++) {
          const [p, d] = [inPage.losses[s][k], inDeno.losses[s][k]];
          assert.ok(
            Number.isFinite(d) && Math.abs(p - d) <= 1e-4,
            `step ${s} loss ${k}: page ${p}, Deno ${d}`,
          );
        }
      }
      assert.notEqual(inDeno.losses[0][0], inDeno.losses[TRAIN_STEPS - 1][0], "training changed nothing");
    } finally {
      await close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
