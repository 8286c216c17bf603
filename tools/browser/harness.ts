/**
 * Pieces for running the library in headless Chromium: bundling an entry for the browser (`deno bundle`),
 * a static server on 127.0.0.1, and a Chromium launch with WebGPU enabled and nothing downloaded (Debian's
 * `chromium` driven by `npm:playwright-core`). Used by tests/examples/browser_test.ts and
 * tools/browser/example.ts.
 * @module
 */
import type { BrowserContext } from "playwright-core";

/** Where Chromium is looked for: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
}

/**
 * True when the Chromium binary exists.
 * @example
 * ```ts
 * if (!(await hasChromium())) console.warn("no chromium");
 * ```
 */
export async function hasChromium(): Promise<boolean> {
  try {
    return (await Deno.stat(chromiumPath())).isFile;
  } catch {
    return false;
  }
}

/**
 * Bundles a module for the browser (ESM, one file) with `deno bundle`; throws with its output on failure.
 * @example
 * ```ts
 * await bundleForBrowser("mod.ts", "/tmp/maskrcnn.js");
 * ```
 */
export async function bundleForBrowser(entry: string, outFile: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", entry, "-o", outFile],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`deno bundle ${entry} failed:\n${text}`);
  }
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  png: "image/png",
  jpg: "image/jpeg",
  safetensors: "application/octet-stream",
};

/** A running static server; `close()` stops it. */
export interface StaticServer {
  /** e.g. `http://127.0.0.1:41234` */
  origin: string;
  close(): Promise<void>;
}

/**
 * Serves in-memory files (path → bytes or text) and, for other paths, files under `root` (if given) on
 * 127.0.0.1 at `port` (default: a free one).
 * @example
 * ```ts
 * const server = serveStatic({ "/index.html": "<p>hi</p>" });
 * console.log(server.origin); await server.close();
 * ```
 */
export function serveStatic(
  files: Record<string, Uint8Array | string>,
  root?: string,
  port = 0,
): StaticServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    let path = decodeURIComponent(new URL(req.url).pathname);
    if (path.endsWith("/")) path += "index.html";
    const type = TYPES[path.split(".").pop() ?? ""] ?? "application/octet-stream";
    const headers = { "content-type": type, "cache-control": "no-store" };
    const body = files[path];
    if (body !== undefined) return new Response(body as BodyInit, { headers });
    if (root && !path.split("/").includes("..")) {
      try {
        return new Response(await Deno.readFile(root + path), { headers });
      } catch { /* 404 below */ }
    }
    return new Response("not found", { status: 404 });
  });
  const addr = server.addr as Deno.NetAddr;
  return { origin: `http://127.0.0.1:${addr.port}`, close: () => server.shutdown() };
}

/** The Chromium flags used: headless, WebGPU on (SwiftShader without a GPU), no network chatter. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** A launched browser (its one context) and the fresh profile folder it uses; `close()` ends both. */
export interface LaunchedChromium {
  browser: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with WebGPU and a fresh `--user-data-dir` (removed on close).
 * @example
 * ```ts
 * const { browser, close } = await launchChromium();
 * const page = await browser.newPage(); await close();
 * ```
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<LaunchedChromium> {
  // playwright's bundled is-wsl probes /proc/sys/fs/binfmt_misc at load time, which Deno only allows under
  // --allow-all; with this variable set it probes lazily (never, on Linux launches)
  if (Deno.env.get("__IS_WSL_TEST__") === undefined) Deno.env.set("__IS_WSL_TEST__", "1");
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "chromium_profile_" });
  // a persistent context is how playwright takes --user-data-dir (a fresh, empty folder here)
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    ignoreDefaultArgs: ["--headless"], // playwright's own; --headless=new above is the one that counts
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
