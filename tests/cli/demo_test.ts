/**
 * `demo` in miniature, in-process: 2 training steps and 2 test images (`--eval-images`), so it runs in
 * seconds. The `--json` last line has exactly the documented keys with sane values, and the
 * written files (overlay picture, loss curve, weights with config.json) decode and load. Also `--help` and
 * a bad argument.
 * @module
 */
import assert from "node:assert/strict";
import { readImageFile } from "../../data/image_codec.ts";
import { buildModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import { DEMO_STEPS, demoOptimizer } from "../../cli/demo.ts";
import { lastJson, runCli } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_demo_" });

Deno.test("demo --steps 2 --json trains, evaluates and ends with the JSON summary", async () => {
  const run = await runCli(["demo", "--steps", "2", "--eval-images", "2", "--out", dir, "--json"]);
  assert.equal(run.code, 0, run.err.join("\n"));
  const summary = lastJson(run);
  assert.deepEqual(Object.keys(summary), ["boxAP50", "maskAP50", "steps", "seconds"]);
  const { boxAP50, maskAP50, steps, seconds } = summary as Record<string, number>;
  assert.ok(boxAP50 >= 0 && boxAP50 <= 1 && maskAP50 >= 0 && maskAP50 <= 1, JSON.stringify(summary));
  assert.equal(steps, 2);
  assert.ok(seconds > 0);
  assert.ok(run.out.some((l) => /box AP@0\.5 [\d.]+, mask AP@0\.5 [\d.]+ on 2 new images/.test(l)));

  const overlay = await readImageFile(`${dir}/demo_detections.png`);
  assert.ok(overlay.width > 2 * 128 && overlay.height > 2 * 128, `${overlay.width}×${overlay.height}`);
  await readImageFile(`${dir}/loss_curve.png`);
  const lines = (await Deno.readTextFile(`${dir}/losses.jsonl`)).trim().split("\n");
  assert.equal(lines.length, steps);
  // The schedule is a function of the step count: 2 steps have no warm-up and the second runs decayed.
  assert.deepEqual(lines.map((l) => JSON.parse(l).lr), [2e-3, 2e-4]);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  const { classNames, ...overrides } = config;
  assert.deepEqual(classNames, ["background", "square", "circle", "triangle"]);
  const model = await buildModel(overrides);
  await loadWeights(model, `${dir}/model.safetensors`);
});

Deno.test("demoOptimizer: warm-up over 50 steps, tenfold decay for the last fifth", () => {
  assert.deepEqual(demoOptimizer(500), {
    type: "adamw",
    lr: 2e-3,
    weightDecay: 1e-4,
    warmupIters: 50,
    warmupFactor: 0.001,
    milestones: [400],
  });
  assert.equal(demoOptimizer(100).warmupIters, 20);
  assert.ok(DEMO_STEPS >= 100 && Number.isInteger(DEMO_STEPS));
});

Deno.test("demo --help and a bad --steps", async () => {
  const help = await runCli(["demo", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out[0], /^Usage: deno task demo/);
  assert.ok(help.out[0].includes("--steps"));
  const bad = await runCli(["demo", "--steps", "2.5"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err[0], /--steps must be an integer in \[1, 1000000\]/);
});
