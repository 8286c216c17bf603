import assert from "node:assert/strict";
import { ZipArchive } from "../../../data/weights/torch_zip.ts";
import { PY_STATE, unpickle, type UnpickleOptions } from "../../../data/weights/unpickle.ts";
import { ForbiddenGlobalError, WeightsFormatError } from "../../../data/weights/errors.ts";
import { fixtureBytes } from "../../model/_weights_fixtures.ts";

/** data.pkl of the torch-written subset checkpoint (protocol 2, as torch.save writes it). */
const dataPkl = await ZipArchive.open(fixtureBytes("small_subset.pth")).read("small_subset/data.pkl");

const names: string[] = [];
const options: UnpickleOptions = {
  file: "data.pkl",
  findGlobal: (module, name) => {
    names.push(`${module}.${name}`);
    return {
      qualifiedName: `${module}.${name}`,
      call: (args) => (name === "OrderedDict" ? new Map() : args),
    };
  },
  persistentLoad: (pid) => ({ pid }),
};

Deno.test("torch's data.pkl: OrderedDict of rebuilt tensors with the _metadata BUILD state", () => {
  names.length = 0;
  const { value, end } = unpickle(dataPkl, options);
  assert.equal(end, dataPkl.length);
  assert.ok(value instanceof Map && value.size === 103);
  assert.deepEqual(
    new Set(names),
    new Set(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"]),
  );
  const [storage, offset, shape] = value.get("backbone.body.conv1.weight") as [
    { pid: unknown[] },
    number,
    number[],
  ];
  assert.deepEqual([storage.pid[0], storage.pid[3], storage.pid[4], offset, shape], [
    "storage",
    "cpu",
    9408,
    0,
    [64, 3, 7, 7],
  ]);
  const metadata = (value as unknown as Record<symbol, Map<string, unknown>>)[PY_STATE].get("_metadata");
  assert.ok(metadata instanceof Map && metadata.has("backbone.fpn"), "module versions from torch");
});

Deno.test("every truncation of torch's data.pkl is a WeightsFormatError naming the file", () => {
  for (const n of [1, 2, 50, dataPkl.length >> 1, dataPkl.length - 1]) {
    assert.throws(
      () => unpickle(dataPkl.subarray(0, n), options),
      (e: unknown) => e instanceof WeightsFormatError && e.message.startsWith("data.pkl: pickle at byte"),
    );
  }
});

Deno.test("opcodes outside the data-only subset are refused with their code and offset", () => {
  // pickletools: b"(i__main__\nX\n." is protocol 0 INST (0x69), which instantiates a class
  const inst = new TextEncoder().encode("(i__main__\nX\n.");
  assert.throws(() => unpickle(inst, options), /data\.pkl: pickle at byte 1: unsupported pickle opcode 0x69/);
});

Deno.test("a refused global stops loading at the GLOBAL opcode, before REDUCE", () => {
  // protocol 2: GLOBAL "builtins eval", SHORT_BINUNICODE "1", TUPLE1, REDUCE, STOP
  const bytes = new Uint8Array([
    0x80,
    2,
    ...new TextEncoder().encode("cbuiltins\neval\n"),
    0x8c,
    1,
    0x31,
    0x85,
    0x52,
    0x2e,
  ]);
  let called = false;
  assert.throws(
    () =>
      unpickle(bytes, { file: "e.pkl", findGlobal: () => undefined, persistentLoad: () => (called = true) }),
    (e: unknown) => e instanceof ForbiddenGlobalError && e.global === "builtins.eval",
  );
  assert.equal(called, false);
});
