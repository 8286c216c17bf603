/**
 * `train` end to end, in-process, on 64×64 generated shapes with batch 2 (seconds per step on software
 * Vulkan): the run folder's files (losses.jsonl lines, checkpoint and model.safetensors that load,
 * loss_curve.png that decodes, eval.jsonl with --val), `--resume` continuing at step 2 and reproducing the
 * losses of an uninterrupted 3-step run exactly, and the documented usage errors (exit code 2).
 * @module
 */
import assert from "node:assert/strict";
import { readImageFile } from "../../data/image_codec.ts";
import { buildModel } from "../../model/mask_rcnn.ts";
import { createOptimizer } from "../../model/optimizer.ts";
import { initWeights } from "../../model/init.ts";
import { loadCheckpoint, loadWeights } from "../../mod.ts";
import { drawLossCurve, LOSS_SERIES } from "../../cli/_loss_curve.ts";
import { lastJson, runCli } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_train_" });
const config = `${dir}/c64.json`;
await Deno.writeTextFile(config, JSON.stringify({ preset: "small", minSize: 64, maxSize: 64 }));
const LOSS_KEYS = ["total", "rpnObjectness", "rpnBoxReg", "classifier", "boxReg", "mask"];

function trainArgs(out: string, steps: number, extra: string[] = []): string[] {
  return [
    "train",
    "--dataset",
    "shapes",
    "--config",
    config,
    "--batch",
    "2",
    "--steps",
    String(steps),
    "--out",
    out,
    ...extra,
  ];
}

async function lossLines(out: string): Promise<Record<string, number>[]> {
  const text = await Deno.readTextFile(`${out}/losses.jsonl`);
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("train writes losses.jsonl, a loadable checkpoint and model, a loss curve; --resume reproduces an uninterrupted run", async () => {
  const a = `${dir}/a`, b = `${dir}/b`;
  const first = await runCli(trainArgs(a, 2, ["--val", "shapes:2", "--eval-every", "1", "--json"]));
  assert.equal(first.code, 0, first.err.join("\n"));
  const lines = await lossLines(a);
  assert.deepEqual(lines.map((l) => l.step), [1, 2]);
  for (const line of lines) {
    for (const key of [...LOSS_KEYS, "lr", "epoch", "images"]) assert.ok(Number.isFinite(line[key]), key);
    assert.equal(line.images, 2);
  }
  assert.ok(
    first.out.some((l) => /^step 1\/2 .*img\/s .*ETA .*loss .*obj .*rpn_box .*cls .*box .*mask /.test(l)),
  );
  const evals = (await Deno.readTextFile(`${a}/eval.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(evals.map((e) => e.step), [1, 2]);
  assert.ok(evals.every((e) => e.boxAP50 >= 0 && e.boxAP50 <= 1 && e.maskAP50 >= 0 && e.images === 2));
  const summary = lastJson(first) as { step: number; files: string[]; eval: { step: number } };
  assert.equal(summary.step, 2);
  assert.equal(summary.eval.step, 2);

  // The files load: final weights into a fresh model, the checkpoint into a model and optimizer.
  const settings = JSON.parse(await Deno.readTextFile(`${a}/run.json`));
  const model = await buildModel(settings.config);
  await loadWeights(model, `${a}/model.safetensors`);
  initWeights(model, { seed: 5 });
  const opt = createOptimizer(model, settings.optimizer);
  const restored = await loadCheckpoint(`${a}/checkpoint.safetensors`, model, opt);
  assert.equal(restored.step, 2);
  assert.deepEqual((restored.rngState as { data: unknown }).data, { epoch: 0, batchInEpoch: 2 });
  const curve = await readImageFile(`${a}/loss_curve.png`);
  assert.deepEqual([curve.width, curve.height], [800, 480]);

  const resumed = await runCli(["train", "--resume", "--steps", "3", "--out", a]);
  assert.equal(resumed.code, 0, resumed.err.join("\n"));
  assert.ok(
    resumed.out.some((l) => l.startsWith("resuming") && l.includes("at step 2")),
    resumed.out.join("\n"),
  );
  const straight = await runCli(trainArgs(b, 3));
  assert.equal(straight.code, 0, straight.err.join("\n"));
  const [ra, rb] = [await lossLines(a), await lossLines(b)];
  assert.deepEqual(ra.map((l) => l.step), [1, 2, 3]);
  for (let i = 0; i < 3; i++) {
    for (const key of LOSS_KEYS) assert.equal(ra[i][key], rb[i][key], `step ${i + 1} ${key}`);
  }
});

Deno.test("train rejects bad command lines with exit code 2 and a message naming the option", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--dataset", "shapes"], /--out RUNDIR is required/],
    [["train", "--out", `${dir}/x`], /--dataset SPEC is required/],
    [["train", "--dataset", "mnist", "--out", `${dir}/x`], /--dataset must be shapes/],
    [["train", "--dataset", "coco:missing.json:imgs", "--out", `${dir}/x`], /no such file: missing.json/],
    [["train", "--dataset", "shapes:0", "--out", `${dir}/x`], /positive integer count/],
    [
      ["train", "--dataset", "shapes", "--batch", "0", "--out", `${dir}/x`],
      /--batch must be an integer in \[1, 14\]/,
    ],
    [
      ["train", "--dataset", "shapes", "--optimizer", "rmsprop", "--out", `${dir}/x`],
      /--optimizer must be sgd or adamw/,
    ],
    [
      ["train", "--dataset", "shapes", "--milestones", "5,3", "--out", `${dir}/x`],
      /--milestones must be ascending/,
    ],
    [["train", "--resume", "--out", `${dir}/nothing`], /no run to resume/],
    [["train", "--resume", "--lr", "0.1", "--out", `${dir}/a`], /drop --lr/],
    [["train", "--dataset", "shapes", "--out", `${dir}/a`], /already holds a run/],
  ];
  for (const [args, message] of cases) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.err.join("\n")}`);
    assert.match(run.err[0], message, args.join(" "));
  }
  const help = await runCli(["train", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out[0], /^Usage: deno task train/);
});

Deno.test("the loss curve draws every series in its colour on a white canvas", async () => {
  const records = Array.from({ length: 30 }, (_, i) => ({
    step: i + 1,
    total: 4 / (i + 1) + 0.5,
    rpnObjectness: 0.7 / (i + 1),
    rpnBoxReg: 0.05,
    classifier: 1.2 / Math.sqrt(i + 1),
    boxReg: 0.3,
    mask: 0.7 - i * 0.01,
  }));
  const png = drawLossCurve(records, { width: 400, height: 300 });
  const path = `${dir}/curve.png`;
  await Deno.writeFile(path, png);
  const image = await readImageFile(path);
  assert.deepEqual([image.width, image.height], [400, 300]);
  const colours = new Set<string>();
  for (let i = 0; i < image.width * image.height; i++) {
    colours.add(image.data.slice(3 * i, 3 * i + 3).join(","));
  }
  assert.ok(colours.has("255,255,255"), "white background");
  for (const s of LOSS_SERIES) assert.ok(colours.has(s.color.join(",")), `${s.name} is drawn`);
});
