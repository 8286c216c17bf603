// Every kind of bad input is reported as a DataError naming the file and record/annotation, and the loader
// either skips (and counts) or stops, as chosen. Bad files are written into temp dirs.
import assert from "node:assert/strict";
import { loadCocoDataset } from "../../data/coco_dataset.ts";
import { DataError, type DataErrorReason } from "../../data/errors.ts";
import { DataLoader } from "../../data/loader.ts";
import { loadTfodDataset } from "../../data/tfod_dataset.ts";
import { writeTinyCoco } from "./tiny_coco.ts";

const FIXTURES = new URL("../fixtures/data/", import.meta.url).pathname;

/** Tiny COCO set plus image 4 (missing file) and image 5 (corrupt JPEG), each with one object. */
async function cocoWithBadImages(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await writeTinyCoco(dir);
  const jpeg = await Deno.readFile(`${FIXTURES}codec_rgb.jpg`);
  await Deno.writeFile(`${dir}/e.jpg`, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  const json = JSON.parse(await Deno.readTextFile(`${dir}/instances.json`));
  json.images.push({ id: 4, file_name: "d.png", width: 24, height: 16 });
  json.images.push({ id: 5, file_name: "e.jpg", width: 24, height: 16 });
  json.annotations.push({
    id: 40,
    image_id: 4,
    category_id: 1,
    bbox: [1, 1, 3, 3],
    segmentation: [[1, 1, 4, 1, 4, 4]],
  });
  json.annotations.push({
    id: 50,
    image_id: 5,
    category_id: 1,
    bbox: [1, 1, 3, 3],
    segmentation: [[1, 1, 4, 1, 4, 4]],
  });
  await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(json));
  return dir;
}

Deno.test("missing image file and corrupt JPEG: skipped and counted, or thrown with file and image id", async () => {
  const dir = await cocoWithBadImages();
  const ds = await loadCocoDataset(`${dir}/instances.json`, dir);
  await assert.rejects(
    () => ds.get(3),
    (e) => e instanceof DataError && e.reason === "missing-file" && e.file === `${dir}/d.png`,
  );
  await assert.rejects(
    () => ds.get(4),
    (e) => e instanceof DataError && e.reason === "corrupt-image" && e.file === `${dir}/e.jpg`,
  );
  const loader = new DataLoader(ds, { batchSize: 2, shuffle: false, onError: "skip" });
  const seen: number[] = [];
  for await (const b of loader.epoch(0)) seen.push(...b.indices);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.deepEqual(loader.stats().skipped.reasons, { "missing-file": 1, "corrupt-image": 1 });
  const strict = new DataLoader(ds, { batchSize: 2, shuffle: false, onError: "throw" });
  await assert.rejects(async () => {
    for await (const _ of strict.epoch(0)) { /* consume */ }
  }, (e) => e instanceof DataError && e.file === `${dir}/d.png`);
});

Deno.test("malformed JSON is reported with the annotation file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/instances.json`, '{"images": [ {"id": 1,');
  await assert.rejects(
    () => loadCocoDataset(`${dir}/instances.json`, dir, { onError: "skip" }),
    (e) => e instanceof DataError && e.reason === "malformed-json" && e.file === `${dir}/instances.json`,
  );
  await Deno.writeTextFile(`${dir}/other.json`, '{"annotations": []}');
  await assert.rejects(
    () => loadCocoDataset(`${dir}/other.json`, dir),
    (e) => e instanceof DataError && e.reason === "invalid-annotation-file",
  );
  await assert.rejects(
    () => loadCocoDataset(`${dir}/absent.json`, dir),
    (e) => e instanceof DataError && e.reason === "missing-file",
  );
});

const BAD_ANNOTATIONS: [string, Record<string, unknown>, DataErrorReason][] = [
  [
    "unknown image",
    { image_id: 99, category_id: 1, bbox: [1, 1, 2, 2], segmentation: [[1, 1, 3, 1, 3, 3]] },
    "unknown-image",
  ],
  ["unknown category", {
    image_id: 1,
    category_id: 42,
    bbox: [1, 1, 2, 2],
    segmentation: [[1, 1, 3, 1, 3, 3]],
  }, "unknown-category"],
  [
    "polygon with 2 points",
    { image_id: 1, category_id: 1, bbox: [1, 1, 2, 2], segmentation: [[1, 1, 3, 3]] },
    "bad-polygon",
  ],
  [
    "zero-area box",
    { image_id: 1, category_id: 1, bbox: [2, 2, 0, 4], segmentation: [[1, 1, 3, 1, 3, 3]] },
    "zero-area-box",
  ],
  ["box outside the image", {
    image_id: 1,
    category_id: 1,
    bbox: [50, 50, 4, 4],
    segmentation: [[1, 1, 3, 1, 3, 3]],
  }, "zero-area-box"],
];

for (const [what, fields, reason] of BAD_ANNOTATIONS) {
  Deno.test(`${what}: thrown with file and annotation id, or dropped and counted as repaired`, async () => {
    const dir = await Deno.makeTempDir();
    await writeTinyCoco(dir);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/instances.json`));
    json.annotations.push({ id: 77, ...fields });
    await Deno.writeTextFile(`${dir}/instances.json`, JSON.stringify(json));
    await assert.rejects(
      () => loadCocoDataset(`${dir}/instances.json`, dir),
      (e) =>
        e instanceof DataError && e.reason === reason && e.annotationId === 77 &&
        e.file === `${dir}/instances.json` &&
        e.message.includes("annotation 77"),
    );
    const ds = await loadCocoDataset(`${dir}/instances.json`, dir, { onError: "skip" });
    assert.equal(ds.issues.length, 1);
    assert.equal(ds.issues[0].reason, reason);
    const first = await ds.get(0);
    assert.ok(!first.annotationIds.includes(77));
    assert.deepEqual(first.annotationIds, [10, 11]);
    const loader = new DataLoader(ds, { batchSize: 3, onError: "skip" });
    for await (const _ of loader.epoch(0)) { /* consume */ }
    assert.deepEqual(loader.stats().repaired.reasons, { [reason]: 1 });
    assert.equal(loader.stats().skipped.total, 0);
  });
}

Deno.test("TFRecord with a bad data CRC: loader skips the record (counted) or throws with file and record", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bad.tfrecord`;
  const bytes = await Deno.readFile(`${FIXTURES}tfod_small.tfrecord`);
  bytes[30] ^= 0x40; // inside record 0's data
  await Deno.writeFile(path, bytes);
  const ds = await loadTfodDataset(path);
  const loader = new DataLoader(ds, { batchSize: 2, shuffle: false, onError: "skip" });
  const seen: number[] = [];
  for await (const b of loader.epoch(0)) seen.push(...b.indices);
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(loader.stats().skipped.reasons, { "bad-crc": 1 });
  assert.match(loader.stats().skipped.examples[0], /bad\.tfrecord: record 0: data CRC mismatch/);
  const strict = new DataLoader(ds, { batchSize: 2, shuffle: false });
  await assert.rejects(async () => {
    for await (const _ of strict.epoch(0)) { /* consume */ }
  }, (e) => e instanceof DataError && e.reason === "bad-crc" && e.file === path && e.recordIndex === 0);
});
