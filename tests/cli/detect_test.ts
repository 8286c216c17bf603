/**
 * `detect` end to end, in-process: a small-preset model with seeded weights on two generated shapes PNGs.
 * The written overlays decode to the input sizes, results.json equals what the library's own `detectImages`
 * + `toCocoResults` give for the same images, the `--json` line describes the run, the config file's
 * classNames / categoryIds and `--image-ids` are applied, and bad arguments fail with the documented
 * messages and exit codes (3: an undecodable image was skipped). One test spawns `deno run cli.ts --help` (needs --allow-run; skipped without).
 * @module
 */
import assert from "node:assert/strict";
import { readCocoResults, toCocoResults } from "../../data/coco_results.ts";
import { readImageFile } from "../../data/image_codec.ts";
import { detectImages } from "../../model/detect.ts";
import { buildModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import { lastJson, runCli, writeShapesPngs, writeSmallWeights } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "cli_detect_" });
const weights = await writeSmallWeights(dir);
const images = await writeShapesPngs(dir, [[104, 80], [112, 80]]);
const SCORE = 0.45; // the seeded model scores ~0.37–0.66: keeps some detections, drops others

Deno.test("detect writes overlays and results.json equal to detectImages, and a --json summary", async () => {
  const out = `${dir}/out`;
  const run = await runCli([
    "detect",
    "--weights",
    weights,
    "--preset",
    "small",
    "--score",
    String(SCORE),
    "--out",
    out,
    "--json",
    ...images.map((i) => i.path),
  ]);
  assert.equal(run.code, 0, run.err.join("\n"));

  // The library's own answer for the same decoded files.
  const model = await buildModel({ preset: "small" });
  await loadWeights(model, weights);
  const decoded = await Promise.all(images.map((i) => readImageFile(i.path)));
  // One image per forward, as the CLI runs by default (a padded batch of different sizes differs slightly).
  const expected = await Promise.all(
    decoded.map(async (image) => (await detectImages(model, [image], { scoreThreshold: SCORE }))[0]),
  );
  const expectedEntries = expected.flatMap((d, i) => toCocoResults(i, d, (label) => label));
  assert.ok(expectedEntries.length > 0, "the seeded model should detect something");
  assert.ok(expected.some((d) => d.count < 100), "the score threshold should drop some detections");

  const results = readCocoResults(await Deno.readTextFile(`${out}/results.json`));
  assert.equal(results.length, expectedEntries.length);
  results.forEach((r, k) => {
    const e = expectedEntries[k];
    assert.equal(r.image_id, e.image_id);
    assert.equal(r.category_id, e.category_id);
    assert.ok(Math.abs(r.score - e.score) <= 1e-6, `score of result ${k}`);
    r.bbox!.forEach((v, j) => assert.ok(Math.abs(v - e.bbox[j]) <= 1e-3, `bbox of result ${k}`));
    assert.deepEqual(r.segmentation, e.segmentation, `mask of result ${k}`);
  });

  const summary = lastJson(run) as {
    images: { file: string; imageId: number; count: number; ms: number; overlay: string }[];
    results: string;
    files: string[];
  };
  assert.equal(summary.results, `${out}/results.json`);
  assert.deepEqual(summary.images.map((i) => i.count), expected.map((d) => d.count));
  assert.deepEqual(summary.images.map((i) => i.imageId), [0, 1]);
  assert.ok(summary.images.every((i) => i.ms > 0));
  assert.deepEqual(summary.files, [...summary.images.map((i) => i.overlay), summary.results]);
  for (const [i, image] of images.entries()) {
    assert.equal(summary.images[i].overlay, `${out}/shapes_${i + 1}_det.png`);
    const overlay = await readImageFile(summary.images[i].overlay);
    assert.deepEqual([overlay.width, overlay.height], [image.item.image.width, image.item.image.height]);
    assert.notDeepEqual(overlay.data, decoded[i].data, "the overlay differs from the input");
    const line = run.out.find((l) => l.startsWith(`[${i + 1}/2] ${image.path}`));
    assert.ok(line?.includes(`${expected[i].count} detections`), line);
  }
});

