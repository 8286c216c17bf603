/**
 * `eval` end to end, in-process. On the pycocotools fixtures (tests/fixtures/coco/): the `--json` stats
 * equal pycocotools' to 1e-4, the printed summary equals pycocotools' text, `--per-category` matches its
 * per-category numbers. With `--weights` and `--images`: a two-image COCO set of shapes with
 * non-contiguous category ids, evaluated through the CLI, gives what evaluateCoco gives for the library's
 * own detections mapped through the contiguous label ↔ category mapping. Bad arguments: documented
 * messages and exit codes.
 * @module
 */
import assert from "node:assert/strict";
import { type CocoGroundTruth, evaluateCoco } from "../../data/coco_eval.ts";
import { COCO_STAT_NAMES } from "../../data/coco_eval_summary.ts";
import { readCocoResults, toCocoResults } from "../../data/coco_results.ts";
import { readImageFile } from "../../data/image_codec.ts";
import { rleEncode } from "../../data/rle.ts";
import { detectImages } from "../../model/detect.ts";
import { buildModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import { lastJson, runCli, writeShapesPngs, writeSmallWeights } from "./_cli.ts";

const FIXTURES = new URL("../fixtures/coco/", import.meta.url).pathname;
const GT = `${FIXTURES}eval_gt.json`;
const RESULTS = `${FIXTURES}eval_results.json`;
interface Expected {
  stats: number[];
  per_category: { category_id: number; stats: number[] }[];
  summary: string;
}
const expected: Record<string, Expected> = JSON.parse(
  await Deno.readTextFile(`${FIXTURES}eval_expected.json`),
);

for (const type of ["bbox", "segm"] as const) {
  Deno.test(`eval --type ${type} prints pycocotools' summary; --json stats match it to 1e-4`, async () => {
    const run = await runCli(["eval", "--gt", GT, "--results", RESULTS, "--type", type, "--json"]);
    assert.equal(run.code, 0, run.err.join("\n"));
    const summary = expected[type].summary.trimEnd().split("\n");
    const start = run.out.indexOf(summary[0]);
    assert.ok(start >= 0, `summary not printed:\n${run.out.join("\n")}`);
    assert.deepEqual(run.out.slice(start, start + 12), summary);
    const line = lastJson(run) as { iouType: string; stats: number[]; perCategory?: unknown };
    assert.equal(line.iouType, type);
    assert.equal(line.stats.length, 12);
    line.stats.forEach((v, i) => assert.ok(Math.abs(v - expected[type].stats[i]) <= 1e-4, `stat ${i}: ${v}`));
    assert.equal(line.perCategory, undefined);
  });
}

Deno.test("eval --per-category prints a table and adds pycocotools' per-category numbers to --json", async () => {
  const run = await runCli(["eval", "-g", GT, "-r", RESULTS, "-t", "segm", "--per-category", "--json"]);
  assert.equal(run.code, 0, run.err.join("\n"));
  const exp = expected.segm.per_category;
  const perCategory = lastJson(run).perCategory as Record<string, number>[];
  assert.deepEqual(perCategory.map((c) => c.categoryId), exp.map((c) => c.category_id));
  perCategory.forEach((c, k) => {
    COCO_STAT_NAMES.forEach((name, i) => assert.ok(Math.abs(c[name] - exp[k].stats[i]) <= 1e-4, name));
  });
  assert.ok(run.out.some((l) => l.startsWith(`${exp[0].category_id} `)), "a table row per category");
});

Deno.test("eval --weights --images detects on the ground truth's images and evaluates with its ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_eval_" });
  try {
    const weights = await writeSmallWeights(dir);
    const images = await writeShapesPngs(dir, [[96, 88], [104, 80]]);
    const categories = [{ id: 10, name: "square" }, { id: 20, name: "circle" }, { id: 30, name: "triangle" }];
    const imageIds = [5, 8];
    let annId = 1;
    const gt: CocoGroundTruth = {
      images: images.map(({ item }, i) => ({
        id: imageIds[i],
        file_name: `shapes_${i + 1}.png`,
        width: item.image.width,
        height: item.image.height,
      })),
      categories,
      annotations: images.flatMap(({ item }, i) => {
        const { width: w, height: h } = item.image;
        return Array.from(item.target.labels, (label, k) => {
          const [x1, y1, x2, y2] = item.target.boxes.subarray(4 * k, 4 * k + 4);
          const mask = item.target.masks!.subarray(k * w * h, (k + 1) * w * h);
          return {
            id: annId++,
            image_id: imageIds[i],
            category_id: categories[label - 1].id,
            bbox: [x1, y1, x2 - x1, y2 - y1],
            area: mask.reduce((s, v) => s + v, 0),
            iscrowd: 0,
            segmentation: rleEncode(mask, h, w),
          };
        });
      }),
    };
    const gtPath = `${dir}/instances.json`;
    await Deno.writeTextFile(gtPath, JSON.stringify(gt));
    const saved = `${dir}/det.json`;
    const args = ["eval", "--gt", gtPath, "--images", dir, "--weights", weights, "--preset", "small"];
    const run = await runCli([...args, "--type", "segm", "--save-results", saved, "--json"]);
    assert.equal(run.code, 0, run.err.join("\n"));

    const model = await buildModel({ preset: "small" });
    await loadWeights(model, weights);
    const detections = await Promise.all(images.map(async ({ path }) => {
      return (await detectImages(model, [await readImageFile(path)]))[0];
    }));
    const ours = detections.flatMap((d, i) => toCocoResults(imageIds[i], d, [-1, 10, 20, 30]));
    const savedResults = readCocoResults(await Deno.readTextFile(saved));
    assert.equal(savedResults.length, ours.length);
    assert.ok(
      savedResults.every((r) => [10, 20, 30].includes(r.category_id) && imageIds.includes(r.image_id)),
    );
    const want = evaluateCoco(gt, ours, { iouType: "segm" }).stats;
    const got = lastJson(run).stats as number[];
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-4, `stat ${i}: ${v} vs ${want[i]}`));

    // A 91-class model (torchvision's COCO layout): labels are category ids.
    const weights91 = await writeSmallWeights(dir, 91, 20);
    const coco = await runCli([
      ...args.map((a) => (a === weights ? weights91 : a)),
      "--num-classes",
      "91",
      "--save-results",
      saved,
    ]);
    assert.equal(coco.code, 0, coco.err.join("\n"));
    const cocoResults = readCocoResults(await Deno.readTextFile(saved));
    assert.ok(cocoResults.length > 0 && cocoResults.every((r) => r.category_id === 20));

    // A class count that fits neither mapping is refused before any weights are read.
    const bad = await runCli([...args, "--num-classes", "7"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err[0], /cannot map the model's 7 classes to the ground truth's 3 categories/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval: bad arguments name the argument or file; usage errors exit 2, failures 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_eval_bad_" });
  try {
    const notJson = `${dir}/gt.json`;
    await Deno.writeTextFile(notJson, "{ not json");
    const badResults = `${dir}/results.json`;
    await Deno.writeTextFile(badResults, JSON.stringify([{ image_id: 1, category_id: 1, score: 0.5 }]));
    const cases: [string[], number, RegExp][] = [
      [["--results", RESULTS], 2, /--gt FILE .* is required/],
      [["--gt", GT], 2, /either --results FILE or --weights FILE/],
      [["--gt", GT, "--results", RESULTS, "--weights", RESULTS], 2, /either --results/],
      [["--gt", GT, "--results", RESULTS, "--type", "keypoints"], 2, /--type must be bbox or segm/],
      [["--gt", `${dir}/none.json`, "--results", RESULTS], 2, /--gt: no such file: .*none\.json/],
      [["--gt", GT, "--results", `${dir}/none.json`], 2, /--results: no such file/],
      [["--gt", GT, "--weights", RESULTS], 2, /--weights needs --images DIR/],
      [["--gt", GT, "--results", RESULTS, "extra"], 2, /unexpected argument "extra"/],
      [["--gt", notJson, "--results", RESULTS], 1, /--gt .*gt\.json: not valid JSON/],
      [["--gt", GT, "--results", badResults], 1, /--results .*results\.json: .*results\[0\] has neither/],
    ];
    for (const [args, code, message] of cases) {
      const run = await runCli(["eval", ...args]);
      assert.equal(run.code, code, `${args.join(" ")}: exit ${run.code}, ${run.err.join(" | ")}`);
      assert.match(run.err[0], message, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
