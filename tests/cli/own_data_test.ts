/**
 * Your own data from the command line, end to end, on 64×64 generated datasets (tests/data/_layouts.ts):
 * `train --weights <a 5-class model> --dataset <layout> --steps 3` for PennFudan, VOC and COCO with a
 * `_background_` category replaces the predictors (printed once) and writes a run folder (config.json and
 * the same in the safetensors metadata); `detect --weights run/model.safetensors` then needs no other
 * flag and names the classes; `eval --weights` equals detect's results.json + `eval --results`; a
 * weights/config mismatch is one line saying what to pass. Small preset, 1–3 steps: the machine is slow.
 * @module
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../../model/config.ts";
import { readSafetensors, writeSafetensors } from "../../data/weights/safetensors.ts";
import { modelFile, RUN_METADATA_KEY } from "../../cli/_run_folder.ts";
import { VOC_CLASS_NAMES } from "../../data/voc_dataset.ts";
import { lastJson, runCli, writeSmallWeights } from "./_cli.ts";
import {
  layoutItems,
  writeCocoWithBackground,
  writeFolder,
  writePennFudan,
  writeVoc,
} from "../data/_layouts.ts";
import { initialStateDict } from "../../model/init.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_own_data_" });
const items = layoutItems(2, 64, 40);

/** A 5-class small model at 64×64 as a run would write it (config in its metadata). */
async function baseModel(): Promise<string> {
  const plain = await writeSmallWeights(dir, 5);
  const config = resolveConfig({ preset: "small", minSize: 64, maxSize: 64, numClasses: 5 });
  const names = ["background", "a", "b", "c", "d"];
  const { tensors } = readSafetensors(await Deno.readFile(plain));
  const path = `${dir}/base/model.safetensors`;
  await Deno.mkdir(`${dir}/base`, { recursive: true });
  await Deno.writeFile(
    path,
    writeSafetensors(tensors, {
      format: "pt",
      [RUN_METADATA_KEY]: JSON.stringify(modelFile(config, names, [1, 2, 3, 4])),
    }),
  );
  return path;
}
const base = await baseModel();

async function train(dataset: string, out: string) {
  const run = await runCli([
    "train",
    "--weights",
    base,
    "--dataset",
    dataset,
    "--steps",
    "3",
    "--batch",
    "1",
    "--out",
    out,
  ]);
  assert.equal(run.code, 0, run.err.join("\n"));
  return run;
}

async function runModel(out: string) {
  const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
  const meta = readSafetensors(await Deno.readFile(`${out}/model.safetensors`)).metadata;
  assert.deepEqual(JSON.parse(meta[RUN_METADATA_KEY]), config, "metadata and config.json agree");
  return config as { numClasses: number; classNames: string[]; categoryIds: number[]; minSize: number };
}

Deno.test("pennfudan: train --weights replaces the predictors; detect --weights run/model.safetensors alone names the class", async () => {
  await writePennFudan(`${dir}/peds`, items);
  const out = `${dir}/run_peds`;
  const run = await train(`pennfudan:${dir}/peds`, out);
  const replaced = run.out.filter((l) => l.startsWith("replaced "));
  assert.equal(replaced.length, 1, run.out.join("\n"));
  assert.match(
    replaced[0],
    /replaced 6 predictor tensors .*roi_heads\.box_predictor\.cls_score\.weight \[5,128\] → \[2,128\]/,
  );
  assert.ok(run.out.some((l) => /^training 1 class \(pedestrian\)/.test(l)), run.out.join("\n"));
  const config = await runModel(out);
  assert.deepEqual([config.numClasses, config.minSize], [2, 64]);
  assert.deepEqual(config.classNames, ["background", "pedestrian"]);
  assert.deepEqual(config.categoryIds, [1]);

  const photo = `${dir}/peds/PNGImages/FudanPed00001.png`;
  const plain = await runCli([
    "detect",
    "--weights",
    `${out}/model.safetensors`,
    "--out",
    `${dir}/det_peds`,
    photo,
  ]);
  assert.equal(plain.code, 0, plain.err.join("\n"));
  assert.match(plain.out[0], /config from .*model\.safetensors metadata, 2 classes/);
  const all = await runCli([
    "detect",
    "--weights",
    `${out}/model.safetensors`,
    "--score",
    "0",
    "--json",
    "--out",
    `${dir}/det_peds0`,
    photo,
  ]);
  assert.equal(all.code, 0, all.err.join("\n"));
  const summary = lastJson(all) as { images: { count: number }[] };
  // Two classes: fresh predictors score "pedestrian" near 0.5, far above the model's 0.05 threshold.
  assert.ok(summary.images[0].count > 0, all.out.join("\n"));
  assert.match(all.out.find((l) => l.startsWith("[1/1]"))!, /\d+ pedestrian/);
  await Deno.stat(`${dir}/det_peds/FudanPed00001_det.png`);

  // eval on the layout itself (ground truth from its masks) equals detect + eval --results on that truth.
  const gt = `${dir}/peds_gt.json`;
  const viaWeights = await runCli([
    "eval",
    "--weights",
    `${out}/model.safetensors`,
    "--images",
    `pennfudan:${dir}/peds`,
    "--type",
    "segm",
    "--save-gt",
    gt,
    "--json",
  ]);
  assert.equal(viaWeights.code, 0, viaWeights.err.join("\n"));
  const det = await runCli([
    "detect",
    "--weights",
    `${out}/model.safetensors`,
    "--score",
    "0",
    "--image-ids",
    gt,
    "--out",
    `${dir}/det_peds_all`,
    `${dir}/peds/PNGImages`,
  ]);
  assert.equal(det.code, 0, det.err.join("\n"));
  const viaResults = await runCli([
    "eval",
    "--gt",
    gt,
    "--results",
    `${dir}/det_peds_all/results.json`,
    "--type",
    "segm",
    "--json",
  ]);
  assert.equal(viaResults.code, 0, viaResults.err.join("\n"));
  assert.deepEqual(lastJson(viaWeights).stats, lastJson(viaResults).stats);
});