Deno.test("detect applies classNames, categoryIds and --image-ids, and batches same-size images", async () => {
  const config = `${dir}/config.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      preset: "small",
      classNames: ["background", "square", "circle", "triangle"],
      categoryIds: [11, 22, 33],
    }),
  );
  const ids = `${dir}/ids.json`;
  await Deno.writeTextFile(ids, JSON.stringify({ "shapes_1.png": 70, "shapes_2.png": 90 }));
  const same = await writeShapesPngs(`${dir}`, [[96, 96], [96, 96]], 5);
  const args = ["detect", "--weights", weights, "--config", config, "--score", String(SCORE), "--json"];
  const single = await runCli([...args, "--out", `${dir}/single`, ...images.map((i) => i.path)]);
  assert.equal(single.code, 0, single.err.join("\n"));
  const results = readCocoResults(await Deno.readTextFile(`${dir}/single/results.json`));
  assert.deepEqual(new Set(results.map((r) => r.image_id)), new Set([0, 1]));
  assert.ok(results.every((r) => [11, 22, 33].includes(r.category_id)), "category ids from the config");
  assert.ok(
    single.out.some((l) => /\((\d+ (square|circle|triangle)(, )?)+\)/.test(l)),
    "class names printed",
  );

  const mapped = await runCli([
    ...args,
    "--image-ids",
    ids,
    "--out",
    `${dir}/mapped`,
    ...images.map((i) => i.path),
  ]);
  assert.equal(mapped.code, 0, mapped.err.join("\n"));
  const mappedResults = readCocoResults(await Deno.readTextFile(`${dir}/mapped/results.json`));
  assert.deepEqual(mappedResults.map((r) => r.image_id), results.map((r) => (r.image_id === 0 ? 70 : 90)));

  const paths = same.map((i) => i.path);
  const batched = await runCli([...args, "--batch", "2", "--out", `${dir}/batched`, ...paths]);
  const unbatched = await runCli([...args, "--out", `${dir}/unbatched`, ...paths]);
  assert.equal(batched.code, 0, batched.err.join("\n"));
  assert.equal(unbatched.code, 0, unbatched.err.join("\n"));
  const a = readCocoResults(await Deno.readTextFile(`${dir}/batched/results.json`));
  const b = readCocoResults(await Deno.readTextFile(`${dir}/unbatched/results.json`));
  assert.equal(a.length, b.length);
  a.forEach((r, k) => r.bbox!.forEach((v, j) => assert.ok(Math.abs(v - b[k].bbox![j]) <= 1e-2)));
});

Deno.test("detect labels a 91-class model with COCO names and uses labels as category ids", async () => {
  const weights91 = await writeSmallWeights(dir, 91, 10); // favours label 10, "traffic light"
  const run = await runCli([
    "detect",
    "--weights",
    weights91,
    "--preset",
    "small",
    "--num-classes",
    "91",
    "--out",
    `${dir}/coco`,
    images[0].path,
  ]);
  assert.equal(run.code, 0, run.err.join("\n"));
  assert.match(run.out.find((l) => l.startsWith("[1/1]"))!, /\d+ traffic light/);
  const results = readCocoResults(await Deno.readTextFile(`${dir}/coco/results.json`));
  assert.ok(results.length > 0 && results.every((r) => r.category_id === 10));
});

Deno.test("detect: bad arguments name the argument or file; usage errors exit 2, failures 1", async () => {
  const img = images[0].path;
  const notPng = `${dir}/broken.png`;
  await Deno.writeTextFile(notPng, "this is not a PNG");
  const badNames = `${dir}/bad_names.json`;
  await Deno.writeTextFile(badNames, JSON.stringify({ preset: "small", classNames: ["a", "b"] }));
  const cases: [string[], number, RegExp][] = [
    [[img], 2, /--weights FILE is required/],
    [["--weights", `${dir}/missing.pth`, img], 2, /--weights: no such file: .*missing\.pth/],
    [["--weights", weights, "--preset", "tiny", img], 2, /--preset: unknown preset "tiny"; one of .*small/],
    [["--weights", weights, "--preset", "small"], 2, /no images given/],
    [
      ["--weights", weights, "--preset", "small", `${dir}/nope.png`],
      2,
      /image argument 1: no such file: .*nope/,
    ],
    [
      ["--weights", weights, "--preset", "small", "--score", "2", img],
      2,
      /--score must be a number in \[0, 1\]/,
    ],
    [["--weights", weights, "--preset", "small", "--frobnicate", img], 2, /frobnicate/],
    [["--weights", weights, "--config", `${dir}/none.json`, img], 2, /--config: no such file/],
    [["--weights", weights, "--config", badNames, img], 2, /"classNames" has 2 names but .* numClasses = 4/],
    [["--weights", weights, "--num-classes", "1", img], 2, /--num-classes must be an integer ≥ 2/],
    [["--weights", weights, "--preset", "small", "--out", `${dir}/o`, notPng], 3, /skipped .*broken\.png/],
    [["--weights", img, "--preset", "small", "--out", `${dir}/o2`, img], 1, /shapes_1\.png/],
  ];
  for (const [args, code, message] of cases) {
    const run = await runCli(["detect", ...args]);
    assert.equal(run.code, code, `${args.join(" ")}: exit ${run.code}, ${run.err.join(" | ")}`);
    assert.match(run.err[0], message, args.join(" "));
    if (code === 2) assert.match(run.err[1], /maskrcnn detect --help/);
  }
  const help = await runCli(["detect", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out[0], /^Usage: deno task detect --weights FILE/);
  assert.equal((await runCli(["nope"])).code, 2);
});

const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";
Deno.test({
  name: "deno run cli.ts --help lists the commands and exits 0; a usage error exits 2 (spawned)",
  ignore: !canRun,
  async fn() {
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), { args: ["run", cli, ...args] }).output();
    const help = await run(["--help"]);
    const text = new TextDecoder().decode(help.stdout);
    assert.equal(help.code, 0, new TextDecoder().decode(help.stderr));
    assert.match(text, /detect .*\n.*eval /);
    const usage = await run(["detect"]); // no permissions needed to report a usage error
    assert.equal(usage.code, 2);
    assert.match(new TextDecoder().decode(usage.stderr), /--weights FILE is required/);
  },
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
