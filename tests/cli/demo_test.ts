/**
 * `demo` in miniature, in-process: a 3-second training budget and 2 test images (`--eval-images`), so it
 * runs in seconds. The `--json` last line has exactly the documented keys with sane values, and the
 * written files (overlay picture, loss curve, weights with config.json) decode and load. Also `--help` and
 * a bad argument.
 * @module
 */
import assert from "node:assert/strict";
import { readImageFile } from "../../data/image_codec.ts";
import { buildModel, loadWeights } from "../../model/mask_rcnn.ts";
import { lastJson, runCli } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_demo_" });

Deno.test("demo --minutes 0.05 --json trains, evaluates and ends with the JSON summary", async () => {
  const run = await runCli(["demo", "--minutes", "0.05", "--eval-images", "2", "--out", dir, "--json"]);
  assert.equal(run.code, 0, run.err.join("\n"));
  const summary = lastJson(run);
  assert.deepEqual(Object.keys(summary), ["boxAP50", "maskAP50", "steps", "seconds"]);
  const { boxAP50, maskAP50, steps, seconds } = summary as Record<string, number>;
  assert.ok(boxAP50 >= 0 && boxAP50 <= 1 && maskAP50 >= 0 && maskAP50 <= 1, JSON.stringify(summary));
  assert.ok(Number.isInteger(steps) && steps >= 1, `steps ${steps}`);
  assert.ok(seconds > 0);
  assert.ok(run.out.some((l) => /box AP@0\.5 [\d.]+, mask AP@0\.5 [\d.]+ on 2 new images/.test(l)));

  const overlay = await readImageFile(`${dir}/demo_detections.png`);
  assert.ok(overlay.width > 2 * 128 && overlay.height > 2 * 128, `${overlay.width}×${overlay.height}`);
  await readImageFile(`${dir}/loss_curve.png`);
  const lines = (await Deno.readTextFile(`${dir}/losses.jsonl`)).trim().split("\n");
  assert.equal(lines.length, steps);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  const { classNames, ...overrides } = config;
  assert.deepEqual(classNames, ["background", "square", "circle", "triangle"]);
  const model = await buildModel(overrides);
  await loadWeights(model, `${dir}/model.safetensors`);
});

Deno.test("demo --help and a bad --minutes", async () => {
  const help = await runCli(["demo", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out[0], /^Usage: deno task demo/);
  const bad = await runCli(["demo", "--minutes", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err[0], /--minutes must be a number in \[0, 1440\]/);
});
