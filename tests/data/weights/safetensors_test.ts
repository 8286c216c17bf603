import assert from "node:assert/strict";
import { readSafetensors, writeSafetensors } from "../../../data/weights/safetensors.ts";
import { halfToFloat, toFloat32 } from "../../../data/weights/dtype.ts";
import { WeightsFormatError } from "../../../data/weights/errors.ts";
import { randomFloats } from "../../_util.ts";
import { assertChecksum, type Checksums, fixtureBytes, fixtureJson } from "../../model/_weights_fixtures.ts";

const checksums = fixtureJson<Checksums>("checksums.json")["small_subset.safetensors"];

Deno.test("python-written safetensors: every F32/F16/BF16/I64 tensor matches torch's checksums", () => {
  const { tensors, metadata } = readSafetensors(
    fixtureBytes("small_subset.safetensors"),
    "small_subset.safetensors",
  );
  assert.equal(metadata.writer, "make_weights_fixtures.py");
  assert.equal(tensors.size, Object.keys(checksums).length);
  for (const [name, c] of Object.entries(checksums)) assertChecksum(name, tensors.get(name)!, c);
  const dtypes = new Set([...tensors.values()].map((t) => t.dtype));
  assert.deepEqual(dtypes, new Set(["F32", "F16", "BF16", "I64"]));
});

Deno.test("write → read round trip is bit-exact, with metadata and an aligned data section", () => {
  const a = randomFloats(3 * 5, 1);
  const b = randomFloats(7, 2);
  const bytes = writeSafetensors(
    new Map([["a", { shape: [3, 5], data: a }], ["b.c", { shape: [7], data: b }]]),
    {
      k: "v",
    },
  );
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const { tensors, metadata } = readSafetensors(bytes);
  assert.deepEqual(metadata, { k: "v" });
  assert.deepEqual(tensors.get("a"), { shape: [3, 5], data: a, dtype: "F32" });
  assert.deepEqual(tensors.get("b.c"), { shape: [7], data: b, dtype: "F32" });
});

Deno.test("halfToFloat: normal, subnormal, signed, infinite and NaN halves", () => {
  // values from IEEE 754 binary16: 0x3555 ≈ 1/3, 0x7bff = 65504 (max), 0x0400 = 2^-14 (min normal)
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0400), 2 ** -14);
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
  assert.equal(halfToFloat(0x8000), -0);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

Deno.test("toFloat32 reads unaligned input and every integer dtype", () => {
  const bytes = new Uint8Array(1 + 16);
  const view = new DataView(bytes.buffer, 1);
  view.setBigInt64(0, -5n, true);
  view.setBigInt64(8, 123456789n, true);
  assert.deepEqual(toFloat32(bytes.subarray(1), "I64", 2), new Float32Array([-5, 123456789]));
  assert.deepEqual(
    toFloat32(new Uint8Array([0xff, 0x7f, 0x00, 0x80]), "I16", 2),
    new Float32Array([32767, -32768]),
  );
  assert.deepEqual(toFloat32(new Uint8Array([0xff, 1]), "I8", 2), new Float32Array([-1, 1]));
  assert.deepEqual(toFloat32(new Uint8Array([0xff, 1]), "U8", 2), new Float32Array([255, 1]));
  assert.throws(() => toFloat32(new Uint8Array(3), "F32", 1), RangeError);
});

function withHeader(header: unknown, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const broken: [string, Uint8Array, RegExp][] = [
  [
    "an unknown dtype",
    withHeader({ w: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, 1),
    /tensor w has unsupported dtype F8_E4M3/,
  ],
  [
    "offsets that disagree with the shape",
    withHeader({ w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4),
    /tensor w: data_offsets span 4 bytes/,
  ],
  [
    "data past the end",
    withHeader({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 4),
    /tensor w ends at byte 8 of 4/,
  ],
  [
    "a negative dimension",
    withHeader({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }),
    /tensor w has an invalid shape/,
  ],
  [
    "a header that is not JSON",
    new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7d]),
    /header is not UTF-8 JSON/,
  ],
];
for (const [what, bytes, message] of broken) {
  Deno.test(`safetensors with ${what} is rejected naming the file and tensor`, () => {
    assert.throws(
      () => readSafetensors(bytes, "bad.safetensors"),
      (e: unknown) =>
        e instanceof WeightsFormatError && e.message.startsWith("bad.safetensors: ") &&
        message.test(e.message),
    );
  });
}
