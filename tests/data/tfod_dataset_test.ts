// TF Object Detection API datasets read back exactly what the independent Python fixture writer stored
// (tools/reference/make_tfrecord_fixtures.py → tests/fixtures/data/tfod_small*.{tfrecord,json}).
import assert from "node:assert/strict";
import { DataError } from "../../data/errors.ts";
import { loadTfodDataset } from "../../data/tfod_dataset.ts";
import { writeTfodRecords } from "../../data/tfod_writer.ts";

const FIXTURE = new URL("../fixtures/data/tfod_small.tfrecord", import.meta.url).pathname;
const EXPECTED = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/data/tfod_small_expected.json", import.meta.url)),
) as {
  records: {
    filename: string;
    width: number;
    height: number;
    image: number[];
    boxes: number[][];
    labels: number[];
    masks: number[];
    mask_kind: string;
  }[];
};

Deno.test("fixture records (PNG masks, dense masks, no objects) read back exactly", async () => {
  const ds = await loadTfodDataset(FIXTURE);
  assert.equal(ds.length, EXPECTED.records.length);
  for (let i = 0; i < ds.length; i++) {
    const want = EXPECTED.records[i];
    const item = await ds.get(i);
    assert.equal(item.filename, want.filename);
    assert.equal(item.recordIndex, i);
    assert.equal(item.image.width, want.width);
    assert.equal(item.image.height, want.height);
    assert.deepEqual(item.image.data, Uint8Array.from(want.image));
    assert.deepEqual(item.target.labels, Int32Array.from(want.labels));
    assert.deepEqual(item.target.boxes, Float32Array.from(want.boxes.flat()));
    if (want.mask_kind === "none") assert.equal(item.target.masks, undefined);
    else assert.deepEqual(item.target.masks, Uint8Array.from(want.masks));
  }
  // The fixture is not degenerate: masks have both values, images are not constant.
  const first = await ds.get(0);
  assert.ok(first.target.masks!.some((v) => v === 1) && first.target.masks!.some((v) => v === 0));
  assert.ok(new Set(first.image.data).size > 10);
});

Deno.test("globs and lists of files are accepted; masks can be skipped", async () => {
  const dir = await Deno.makeTempDir();
  const bytes = await Deno.readFile(FIXTURE);
  await Deno.writeFile(`${dir}/train-00000-of-00002.tfrecord`, bytes);
  await Deno.writeFile(`${dir}/train-00001-of-00002.tfrecord`, bytes);
  await Deno.writeFile(`${dir}/val-00000-of-00001.tfrecord`, bytes);
  const ds = await loadTfodDataset(`${dir}/train-?????-of-*.tfrecord`, { withMasks: false });
  assert.equal(ds.length, 6);
  assert.deepEqual(ds.files, [
    `${dir}/train-00000-of-00002.tfrecord`,
    `${dir}/train-00001-of-00002.tfrecord`,
  ]);
  const item = await ds.get(4);
  assert.equal(item.file, `${dir}/train-00001-of-00002.tfrecord`);
  assert.equal(item.recordIndex, 1);
  assert.equal(item.target.masks, undefined);
  const listed = await loadTfodDataset([`${dir}/val-00000-of-00001.tfrecord`, FIXTURE]);
  assert.equal(listed.length, 6);
  await assert.rejects(() => loadTfodDataset(`${dir}/nothing-*.tfrecord`), (e) => e instanceof DataError);
});

Deno.test("writer → reader round trip with PNG and dense masks", async () => {
  const ds = await loadTfodDataset(FIXTURE);
  const items = [await ds.get(0), await ds.get(1), await ds.get(2)];
  const dir = await Deno.makeTempDir();
  for (const maskFormat of ["png", "dense"] as const) {
    const path = `${dir}/${maskFormat}.tfrecord`;
    await writeTfodRecords(path, items, { maskFormat });
    const back = await loadTfodDataset(path);
    for (let i = 0; i < items.length; i++) {
      const got = await back.get(i);
      assert.deepEqual(got.image, items[i].image);
      assert.deepEqual(got.target.labels, items[i].target.labels);
      assert.deepEqual(got.target.masks, items[i].target.masks);
      for (let j = 0; j < items[i].target.boxes.length; j++) {
        assert.ok(Math.abs(got.target.boxes[j] - items[i].target.boxes[j]) < 1e-4);
      }
    }
  }
});

Deno.test("a bad data CRC surfaces from get() with the file and record index", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bad.tfrecord`;
  const bytes = await Deno.readFile(FIXTURE);
  const records = await loadTfodDataset(FIXTURE);
  assert.equal(records.length, 3);
  // Corrupt the last byte of record 2's data (just before its trailing CRC).
  bytes[bytes.length - 5] ^= 0xff;
  await Deno.writeFile(path, bytes);
  const ds = await loadTfodDataset(path);
  await ds.get(1);
  await assert.rejects(
    () => ds.get(2),
    (e) => e instanceof DataError && e.reason === "bad-crc" && e.file === path && e.recordIndex === 2,
  );
});

Deno.test("a damaged header ends the file in skip mode and throws otherwise", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bad.tfrecord`;
  const bytes = await Deno.readFile(FIXTURE);
  const len0 = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  bytes[16 + len0 + 8] ^= 0x10; // record 1's length CRC
  await Deno.writeFile(path, bytes);
  await assert.rejects(() => loadTfodDataset(path), (e) => e instanceof DataError && e.recordIndex === 1);
  const ds = await loadTfodDataset(path, { onError: "skip" });
  assert.equal(ds.length, 1);
  assert.equal(ds.issues.length, 1);
  assert.equal(ds.issues[0].reason, "bad-crc");
});

Deno.test("image/object/is_crowd: crowd objects are left out of the targets, as COCO's are", async () => {
  const { tfodExampleFromItem } = await import("../../data/tfod_writer.ts");
  const { decodeTfodExample } = await import("../../data/tfod_dataset.ts");
  const { int64Feature } = await import("../../data/tf_example.ts");
  const { generateShapesItem } = await import("../../data/shapes.ts");
  let item = generateShapesItem(7, { width: 48, height: 40 });
  for (let s = 8; item.target.labels.length < 3; s++) item = generateShapesItem(s, { width: 48, height: 40 });
  const n = item.target.labels.length, plane = 48 * 40;
  const example = tfodExampleFromItem(item, { maskFormat: "png" });
  const flags = Array.from({ length: n }, (_, k) => (k === 1 ? 1 : 0));
  example.set("image/object/is_crowd", int64Feature(flags));
  const got = await decodeTfodExample(example, { file: "mem.tfrecord" });
  const keep = flags.flatMap((f, k) => (f ? [] : [k]));
  assert.equal(got.crowdCount, 1);
  assert.deepEqual(Array.from(got.target.labels), keep.map((k) => item.target.labels[k]));
  assert.deepEqual(
    got.target.masks,
    Uint8Array.from(keep.flatMap((k) => Array.from(item.target.masks!.subarray(k * plane, (k + 1) * plane)))),
  );
  assert.equal(got.target.boxes.length, 4 * keep.length);
  for (const [j, k] of keep.entries()) {
    for (let c = 0; c < 4; c++) {
      assert.ok(Math.abs(got.target.boxes[4 * j + c] - item.target.boxes[4 * k + c]) < 1e-4);
    }
  }
  example.set("image/object/is_crowd", int64Feature([1]));
  await assert.rejects(
    () => decodeTfodExample(example, { file: "mem.tfrecord" }),
    (e) => e instanceof DataError,
  );
});
