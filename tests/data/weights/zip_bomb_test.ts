// Zip bombs in torch checkpoints: refused before (or, when the central directory lies, right after the
// first chunk of) inflating, within a second of opening and adding well under 100 MB of resident memory.
import assert from "node:assert/strict";
import { WeightsFormatError } from "../../../data/weights/errors.ts";
import { loadStateDict } from "../../../data/weights/load_state_dict.ts";
import { readTorchZip } from "../../../data/weights/torch_file.ts";
import { deflatedZeros, stateDictPickle, type TensorSpec, torchZip, zipArchive } from "./_torch_files.ts";

const GIB = 1 << 30;
const bomb = await deflatedZeros(GIB); // ~1 MB of deflate that inflates to 1 GiB of zeros
const small: TensorSpec = { name: "w", storageKey: "0", storageSize: 4, offset: 0, shape: [4], stride: [1] };
const huge: TensorSpec = { ...small, storageSize: GIB / 4, shape: [GIB / 4] };

async function assertRefusedQuickly(bytes: Uint8Array, pattern: RegExp, label: string): Promise<void> {
  const rss = Deno.memoryUsage().rss;
  const start = performance.now();
  await assert.rejects(() => readTorchZip(bytes, "bomb.pth"), (e) => {
    assert.ok(e instanceof WeightsFormatError, String(e));
    assert.match(e.message, /^bomb\.pth: /);
    assert.match(e.message, pattern);
    return true;
  });
  const ms = performance.now() - start;
  const addedMb = (Deno.memoryUsage().rss - rss) / 2 ** 20;
  console.log(
    `${label}: ${bytes.length} bytes refused in ${ms.toFixed(1)} ms, RSS +${addedMb.toFixed(1)} MB`,
  );
  assert.ok(ms < 1000, `${ms} ms`);
  assert.ok(addedMb < 100, `${addedMb} MB`);
}

Deno.test("a zip entry declaring 1 GiB for a 16-byte storage is refused before inflating", async () => {
  const bytes = torchZip(stateDictPickle([small]), {}, [
    { name: "archive/data/0", deflated: bomb, declaredSize: GIB, crc: 0 },
  ]);
  await assertRefusedQuickly(
    bytes,
    /holds 1073741824 bytes, but its storage is declared as F32\[4\]/,
    "entry > storage",
  );
});

Deno.test("a 1 GiB storage deflated 1000:1 is refused by the inflate-ratio cap, which the option raises", async () => {
  const bytes = torchZip(stateDictPickle([huge]), {}, [
    { name: "archive/data/0", deflated: bomb, declaredSize: GIB, crc: 0 },
  ]);
  await assertRefusedQuickly(bytes, /more than the limit of 100×.*maxInflateRatio/, "ratio cap");
  // with the cap raised, the same file gets as far as inflating (small variant: 8 MiB, CRC left wrong)
  const eight = await deflatedZeros(8 << 20);
  const raised = torchZip(stateDictPickle([{ ...huge, storageSize: 2 << 20, shape: [2 << 20] }]), {}, [
    { name: "archive/data/0", deflated: eight, declaredSize: 8 << 20, crc: 0 },
  ]);
  await assert.rejects(() => loadStateDict(raised, { file: "r.pth" }), /limit of 100×/);
  await assert.rejects(
    () => loadStateDict(raised, { file: "r.pth", maxInflateRatio: 2000 }),
    /CRC-32 mismatch/,
  );
});

Deno.test("an entry whose central directory understates its size stops inflating at the declared size", async () => {
  const bytes = torchZip(stateDictPickle([small]), {}, [
    { name: "archive/data/0", deflated: bomb, declaredSize: 16, crc: 0 },
  ]);
  await assertRefusedQuickly(bytes, /inflates past its declared 16 bytes/, "lying size");
});

Deno.test("a data.pkl declaring 1 GiB is refused by the pickle size cap", async () => {
  const pklBomb = zipArchive([{ name: "archive/data.pkl", deflated: bomb, declaredSize: GIB, crc: 0 }]);
  await assertRefusedQuickly(
    pklBomb,
    /declares 1073741824 bytes, more than the 67108864.*maxPickleBytes/,
    "data.pkl",
  );
});
