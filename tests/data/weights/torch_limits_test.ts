// Hostile torch checkpoints (hand-made with ./_torch_files.ts): every malformed storage size, offset,
// stride or container is a WeightsFormatError naming the file and tensor — never a RangeError, a stack
// overflow or NaN weights.
import assert from "node:assert/strict";
import { unpickle } from "../../../data/weights/unpickle.ts";
import { WeightsError } from "../../../model/weights_errors.ts";
import { WeightsFormatError } from "../../../data/weights/errors.ts";
import { readTorchZip } from "../../../data/weights/torch_file.ts";
import { f32Bytes, PickleWriter, stateDictPickle, type TensorSpec, torchZip } from "./_torch_files.ts";

const STORAGE = [1, 2, 3, 4, 5, 6];
const base: TensorSpec = {
  name: "w",
  storageKey: "0",
  storageSize: 6,
  offset: 0,
  shape: [2, 3],
  stride: [3, 1],
};

function file(...tensors: TensorSpec[]): Uint8Array {
  return torchZip(stateDictPickle(tensors), { "0": f32Bytes(STORAGE) });
}

async function assertRefused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(() => readTorchZip(bytes, "bad.pth"), (e) => {
    assert.ok(e instanceof WeightsFormatError, `${(e as Error).name}: ${(e as Error).message}`);
    assert.ok(e.message.startsWith("bad.pth: "), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("hand-made checkpoints load: contiguous, transposed and offset views match an index loop", async () => {
  const views: TensorSpec[] = [
    base,
    { ...base, name: "t", shape: [3, 2], stride: [1, 3] },
    { ...base, name: "o", offset: 2, shape: [2, 2], stride: [1, 2] },
  ];
  const sd = await readTorchZip(file(...views), "ok.pth");
  for (const v of views) {
    const expected: number[] = [];
    for (let i = 0; i < v.shape[0]; i++) {
      for (let j = 0; j < v.shape[1]; j++) {
        expected.push(STORAGE[v.offset + i * v.stride[0] + j * v.stride[1]]);
      }
    }
    assert.deepEqual([...sd.get(v.name)!.data], expected, v.name);
  }
});

Deno.test("a negative storage offset with non-contiguous strides is refused (was NaN weights)", async () => {
  await assertRefused(
    file({ ...base, offset: -2, shape: [2, 3], stride: [1, 2] }),
    /tensor w: view .*offset/,
  );
});

Deno.test("a negative storage offset on a contiguous view is refused (was a wrapped slice)", async () => {
  await assertRefused(file({ ...base, offset: -1, shape: [4], stride: [1] }), /tensor w: view/);
});

Deno.test("a storage size of −1 is refused by name (was 'Invalid typed array length: -1')", async () => {
  await assertRefused(file({ ...base, storageSize: -1 }), /storage 0 has the invalid size -1/);
});

Deno.test("a view whose strides overlap itself is refused", async () => {
  await assertRefused(file({ ...base, shape: [3, 3], stride: [1, 1], storageSize: 6 }), /overlaps itself/);
});

Deno.test("one storage key declared with two sizes or dtypes is refused", async () => {
  await assertRefused(
    file(base, { ...base, name: "h", storageType: "HalfStorage", shape: [6], stride: [1] }),
    /storage 0 is declared as F32\[6\] and as F16\[6\]/,
  );
});

Deno.test("a view past the end of a huge declared storage is refused before allocating", async () => {
  // shape [1e9, 1e9] with stride [0, 0] on a 6-element storage: broadcast far beyond the cap
  await assertRefused(file({ ...base, shape: [1e9, 1e9], stride: [0, 0] }), /broadcasts to/);
});

Deno.test("a self-referencing dict is refused (was 'Maximum call stack size exceeded')", async () => {
  // d = {}; d["model"] = d
  const pickle = new PickleWriter().op(0x7d, 0x71, 0).str("model").op(0x68, 0, 0x73).bytes();
  await assertRefused(torchZip(pickle, {}), /referencing themselves/);
});

Deno.test("a 1M-item APPENDS unpickles (was a stack overflow) and is then refused as not a state_dict", async () => {
  const w = new PickleWriter().op(0x5d, 0x28); // EMPTY_LIST, MARK
  for (let i = 0; i < 1_000_000; i++) w.op(0x4b, i & 255); // BININT1
  const pickle = w.op(0x65).bytes(); // APPENDS
  const { value } = unpickle(pickle, { file: "big.pkl", findGlobal: () => undefined });
  assert.equal((value as number[]).length, 1_000_000);
  assert.equal((value as number[])[999_999], 999_999 & 255);
  await assertRefused(torchZip(pickle, {}), /not a dict of tensors/);
});

Deno.test("MARKs nested past the limit and oversized integers are refused by the unpickler", () => {
  const deep = new PickleWriter().op(...new Array(5000).fill(0x28)).bytes();
  assert.throws(
    () => unpickle(deep, { file: "deep.pkl", findGlobal: () => undefined }),
    (e) =>
      e instanceof WeightsFormatError &&
      /deep\.pkl: .*MARKs nested deeper than the limit of 1000/.test(e.message),
  );
  const long4 = new PickleWriter().op(0x8b, ...[0, 0, 1, 0], ...new Array(65536).fill(7)).bytes();
  assert.throws(
    () => unpickle(long4, { file: "long.pkl", findGlobal: () => undefined }),
    (e) => e instanceof WeightsFormatError && /integer of 65536 bytes exceeds the limit/.test(e.message),
  );
});

Deno.test("OrderedDict of non-pairs and calling a storage class are typed errors", async () => {
  const badDict = new PickleWriter().global("collections", "OrderedDict").op(0x28, 0x4b, 1, 0x74, 0x85, 0x52)
    .bytes(); // OrderedDict((1,))
  await assertRefused(torchZip(badDict, {}), /OrderedDict called with something other than a list of pairs/);
  const callStorage = new PickleWriter().global("torch", "FloatStorage").op(0x29, 0x52).bytes();
  await assert.rejects(() => readTorchZip(torchZip(callStorage, {}), "bad.pth"), WeightsError);
});
