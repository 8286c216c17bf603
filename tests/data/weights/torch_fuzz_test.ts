// Fuzzing the unpickler and the zip reader: seeded random mutations of a valid torch checkpoint
// (small_mixed.pth: F32/F16/BF16/F64/I64 storages, a transposed view, an expanded view), for a fixed
// time budget. Each mutation must either load — every value then a real element of the original storages,
// finite, bit for bit (identical tensors when nothing that matters changed) — or throw the library's
// WeightsError. Any other exception, or a NaN / invented value, fails the test with the mutation to replay.
import assert from "node:assert/strict";
import { ZipArchive } from "../../../data/weights/torch_zip.ts";
import { WeightsError } from "../../../model/weights_errors.ts";
import { readTorchZip } from "../../../data/weights/torch_file.ts";
import { DTYPE_SIZE, toFloat32 } from "../../../data/weights/dtype.ts";
import type { StateDict, WeightDType } from "../../../model/state_dict.ts";
import { unpickle } from "../../../data/weights/unpickle.ts";
import { rng } from "../../_util.ts";
import { fixtureBytes } from "../../model/_weights_fixtures.ts";
import { zipArchive } from "./_torch_files.ts";

const SEED = 20261207;
const BUDGET_MS = 12_000;
const MAX_MUTATIONS = 200_000;

const original = fixtureBytes("small_mixed.pth");
const reference = await readTorchZip(original, "small_mixed.pth");
const archive = ZipArchive.open(original);
const entries = await Promise.all([...archive.entries.keys()].map(async (name) => ({
  name,
  data: (await archive.read(name)).slice(),
})));
const pklIndex = entries.findIndex((e) => e.name.endsWith("/data.pkl"));
const DTYPES: Record<string, WeightDType> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
};

/** Bit patterns of every element of every storage (converted to f32 from its dtype in the pickle). */
const known = new Set<number>();
const storageDtypes = new Map<string, WeightDType>();
unpickle(entries[pklIndex].data, {
  file: "data.pkl",
  findGlobal: (module, name) => ({
    qualifiedName: `${module}.${name}`,
    call: (args) => (name === "OrderedDict" ? new Map() : args),
  }),
  persistentLoad: (pid) => {
    const [, type, key] = pid as [string, { qualifiedName: string }, string];
    storageDtypes.set(key, DTYPES[type.qualifiedName.replace("torch.", "")]);
    return pid;
  },
});
for (const [key, dtype] of storageDtypes) {
  const bytes = entries.find((e) => e.name.endsWith(`/data/${key}`))!.data;
  const values = toFloat32(bytes, dtype, bytes.length / DTYPE_SIZE[dtype]);
  for (const b of new Uint32Array(values.buffer)) known.add(b);
}

type Mutation = [kind: string, at: number, value: number];

function mutate(
  bytes: Uint8Array,
  random: () => number,
  region?: [number, number],
): [Uint8Array, Mutation[]] {
  let out = bytes;
  const done: Mutation[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let m = 0; m < count; m++) {
    const hi = Math.min(region?.[1] ?? out.length, out.length);
    const lo = Math.min(region?.[0] ?? 0, hi - 1);
    const at = lo + Math.floor(random() * (hi - lo)); // in [0, out.length)
    const kind = ["flip", "byte", "special", "delete", "insert", "duplicate"][Math.floor(random() * 6)];
    const value = Math.floor(random() * 256);
    const splice = (cut: number, insert: Uint8Array) => {
      const next = new Uint8Array(out.length - cut + insert.length);
      next.set(out.subarray(0, at));
      next.set(insert, at);
      next.set(out.subarray(Math.min(out.length, at + cut)), at + insert.length);
      return next;
    };
    if (kind === "delete") out = splice(Math.min(1 + (value & 7), out.length - at), new Uint8Array());
    else if (kind === "insert") out = splice(0, new Uint8Array([value]));
    else if (kind === "duplicate") out = splice(0, out.slice(at, at + 1 + (value & 15)));
    else {
      out = out.slice();
      if (kind === "flip") out[at] ^= 1 << (value & 7);
      else if (kind === "byte") out[at] = value;
      else out[at] = [0, 0xff, 0x7f, 0x80, 0x01, 0xfe][value % 6];
    }
    done.push([kind, at, value]);
  }
  return [out, done];
}

function sameTensors(a: StateDict, b: StateDict): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u || u.dtype !== t.dtype || u.shape.join() !== t.shape.join()) return false;
    const x = new Uint32Array(t.data.slice().buffer), y = new Uint32Array(u.data.slice().buffer);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

Deno.test("fuzz: mutated checkpoints load real storage values or throw a WeightsError, nothing else", async () => {
  const random = rng(SEED);
  const outcomes = { identical: 0, changedButValid: 0, weightsError: 0 };
  const errorKinds = new Map<string, number>();
  const start = performance.now();
  let n = 0;
  for (; n < MAX_MUTATIONS && performance.now() - start < BUDGET_MS; n++) {
    const pickleMode = random() < 0.7;
    let bytes: Uint8Array, how: Mutation[];
    if (pickleMode) { // mutate data.pkl, keep a well-formed zip (correct CRCs) around it
      const [pkl, done] = mutate(entries[pklIndex].data, random);
      bytes = zipArchive(entries.map((e, i) => (i === pklIndex ? { name: e.name, data: pkl } : e)));
      how = done;
    } else { // mutate the archive itself, half the time inside the central directory and end record
      const cd = original.length - 22 - 64 * entries.length;
      [bytes, how] = mutate(original, random, random() < 0.5 ? [cd, original.length] : undefined);
    }
    let loaded: StateDict;
    try {
      loaded = await readTorchZip(bytes, "fuzz.pth");
    } catch (e) {
      if (!(e instanceof WeightsError)) {
        assert.fail(`mutation ${n} (${pickleMode ? "pickle" : "zip"} ${JSON.stringify(how)}) threw ${e}`);
      }
      assert.ok(e.message.startsWith("fuzz.pth: "), e.message);
      outcomes.weightsError++;
      const kind = e.message.replace(/^fuzz\.pth: /, "").replace(/[\d[\]]+/g, "#").slice(0, 40);
      errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
      continue;
    }
    if (sameTensors(loaded, reference)) {
      outcomes.identical++;
      continue;
    }
    for (const [name, t] of loaded) {
      const bits = new Uint32Array(t.data.slice().buffer);
      for (let i = 0; i < bits.length; i++) {
        if (!known.has(bits[i]) || Number.isNaN(t.data[i])) {
          assert.fail(
            `mutation ${n} (${JSON.stringify(how)}): ${name}[${i}] = ${
              t.data[i]
            } is not an element of any storage`,
          );
        }
      }
    }
    outcomes.changedButValid++;
  }
  const top = [...errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(`${n} mutations in ${((performance.now() - start) / 1000).toFixed(1)} s:`, outcomes);
  console.log("most frequent errors:", top);
  assert.ok(n >= 500, `only ${n} mutations ran`);
  assert.ok(outcomes.weightsError > 0 && outcomes.identical > 0);
});
