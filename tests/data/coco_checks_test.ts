/**
 * Hostile or broken COCO files are refused naming the file and the annotation or image at fault: no
 * categories, polygon coordinates of 1e9 (refused before any allocation), RLE counts that do not cover
 * the image (in training data, and in evaluation also when the mask's box overlaps nothing), file_names
 * that leave the image folder (absolute or `..`), while a file_name with a subfolder keeps working. A
 * truncated JSON file is reported with its name.
 * @module
 */
import assert from "node:assert/strict";
import { loadCocoDataset } from "../../data/coco_dataset.ts";
import { evaluateCoco } from "../../data/coco_eval.ts";
import { DataError } from "../../data/errors.ts";
import { parseJsonText, readJsonFile } from "../../data/json_file.ts";
import { polygonsToRle } from "../../data/polygon.ts";
import { writeTinyCoco } from "./tiny_coco.ts";

/** The tiny COCO set with `edit` applied to its instances.json. */
async function tinyCoco(edit: (json: Record<string, unknown[]>) => void): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "coco_checks_" });
  await writeTinyCoco(dir);
  const json = JSON.parse(await Deno.readTextFile(`${dir}/instances.json`));
  edit(json);
  await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(json));
  return dir;
}

Deno.test("a COCO file without categories is refused naming the file, not loaded with 0 classes", async () => {
  const dir = await tinyCoco((json) => {
    json.categories = [];
    json.annotations = [];
  });
  await assert.rejects(
    () => loadCocoDataset(`${dir}/instances.json`, dir, { onError: "skip" }),
    (e) =>
      e instanceof DataError && e.reason === "invalid-annotation-file" &&
      e.file === `${dir}/instances.json` &&
      /has no categories/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a polygon with 1e9 coordinates is refused naming the annotation, before rasterising", async () => {
  const dir = await tinyCoco((json) => {
    json.annotations.push({
      id: 77,
      image_id: 1,
      category_id: 1,
      bbox: [1, 1, 3, 3],
      segmentation: [[1, 1, 1e9, 1, 1e9, 1e9]],
    });
  });
  const before = Deno.memoryUsage().rss;
  await assert.rejects(
    () => loadCocoDataset(`${dir}/instances.json`, dir),
    (e) =>
      e instanceof DataError && e.reason === "bad-polygon" && e.annotationId === 77 &&
      /annotation 77: polygon 0 has coordinate 1000000000, beyond ±1024/.test(e.message),
  );
  const ds = await loadCocoDataset(`${dir}/instances.json`, dir, { onError: "skip" });
  assert.deepEqual(ds.issues.map((i) => i.annotationId), [77]);
  assert.ok(Deno.memoryUsage().rss - before < 200e6, "nothing large was allocated");
  // The rasteriser itself refuses such a polygon too (e.g. ground truth in evaluateCoco), naming it.
  assert.throws(() => polygonsToRle([[1, 1, 1e9, 1, 1e9, 1e9]], 8, 10), /polygons\[0\]\[2\] = 1000000000/);
  const gt = {
    images: [{ id: 1, width: 10, height: 8 }],
    categories: [{ id: 1 }],
    annotations: [{
      id: 5,
      image_id: 1,
      category_id: 1,
      bbox: [1, 1, 3, 3],
      area: 9,
      iscrowd: 0,
      segmentation: [[1, 1, 1e9, 1, 1e9, 1e9]],
    }],
  };
  assert.throws(
    () =>
      evaluateCoco(gt, [{ image_id: 1, category_id: 1, bbox: [1, 1, 2, 2], score: 0.9 }], {
        iouType: "segm",
      }),
    /annotations\[0\] \(id 5\)\.segmentation\[0\]\[2\] = 1000000000 lies beyond ±1024/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an RLE whose counts do not cover the image is refused naming the annotation", async () => {
  const dir = await tinyCoco((json) => {
    json.annotations.push({
      id: 78,
      image_id: 1,
      category_id: 1,
      bbox: [1, 1, 3, 3],
      segmentation: { size: [8, 10], counts: [10, 5, 20] }, // 35 of 80 pixels
    });
  });
  await assert.rejects(
    () => loadCocoDataset(`${dir}/instances.json`, dir),
    (e) =>
      e instanceof DataError && e.reason === "bad-segmentation" && e.annotationId === 78 &&
      /RLE counts cover 35 pixels, but its size 8×10 has 80/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("evaluateCoco: a bad RLE is an error naming it even when its box overlaps no ground truth", () => {
  const gt = {
    images: [{ id: 1, width: 10, height: 10 }],
    categories: [{ id: 1 }],
    annotations: [{
      id: 5,
      image_id: 1,
      category_id: 1,
      bbox: [0, 0, 2, 2],
      area: 4,
      iscrowd: 0,
      segmentation: { size: [10, 10], counts: [0, 2, 8, 2, 88] },
    }],
  };
  // Column 8, far from the ground truth's box; its counts cover 95 of 100 pixels.
  const bad = { size: [10, 10], counts: [80, 10, 5] } as { size: [number, number]; counts: number[] };
  const results = [
    { image_id: 1, category_id: 1, segmentation: { size: [10, 10], counts: [0, 2, 8, 2, 88] }, score: 0.9 },
    { image_id: 1, category_id: 1, segmentation: bad, score: 0.8 },
  ];
  assert.throws(
    () => evaluateCoco(gt as never, results as never, { iouType: "segm" }),
    /results\[1\]\.segmentation: RLE counts cover 95 pixels but its size 10×10 has 100/,
  );
  const badGt = {
    ...gt,
    annotations: [{ ...gt.annotations[0], segmentation: { size: [10, 10], counts: [5, 5] } }],
  };
  assert.throws(
    () => evaluateCoco(badGt as never, [results[0]] as never, { iouType: "segm" }),
    /annotations\[0\] \(id 5\)\.segmentation: RLE counts cover 10 pixels but its size 10×10 has 100/,
  );
});

Deno.test("file_names that leave the image folder are refused; a subfolder file_name works", async () => {
  const root = await Deno.makeTempDir({ prefix: "coco_paths_" });
  const dir = `${root}/images`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await writeTinyCoco(dir);
  await Deno.rename(`${dir}/c.png`, `${dir}/sub/c.png`);
  await Deno.copyFile(`${dir}/a.png`, `${root}/outside.png`); // a readable file outside the folder
  const json = JSON.parse(await Deno.readTextFile(`${dir}/instances.json`));
  json.images.find((i: { id: number }) => i.id === 3).file_name = "sub/c.png";
  json.images.find((i: { id: number }) => i.id === 1).file_name = "../outside.png";
  json.images.find((i: { id: number }) => i.id === 2).file_name = `${dir}/b.png`;
  await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(json));
  const ds = await loadCocoDataset(`${dir}/instances.json`, dir);
  assert.deepEqual(ds.imageIds, [1, 2, 3]);
  for (const [index, name] of [[0, "../outside.png"], [1, `${dir}/b.png`]] as const) {
    await assert.rejects(
      () => ds.get(index),
      (e) =>
        e instanceof DataError && e.reason === "unsafe-path" && e.imageId === index + 1 &&
        e.message.includes(`file_name ${JSON.stringify(name)} leaves the image folder`),
    );
  }
  const inSub = await ds.get(2);
  assert.equal(inSub.file, `${dir}/sub/c.png`);
  assert.deepEqual([inSub.image.width, inSub.image.height], [5, 5]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a truncated JSON file is a DataError naming the file (one reader for every JSON file)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "json_file_" });
  await Deno.writeTextFile(`${dir}/run.json`, '{"version": 1, "dataset": "sha');
  await assert.rejects(
    () => readJsonFile(`${dir}/run.json`),
    (e) =>
      e instanceof DataError && e.reason === "malformed-json" && e.file === `${dir}/run.json` &&
      e.message.startsWith(`${dir}/run.json: not valid JSON (`) && e.cause instanceof SyntaxError,
  );
  await assert.rejects(
    () => readJsonFile(`${dir}/absent.json`),
    (e) => e instanceof DataError && e.reason === "missing-file" && e.file === `${dir}/absent.json`,
  );
  assert.deepEqual(parseJsonText('{"a": [1]}', "x.json"), { a: [1] });
  await Deno.remove(dir, { recursive: true });
});
