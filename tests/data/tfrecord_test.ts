// TFRecord framing, CRC-32C and tf.train.Example decoding, checked against the fixture written by the
// independent Python writer tools/reference/make_tfrecord_fixtures.py (hand-written protobuf, CRC and PNG).
import assert from "node:assert/strict";
import { crc32c, maskedCrc32c } from "../../data/crc32c.ts";
import { DataError } from "../../data/errors.ts";
import { decodeExample, encodeExample, floatFeature, int64Feature } from "../../data/tf_example.ts";
import { encodeTfRecord, indexTfRecordFile, parseTfRecords, readTfRecordAt } from "../../data/tfrecord.ts";

const FIXTURE = new URL("../fixtures/data/tfod_small.tfrecord", import.meta.url).pathname;

Deno.test("crc32c matches the published check value and RFC 3720 vectors", () => {
  // Check value of CRC-32C (Castagnoli) for "123456789".
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  // RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa, 32 bytes of 0xff -> 0x62a8ab43.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  // Ascending 0..31 -> 0x46dd794e.
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
});

Deno.test("masked CRC follows TF's rotate-and-add formula", () => {
  const bytes = new TextEncoder().encode("hello tfrecord");
  const crc = crc32c(bytes);
  const expected = Number((BigInt(((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8n) % 2n ** 32n);
  assert.equal(maskedCrc32c(bytes), expected);
});

Deno.test("fixture records parse with both CRCs checked, and index/readAt agree", async () => {
  const bytes = await Deno.readFile(FIXTURE);
  const records = parseTfRecords(bytes, FIXTURE);
  assert.equal(records.length, 3);
  const entries = await indexTfRecordFile(FIXTURE);
  assert.equal(entries.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await readTfRecordAt(FIXTURE, entries[i], i), records[i]);
  }
  // Our writer frames records byte-identically to the Python writer.
  const reframed = records.map(encodeTfRecord);
  assert.deepEqual(new Uint8Array(reframed.flatMap((r) => [...r])), bytes);
});

Deno.test("packed and unpacked lists decode the same; negative int64 values survive", async () => {
  const records = parseTfRecords(await Deno.readFile(FIXTURE), FIXTURE);
  const packed = decodeExample(records[0]);
  const unpacked = decodeExample(records[1]);
  assert.deepEqual(packed.get("test/negative"), { kind: "int64", value: [-3, 2 ** 40] });
  assert.deepEqual(unpacked.get("test/negative"), { kind: "int64", value: [-3, 2 ** 40] });
  assert.deepEqual(unpacked.get("image/height"), { kind: "int64", value: [5] });
  // Re-encode (packed) and decode: same values.
  const again = decodeExample(encodeExample(unpacked));
  assert.deepEqual(again.get("image/object/bbox/xmin"), unpacked.get("image/object/bbox/xmin"));
  assert.deepEqual(again.get("image/object/mask"), unpacked.get("image/object/mask"));
});

Deno.test("encodeExample round-trips floats exactly at float32 precision", () => {
  const values = [0.1, -2.5, 1e-7, 3.4e38];
  const ex = decodeExample(
    encodeExample(new Map([["f", floatFeature(values)], ["i", int64Feature([0, 7])]])),
  );
  assert.deepEqual(ex.get("f"), { kind: "float", value: Float32Array.from(values) });
  assert.deepEqual(ex.get("i"), { kind: "int64", value: [0, 7] });
});

async function corruptCopy(offsetFromRecordStart: (entries: { offset: number; length: number }[]) => number) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bad.tfrecord`;
  const bytes = await Deno.readFile(FIXTURE);
  const entries = await indexTfRecordFile(FIXTURE);
  bytes[offsetFromRecordStart(entries)] ^= 0x01;
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("a flipped data byte is reported as a bad data CRC with file and record index", async () => {
  const path = await corruptCopy((e) => e[1].offset + 5);
  try {
    parseTfRecords(await Deno.readFile(path), path);
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof DataError);
    assert.equal(e.reason, "bad-crc");
    assert.equal(e.file, path);
    assert.equal(e.recordIndex, 1);
    assert.match(e.message, /bad\.tfrecord: record 1: data CRC mismatch/);
  }
  const entries = await indexTfRecordFile(path); // headers are fine
  await readTfRecordAt(path, entries[0], 0);
  await assert.rejects(
    () => readTfRecordAt(path, entries[1], 1),
    (e) => e instanceof DataError && e.recordIndex === 1,
  );
});

Deno.test("a flipped length byte is reported as a bad length CRC for that record", async () => {
  const path = await corruptCopy((e) => e[2].offset - 12);
  await assert.rejects(
    () => indexTfRecordFile(path),
    (e) =>
      e instanceof DataError && e.reason === "bad-crc" && e.recordIndex === 2 && /length CRC/.test(e.message),
  );
});

Deno.test("a truncated file is reported as a truncated record", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/short.tfrecord`;
  const bytes = await Deno.readFile(FIXTURE);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
  assert.throws(
    () => parseTfRecords(Deno.readFileSync(path), path),
    (e) => e instanceof DataError && e.recordIndex === 2,
  );
  await assert.rejects(
    () => indexTfRecordFile(path),
    (e) => e instanceof DataError && e.reason === "truncated-record",
  );
});
