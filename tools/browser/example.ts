/**
 * Serves the example page (examples/browser/) with its script bundled, and optionally drives it in headless
 * Chromium to take a screenshot.
 *
 *   deno run -A --unstable-webgpu tools/browser/example.ts [--weights model.safetensors] [--config config.json]
 *       [--port 8000] [--threshold 0.5] [--screenshot page.png [--steps 5]]
 *
 * Without `--screenshot` it prints the page's URL and serves until stopped; `--weights` / `--config` files
 * are served at /weights and /config.json and passed to the page as `?weights=` / `?config=`.
 * With `--screenshot` it opens the page, detects on the sample image, trains `--steps` steps, detects
 * again, and writes a PNG of the page, printing the page's status lines and times.
 * @module
 */
import { parseArgs } from "node:util";
import { bundleForBrowser, launchChromium, serveStatic } from "./harness.ts";

/** The bits of the page's `document` read from page callbacks (this file is type-checked without the DOM lib). */
interface PageGlobals {
  document: {
    body: { dataset: Record<string, string | undefined> };
    getElementById(id: string): { textContent: string | null } | null;
  };
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    weights: { type: "string" },
    config: { type: "string" },
    screenshot: { type: "string" },
    steps: { type: "string", default: "5" },
    port: { type: "string" },
    threshold: { type: "string" },
  },
});

const root = new URL("../../examples/browser", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "example_page_" });
await bundleForBrowser(`${root}/main.ts`, `${dir}/main.js`);
const files: Record<string, Uint8Array> = { "/main.js": await Deno.readFile(`${dir}/main.js`) };
await Deno.remove(dir, { recursive: true });
const query = new URLSearchParams();
if (values.weights) {
  files["/weights"] = await Deno.readFile(values.weights);
  query.set("weights", "/weights");
}
if (values.config) {
  files["/config.json"] = await Deno.readFile(values.config);
  query.set("config", "/config.json");
}
if (values.threshold) query.set("threshold", values.threshold);
const server = serveStatic(files, root, values.port ? Number(values.port) : 0);
const url = `${server.origin}/index.html${query.size ? `?${query}` : ""}`;

if (!values.screenshot) {
  console.log(`serving the example page at ${url} (Chrome/Edge with WebGPU; Ctrl-C stops)`);
} else {
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1000, height: 760 });
    page.on("pageerror", (e) => console.error(`pageerror: ${e.message}`));
    const waitFor = async (state: string) => {
      const t = performance.now();
      await page.waitForFunction(
        (s) =>
          [s, "error"].includes((globalThis as unknown as PageGlobals).document.body.dataset.state ?? ""),
        state,
        {
          timeout: 0,
        },
      );
      const got = await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).document.body.dataset.state
      );
      const line = await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).document.getElementById("status")!.textContent
      );
      console.log(`${state}: ${((performance.now() - t) / 1000).toFixed(1)} s — ${line}`);
      if (got === "error") throw new Error(`the page reported an error: ${line}`);
    };
    await page.goto(url);
    await waitFor("ready");
    await page.click("#detect");
    await waitFor("detected");
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).document.body.dataset.state = "busy"));
    await page.fill("#steps", values.steps);
    await page.click("#train");
    await waitFor("trained");
    console.log(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).document.getElementById("lossText")!.textContent
      ),
    );
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).document.body.dataset.state = "busy"));
    await page.click("#detect");
    await waitFor("detected");
    await page.screenshot({ path: values.screenshot, fullPage: true });
    console.log(`wrote ${values.screenshot}`);
  } finally {
    await close();
    await server.close();
  }
}