Deno.test("voc: instance + class PNGs train with VOC's 20 names; config.json alone beside the weights is found", async () => {
  await writeVoc(`${dir}/voc`, items);
  const out = `${dir}/run_voc`;
  await train(`voc:${dir}/voc:train`, out);
  const config = await runModel(out);
  assert.equal(config.numClasses, 21);
  assert.deepEqual(config.classNames, VOC_CLASS_NAMES);
  // Weights without metadata: the config.json beside them supplies the model.
  const { tensors } = readSafetensors(await Deno.readFile(`${out}/model.safetensors`));
  await Deno.writeFile(`${out}/plain.safetensors`, writeSafetensors(tensors));
  const det = await runCli([
    "detect",
    "--weights",
    `${out}/plain.safetensors`,
    "--out",
    `${dir}/det_voc`,
    `${dir}/voc/JPEGImages`,
  ]);
  assert.equal(det.code, 0, det.err.join("\n"));
  assert.match(det.out[0], /config from .*config\.json, 21 classes/);
});

Deno.test("coco with _background_: dropped with a note; eval --weights equals detect's results.json + eval --results", async () => {
  const ann = await writeCocoWithBackground(`${dir}/coco`, items);
  const out = `${dir}/run_coco`;
  const run = await train(`coco:${ann}:${dir}/coco`, out);
  assert.ok(
    run.out.some((l) => /category 0 "_background_" is background, not a class/.test(l)),
    run.out.join("\n"),
  );
  assert.ok(
    run.out.some((l) => /^training 3 classes \(square, circle, triangle\)/.test(l)),
    run.out.join("\n"),
  );
  const config = await runModel(out);
  assert.deepEqual(config.categoryIds, [1, 2, 3]);
  const weights = `${out}/model.safetensors`;
  const det = await runCli([
    "detect",
    "--weights",
    weights,
    "--score",
    "0",
    "--image-ids",
    ann,
    "--out",
    `${dir}/det_coco`,
    `${dir}/coco/images`,
  ]);
  assert.equal(det.code, 0, det.err.join("\n"));
  for (const type of ["bbox", "segm"]) {
    const viaResults = await runCli([
      "eval",
      "--gt",
      ann,
      "--results",
      `${dir}/det_coco/results.json`,
      "--type",
      type,
      "--json",
    ]);
    const viaWeights = await runCli([
      "eval",
      "--gt",
      ann,
      "--weights",
      weights,
      "--images",
      `${dir}/coco`,
      "--type",
      type,
      "--json",
    ]);
    assert.equal(viaResults.code, 0, viaResults.err.join("\n"));
    assert.equal(viaWeights.code, 0, viaWeights.err.join("\n"));
    assert.deepEqual(lastJson(viaWeights).stats, lastJson(viaResults).stats, type);
  }
});

Deno.test("folder: train --backbone-weights loads a classification ResNet into the backbone only", async () => {
  await writeFolder(`${dir}/folder`, items);
  const config = `${dir}/c64.json`;
  await Deno.writeTextFile(config, JSON.stringify({ preset: "small", minSize: 64, maxSize: 64 }));
  // A classification checkpoint: torchvision resnet names (no backbone.body. prefix), plus fc.
  const body = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of initialStateDict(resolveConfig({ preset: "small" }), 9)) {
    if (name.startsWith("backbone.body.")) body.set(name.slice("backbone.body.".length), t);
  }
  body.set("fc.weight", { shape: [10, 2048], data: new Float32Array(20480) });
  await Deno.writeFile(`${dir}/resnet.safetensors`, writeSafetensors(body));
  const both = await runCli([
    "train",
    "--weights",
    base,
    "--backbone-weights",
    `${dir}/resnet.safetensors`,
    "--dataset",
    "shapes",
    "--out",
    `${dir}/nope`,
  ]);
  assert.equal(both.code, 2);
  assert.match(both.err[0], /--weights or --backbone-weights, not both/);
  const out = `${dir}/run_folder`;
  const run = await runCli([
    "train",
    "--backbone-weights",
    `${dir}/resnet.safetensors`,
    "--config",
    config,
    "--dataset",
    `folder:${dir}/folder`,
    "--trainable-backbone-layers",
    "5",
    "--steps",
    "1",
    "--batch",
    "1",
    "--out",
    out,
  ]);
  assert.equal(run.code, 0, run.err.join("\n"));
  assert.ok(
    run.out.some((l) => /^backbone from .*resnet\.safetensors: 85 tensors/.test(l)),
    run.out.join("\n"),
  );
  const file = await runModel(out);
  assert.equal((file as unknown as { trainableBackboneLayers: number }).trainableBackboneLayers, 5);
  assert.deepEqual(file.classNames, ["background", "class 1", "class 2", "class 3"]);
});

Deno.test("a weights/config mismatch is one line that says which options fit the weights", async () => {
  const run = await runCli([
    "detect",
    "--weights",
    base,
    "--num-classes",
    "7",
    "--out",
    `${dir}/det_bad`,
    `${dir}/peds/PNGImages`,
  ]);
  assert.equal(run.code, 1);
  const message = run.err.join("\n");
  assert.ok(run.err[0].length < 400 && !run.err[0].includes("\n"), message);
  assert.match(run.err[0], /6 of another shape; roi_heads\.box_predictor\.cls_score\.weight is \[5,128\]/);
  assert.match(run.err[0], /fit --preset small --num-classes 5/);
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
