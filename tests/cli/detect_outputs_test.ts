/**
 * `detect` never destroys inputs or earlier work, and never loses a run's results to one bad image:
 * `--out` set to the input folder leaves every input byte-identical (overlays take names inputs do not
 * have), files of an earlier run are replaced only with `--overwrite` (refused, exit 2, before any work
 * otherwise), an input named like an output is never written over, an undecodable image is skipped with
 * a warning naming it while the rest (results.json included) is written (exit 3), symbolic links in an
 * input folder are followed, and an unwritable `--out` is refused before the model is loaded.
 * Small-preset model with seeded weights on 64×48 shapes images, to keep the runs cheap.
 * @module
 */
import assert from "node:assert/strict";
import { readCocoResults } from "../../data/coco_results.ts";
import { readImageFile } from "../../data/image_codec.ts";
import { lastJson, runCli, writeShapesPngs, writeSmallWeights } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_detect_outputs_" });
const weights = await writeSmallWeights(dir);
const [shape1, shape2] = await writeShapesPngs(dir, [[64, 48], [64, 48]]);
const base = ["detect", "--weights", weights, "--preset", "small", "--score", "0.45"];

async function bytesOf(paths: string[]): Promise<Uint8Array[]> {
  return await Promise.all(paths.map((p) => Deno.readFile(p)));
}

Deno.test("--out = the input folder: inputs named like overlays stay intact; stale files need --overwrite", async () => {
  const folder = `${dir}/photos`;
  await Deno.mkdir(folder);
  // cat_det.png is an input that a naive run would overwrite with cat.png's overlay.
  await Deno.copyFile(shape1.path, `${folder}/cat.png`);
  await Deno.copyFile(shape2.path, `${folder}/cat_det.png`);
  await Deno.writeTextFile(`${folder}/results.json`, "[] // an earlier run's results");
  const inputs = [`${folder}/cat.png`, `${folder}/cat_det.png`];
  const before = await bytesOf(inputs);

  const refused = await runCli([...base, "--out", folder, folder]);
  assert.equal(refused.code, 2, refused.err.join("\n"));
  assert.match(refused.err[0], /already holds files this run would write \(.*results\.json\).*--overwrite/);
  assert.ok(!refused.out.some((l) => l.startsWith("loaded")), "refused before loading the model");
  assert.equal(await Deno.readTextFile(`${folder}/results.json`), "[] // an earlier run's results");

  const run = await runCli([...base, "--out", folder, "--overwrite", "--json", folder]);
  assert.equal(run.code, 0, run.err.join("\n"));
  assert.deepEqual(await bytesOf(inputs), before, "no input was written over");
  const summary = lastJson(run) as { images: { file: string; overlay: string }[]; files: string[] };
  assert.deepEqual(summary.images.map((i) => i.file), inputs, "only the two inputs were detected");
  assert.deepEqual(summary.images.map((i) => i.overlay), [
    `${folder}/cat_1_det.png`, // cat_det.png is an input
    `${folder}/cat_det_det.png`,
  ]);
  for (const overlay of summary.images.map((i) => i.overlay)) {
    const image = await readImageFile(overlay);
    assert.deepEqual([image.width, image.height], [64, 48]);
  }
  readCocoResults(await Deno.readTextFile(`${folder}/results.json`)); // replaced by a valid results file
});

Deno.test("an input named results.json in --out is never written over, even with --overwrite", async () => {
  const folder = `${dir}/named`;
  await Deno.mkdir(folder);
  await Deno.copyFile(shape1.path, `${folder}/results.json`); // a PNG under an unlucky name
  const before = await Deno.readFile(`${folder}/results.json`);
  const run = await runCli([...base, "--out", folder, "--overwrite", `${folder}/results.json`]);
  assert.equal(run.code, 2, run.err.join("\n"));
  assert.match(
    run.err[0],
    /results\.json there is one of the input images; detect never writes over an input/,
  );
  assert.deepEqual(await Deno.readFile(`${folder}/results.json`), before);
});

Deno.test("an undecodable image is skipped with a named warning; the rest and results.json are written (exit 3)", async () => {
  const folder = `${dir}/mixed`;
  await Deno.mkdir(folder);
  await Deno.copyFile(shape1.path, `${folder}/a.png`);
  await Deno.writeTextFile(`${folder}/b.png`, "not a PNG at all");
  const out = `${dir}/mixed_out`;
  const run = await runCli([...base, "--out", out, "--json", folder]);
  assert.equal(run.code, 3, run.err.join("\n"));
  assert.match(
    run.err.join("\n"),
    /warning: \[2\/2\] skipped .*mixed\/b\.png: .*b\.png: not a JPEG or PNG file/,
  );
  const summary = lastJson(run) as {
    images: { file: string }[];
    skipped: { file: string; error: string }[];
    files: string[];
  };
  assert.deepEqual(summary.images.map((i) => i.file), [`${folder}/a.png`]);
  assert.deepEqual(summary.skipped.map((s) => s.file), [`${folder}/b.png`]);
  assert.deepEqual(summary.files, [`${out}/a_det.png`, `${out}/results.json`]);
  const results = readCocoResults(await Deno.readTextFile(`${out}/results.json`));
  assert.ok(results.every((r) => r.image_id === 0), "results of the decoded image");
  assert.ok(run.out.some((l) => /detections in 1 images \(1 skipped: undecodable\)/.test(l)));
});

Deno.test("symbolic links to images in an input folder are followed", async () => {
  const folder = `${dir}/links`;
  await Deno.mkdir(folder);
  await Deno.symlink(shape2.path, `${folder}/linked.png`);
  const run = await runCli([...base, "--out", `${dir}/links_out`, "--json", folder]);
  assert.equal(run.code, 0, run.err.join("\n"));
  const summary = lastJson(run) as { images: { file: string; width: number }[] };
  assert.deepEqual(summary.images.map((i) => [i.file, i.width]), [[`${folder}/linked.png`, 64]]);
});

Deno.test("an --out that cannot be created is refused before the model is loaded (exit 2)", async () => {
  const file = `${dir}/plain.txt`;
  await Deno.writeTextFile(file, "a file, not a folder");
  const run = await runCli([...base, "--out", `${file}/out`, shape1.path]);
  assert.equal(run.code, 2, run.err.join("\n"));
  assert.match(run.err[0], /--out: cannot create the folder .*plain\.txt\/out/);
  assert.ok(!run.out.some((l) => l.startsWith("loaded")));
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
