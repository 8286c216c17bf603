import assert from "node:assert/strict";
import { CHECKSUM_KEY, ChecksumMismatchError, xxh32 } from "../../../data/weights/checksum.ts";
import { CheckpointError } from "../../../model/checkpoint.ts";
import { readCheckpointFile, writeCheckpointFile } from "../../../data/weights/checkpoint_file.ts";
import { readSafetensors, writeSafetensors } from "../../../data/weights/safetensors.ts";
import { loadStateDict } from "../../../data/weights/load_state_dict.ts";
import { randomFloats } from "../../_util.ts";
import { fixtureBytes } from "../../model/_weights_fixtures.ts";

/** A safetensors file as writers without checksums produce it (header JSON, then the f32 data). */
function plainSafetensors(tensors: [string, Float32Array][], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, data] of tensors) {
    header[name] = { dtype: "F32", shape: [data.length], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, data] of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

function dataStart(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

Deno.test("xxh32 matches the xxHash reference vectors at every length and alignment", () => {
  // XXH32(seed 0) of "" and "abc" from the xxHash specification's test suite; the other three were
  // computed with the xxhash-wasm 1.0.2 npm package (the reference C code compiled to WebAssembly).
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(xxh32(new Uint8Array()), 0x02cc5d05);
  assert.equal(xxh32(text("abc")), 0x32d153ff);
  assert.equal(xxh32(text("0123456789abcdef")), 0xc2c45b69);
  const pattern = new Uint8Array(1001).map((_, i) => (i * 31 + 7) & 255);
  assert.equal(xxh32(pattern), 0xf056e528);
  assert.equal(xxh32(pattern.subarray(1)), 0xd63a1ddd); // unaligned view: the DataView path
});

Deno.test("a flipped bit in a tensor of a written safetensors file is refused, naming the file and tensor", async () => {
  const bytes = writeSafetensors(
    new Map([["a", { shape: [64], data: randomFloats(64, 1) }], ["b", {
      shape: [8],
      data: randomFloats(8, 2),
    }]]),
    { step: "7" },
  );
  assert.equal(readSafetensors(bytes, "ok.safetensors").verified, true);
  const damaged = bytes.slice();
  damaged[dataStart(bytes) + 64 * 4 + 5] ^= 0x10; // inside "b"
  assert.throws(() => readSafetensors(damaged, "model.safetensors"), (e) => {
    assert.ok(e instanceof ChecksumMismatchError);
    assert.deepEqual(e.tensors, ["b"]);
    assert.match(e.message, /^model\.safetensors: integrity check failed.*\bb\b/);
    return true;
  });
  await assert.rejects(() => loadStateDict(damaged, { file: "model.safetensors" }), ChecksumMismatchError);
});

Deno.test("changed metadata of a written safetensors file is refused", () => {
  const bytes = writeSafetensors(new Map([["a", { shape: [4], data: randomFloats(4, 3) }]]), {
    step: "1000",
  });
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf('"1000"');
  const damaged = bytes.slice();
  damaged[at + 4] = "1".charCodeAt(0); // step 1000 → 1001, same length
  assert.throws(() => readSafetensors(damaged, "m.safetensors"), (e) => {
    assert.ok(e instanceof ChecksumMismatchError);
    assert.equal(e.metadata, true);
    assert.deepEqual(e.tensors, []);
    return true;
  });
});

Deno.test("safetensors without checksums (older files, other writers) still load, unverified", async () => {
  const a = randomFloats(16, 4);
  const parsed = readSafetensors(plainSafetensors([["a", a]], { format: "pt" }), "old.safetensors");
  assert.equal(parsed.verified, false);
  assert.deepEqual(parsed.tensors.get("a")?.data, a);
  const python = readSafetensors(fixtureBytes("small_subset.safetensors"), "small_subset.safetensors");
  assert.equal(python.verified, false);
  const written = readSafetensors(writeSafetensors(parsed.tensors, { format: "pt" }));
  assert.equal(written.verified, true);
  assert.deepEqual(written.metadata, { format: "pt" }); // the checksum entry is not handed back
  assert.ok(!(CHECKSUM_KEY in written.metadata));
  assert.ok((await loadStateDict(plainSafetensors([["a", a]], {}))).has("a"));
});

Deno.test("a checkpoint with 50 flipped bits is refused on load; one written before checksums loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/checkpoint.safetensors`;
    const weights = new Map([
      ["backbone.body.conv1.weight", { shape: [32, 3, 3, 3], data: randomFloats(32 * 27, 5) }],
      ["rpn.head.conv.0.0.bias", { shape: [32], data: randomFloats(32, 6) }],
    ]);
    await writeCheckpointFile(path, {
      step: 3,
      weights,
      optimizer: null,
      config: { preset: "small" },
      rngState: 9,
    });
    const good = await readCheckpointFile(path);
    assert.deepEqual(
      good.weights.get("rpn.head.conv.0.0.bias")?.data,
      weights.get("rpn.head.conv.0.0.bias")?.data,
    );
    const bytes = await Deno.readFile(path);
    const start = dataStart(bytes);
    let seed = 12345;
    for (let i = 0; i < 50; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const at = start + (seed % (bytes.length - start));
      bytes[at] ^= 1 << (seed >>> 29);
    }
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => readCheckpointFile(path), (e) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.cause instanceof ChecksumMismatchError);
      assert.ok(e.message.includes(path) && /integrity check failed/.test(e.message));
      return true;
    });
    // the format before checksums: same metadata, no checksum entry
    const old = plainSafetensors([["w", randomFloats(6, 7)]], {
      format: "pt",
      maskrcnn_webgpu_checkpoint: "1",
      step: "5",
      config: "null",
      rng_state: "null",
    });
    await Deno.writeFile(path, old);
    assert.equal((await readCheckpointFile(path)).step, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
