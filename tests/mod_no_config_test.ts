// The module imports from outside the checkout without its deno.json: a script in a temp folder imports
// mod.ts by file path and by file:// URL, run with `deno run --no-config`, and detects on a PNG; its
// detections equal the in-process ones.
import assert from "node:assert/strict";
import { buildModel, detect, encodePng, generateShapesItem, loadWeights } from "./../mod.ts";

const WEIGHTS = new URL("./fixtures/model/small_trained.pth", import.meta.url).pathname;
const MOD = new URL("../mod.ts", import.meta.url);

Deno.test("a script elsewhere imports mod.ts by path and by file:// URL with --no-config and runs detect", async () => {
  const dir = await Deno.makeTempDir({ prefix: "no_config_" });
  try {
    const item = generateShapesItem(77, { width: 64, height: 64 });
    const png = `${dir}/photo.png`;
    await Deno.writeFile(png, encodePng(item.image.data, 64, 64, 3));
    await Deno.writeTextFile(
      `${dir}/script.ts`,
      `import * as byPath from ${JSON.stringify(MOD.pathname)};
import * as byUrl from ${JSON.stringify(MOD.href)};
const model = await byPath.buildModel({ preset: "small", minSize: 64, maxSize: 64 });
await byUrl.loadWeights(model, ${JSON.stringify(WEIGHTS)});
const d = await byUrl.detect(model, await Deno.readFile("photo.png"), { scoreThreshold: 0.05 });
console.log(JSON.stringify({ same: byPath.detect === byUrl.detect, count: d.count, scores: Array.from(d.scores) }));
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--allow-read",
        "--allow-env",
        "--unstable-webgpu",
        "script.ts",
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, err);
    const got = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
    const model = await buildModel({ preset: "small", minSize: 64, maxSize: 64 });
    await loadWeights(model, WEIGHTS);
    const want = await detect(model, await Deno.readFile(png), { scoreThreshold: 0.05 });
    assert.equal(got.same, true);
    assert.equal(got.count, want.count);
    assert.deepEqual(got.scores, Array.from(want.scores));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
