/**
 * Checks the commands make with their arguments, before any work, and the warnings they give: `--batch`
 * over the 14-image limit is a usage error in detect, eval and train (and the help states the limit);
 * `eval --save-results` into a folder that cannot be created is refused before the model is loaded;
 * `eval` warns when no result's category is in the ground truth, and refuses a ground truth without
 * categories; a truncated run.json on `train --resume` names the file. All cheap: no model runs.
 * @module
 */
import assert from "node:assert/strict";
import { runCli, writeShapesPngs, writeSmallWeights } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_robust_args_" });
const weights = await writeSmallWeights(dir);
const [image] = await writeShapesPngs(dir, [[64, 48]]);
const gt = {
  images: [{ id: 1, file_name: "shapes_1.png", width: 64, height: 48 }],
  categories: [{ id: 1, name: "square" }, { id: 2, name: "circle" }],
  annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [4, 4, 20, 20], area: 400, iscrowd: 0 }],
};
const gtPath = `${dir}/gt.json`;
await Deno.writeTextFile(gtPath, JSON.stringify(gt));

Deno.test("--batch 15 is refused at argument parsing in detect, eval and train; the help states 1 to 14", async () => {
  const cases: string[][] = [
    ["detect", "--weights", weights, "--preset", "small", "--batch", "15", "--out", `${dir}/o`, image.path],
    ["eval", "--gt", gtPath, "--weights", weights, "--preset", "small", "--images", dir, "--batch", "15"],
    ["train", "--dataset", "shapes", "--batch", "15", "--steps", "1", "--out", `${dir}/run`],
  ];
  for (const args of cases) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args[0]}: ${run.err.join(" | ")}`);
    assert.match(run.err[0], /--batch must be an integer in \[1, 14\], got "15"/, args[0]);
    const help = await runCli([args[0], "--help"]);
    assert.match(help.out.join("\n"), /--batch (N|B) +images per (forward pass|step), 1 to 14/, args[0]);
  }
});

Deno.test("eval --save-results into a folder that cannot be created is refused before detection", async () => {
  const file = `${dir}/plain.txt`;
  await Deno.writeTextFile(file, "a file, not a folder");
  const run = await runCli([
    "eval",
    "--gt",
    gtPath,
    "--weights",
    weights,
    "--preset",
    "small",
    "--images",
    dir,
    "--save-results",
    `${file}/sub/results.json`,
  ]);
  assert.equal(run.code, 2, run.err.join("\n"));
  assert.match(run.err[0], /--save-results: cannot create the folder .*plain\.txt\/sub/);
  assert.ok(!run.out.some((l) => l.startsWith("loaded") || l.startsWith("detected")), run.out.join("\n"));
});

Deno.test("eval warns when no result's category is in the ground truth", async () => {
  const results = `${dir}/results_unknown.json`;
  await Deno.writeTextFile(
    results,
    JSON.stringify([
      { image_id: 1, category_id: 17, bbox: [4, 4, 20, 20], score: 0.9 },
      { image_id: 1, category_id: 18, bbox: [4, 4, 20, 20], score: 0.8 },
    ]),
  );
  const run = await runCli(["eval", "--gt", gtPath, "--results", results]);
  assert.equal(run.code, 0, run.err.join("\n"));
  assert.match(
    run.err.join("\n"),
    /warning: none of the 2 results has a category of the ground truth \(result category ids 17, 18; ground truth 1, 2\); every AP will be 0/,
  );
  const matching = `${dir}/results_ok.json`;
  await Deno.writeTextFile(
    matching,
    JSON.stringify([{ image_id: 1, category_id: 1, bbox: [4, 4, 20, 20], score: 0.9 }]),
  );
  const quiet = await runCli(["eval", "--gt", gtPath, "--results", matching]);
  assert.deepEqual(quiet.err, [], "no warning when the categories match");
});

Deno.test("eval refuses a ground truth without categories, naming the file", async () => {
  const empty = `${dir}/gt_empty.json`;
  await Deno.writeTextFile(empty, JSON.stringify({ ...gt, categories: [], annotations: [] }));
  const results = `${dir}/results_one.json`;
  await Deno.writeTextFile(
    results,
    JSON.stringify([{ image_id: 1, category_id: 1, bbox: [4, 4, 20, 20], score: 0.9 }]),
  );
  const run = await runCli(["eval", "--gt", empty, "--results", results]);
  assert.equal(run.code, 1, run.err.join("\n"));
  assert.match(run.err[0], /--gt .*gt_empty\.json: "categories" is empty/);
});

Deno.test("train --resume with a truncated run.json names the file (not a bare SyntaxError)", async () => {
  const run = `${dir}/cut`;
  await Deno.mkdir(run);
  await Deno.writeTextFile(`${run}/run.json`, '{"version": 1, "dataset": "shap');
  await Deno.writeFile(`${run}/checkpoint.safetensors`, new Uint8Array(8));
  const result = await runCli(["train", "--resume", "--out", run]);
  assert.equal(result.code, 2, result.err.join("\n"));
  assert.match(result.err[0], /--resume: .*cut\/run\.json: not valid JSON \(/);
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
