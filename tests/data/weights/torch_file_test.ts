import assert from "node:assert/strict";
import { canonicalName, isIgnoredName } from "../../../model/state_dict_names.ts";
import { crc32, ZipArchive } from "../../../data/weights/torch_zip.ts";
import { loadStateDict } from "../../../data/weights/load_state_dict.ts";
import { ForbiddenGlobalError, WeightsFormatError } from "../../../data/weights/errors.ts";
import { readTorchLegacy, readTorchZip } from "../../../data/weights/torch_file.ts";
import {
  assertChecksum,
  type Checksums,
  fixtureBytes,
  fixtureJson,
  fixtureUrl,
} from "../../model/_weights_fixtures.ts";

/** Per-tensor checksums of what torch.load returns for each fixture file. */
const checksums = fixtureJson<Checksums>("checksums.json");

async function assertFileMatchesTorch(file: string): Promise<void> {
  const sd = await loadStateDict(fixtureUrl(file));
  const expected = Object.entries(checksums[file]).filter(([name]) => !isIgnoredName(name));
  assert.equal(sd.size, expected.length, `${file}: tensor count`);
  for (const [stored, c] of expected) {
    const t = sd.get(canonicalName(stored));
    assert.ok(t, `${file}: ${stored} loaded as ${canonicalName(stored)}`);
    assertChecksum(`${file}:${stored}`, t, c);
  }
}

for (const file of ["small_subset.pth", "small_subset_v1names.pth", "small_mixed.pth", "small_legacy.pth"]) {
  Deno.test(`${file}: every tensor matches torch.load's checksums`, async () => {
    await assertFileMatchesTorch(file);
  });
}

Deno.test("both name generations load to the same canonical tensors", async () => {
  const current = await loadStateDict(fixtureUrl("small_subset.pth"));
  const old = await loadStateDict(fixtureUrl("small_subset_v1names.pth"));
  assert.deepEqual([...old.keys()], [...current.keys()]);
  for (const [name, t] of current) assert.deepEqual(old.get(name)!.data, t.data, name);
  const raw = await readTorchZip(fixtureBytes("small_subset_v1names.pth"));
  assert.ok(raw.has("roi_heads.mask_head.mask_fcn1.bias"), "the file really has old names");
  assert.ok(raw.has("rpn.head.conv.bias") && raw.has("backbone.fpn.inner_blocks.0.weight"));
});

Deno.test("the deflated archive is really deflated, the torch one stored", () => {
  const methods = (f: string) =>
    new Set([...ZipArchive.open(fixtureBytes(f)).entries.values()].map((e) => e.method));
  assert.deepEqual(methods("small_subset_v1names.pth"), new Set([8]));
  assert.deepEqual(methods("small_subset.pth"), new Set([0]));
});

Deno.test("mixed dtypes and views: source dtypes kept, num_batches_tracked dropped", async () => {
  const sd = await loadStateDict(fixtureUrl("small_mixed.pth"));
  assert.equal(sd.get("roi_heads.box_head.fc7.weight")?.dtype, "F16");
  assert.equal(sd.get("rpn.head.cls_logits.weight")?.dtype, "BF16");
  assert.equal(sd.get("backbone.body.bn1.running_var")?.dtype, "F64");
  assert.equal(sd.get("steps")?.dtype, "I64");
  assert.ok(!sd.has("backbone.body.bn1.num_batches_tracked"));
  // a transposed view equals the transpose of the half-precision original's f32 source within f16 rounding
  const t = sd.get("transposed")!;
  const h = sd.get("roi_heads.box_head.fc7.weight")!;
  for (const [i, j] of [[0, 1], [5, 77], [127, 3]]) {
    const a = t.data[i * 128 + j];
    assert.ok(Math.abs(a - h.data[j * 128 + i]) <= Math.abs(a) * 2 ** -10, `transposed[${i},${j}]`);
  }
});

Deno.test("legacy format: old names and a storage view", async () => {
  const sd = readTorchLegacy(fixtureBytes("small_legacy.pth"), "small_legacy.pth");
  assert.ok(sd.has("rpn.head.conv.bias") && sd.has("backbone.fpn.layer_blocks.2.weight"));
  const canonical = await loadStateDict(fixtureUrl("small_legacy.pth"));
  assert.ok(canonical.has("rpn.head.conv.0.0.bias"));
});

const forbidden: [string, string][] = [
  ["forbidden_global.pth", "os.system"],
  ["forbidden_stack_global.pth", "posix.system"],
];
for (const [file, global] of forbidden) {
  Deno.test(`${file}: the global ${global} is refused before anything runs`, async () => {
    const marker = "/tmp/maskrcnn_fixture_pwned";
    await Deno.remove(marker).catch(() => {});
    await assert.rejects(
      loadStateDict(fixtureUrl(file)),
      (e: unknown) =>
        e instanceof ForbiddenGlobalError && e.global === global && e.message.includes(global) &&
        e.message.includes(file),
    );
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  });
}

const cuts: [string, (n: number) => number][] = [
  ["to half its length", (n) => n >> 1],
  ["by its last byte", (n) => n - 1],
  ["to 100 bytes", () => 100],
  ["to 3 bytes", () => 3],
];
for (const file of ["small_subset.pth", "small_legacy.pth", "small_subset.safetensors"]) {
  for (const [how, length] of cuts) {
    Deno.test(`${file} truncated ${how} gives a WeightsFormatError naming the file`, async () => {
      const bytes = fixtureBytes(file);
      await assert.rejects(
        loadStateDict(bytes.slice(0, length(bytes.length)), { file }),
        (e: unknown) => e instanceof WeightsFormatError && e.message.startsWith(`${file}: `),
      );
    });
  }
}

Deno.test("a flipped byte inside a stored tensor fails the CRC check, naming the entry", async () => {
  const bytes = fixtureBytes("small_subset.pth");
  const zip = ZipArchive.open(bytes);
  const entry = zip.entries.get("small_subset/data/0")!;
  assert.equal(crc32(await zip.read(entry.name)), entry.crc32);
  bytes[entry.localHeaderOffset + 200] ^= 0x40; // inside the data (headers are < 200 bytes)
  await assert.rejects(
    loadStateDict(bytes, { file: "x.pth" }),
    /x\.pth: zip entry small_subset\/data\/0: CRC-32/,
  );
});

Deno.test("a zip that is not a torch checkpoint, and unknown bytes, are refused by name", async () => {
  await assert.rejects(
    loadStateDict(new TextEncoder().encode("hello world, not weights"), { file: "a.bin" }),
    {
      name: "WeightsFormatError",
      message: /^a\.bin: not safetensors or a torch zip/,
    },
  );
  await assert.rejects(loadStateDict("/nonexistent/model.pth"), /\/nonexistent\/model\.pth: cannot read/);
});
