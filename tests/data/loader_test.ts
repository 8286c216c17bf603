// DataLoader: seeded per-epoch shuffling, batching, prefetch (the next batch starts before the current one
// is handed out), seeded transforms, and skip/throw handling of DataErrors.
import assert from "node:assert/strict";
import { collateBatch, type PaddedBatch } from "../../data/collate.ts";
import { DataError } from "../../data/errors.ts";
import { DataLoader } from "../../data/loader.ts";
import { ShapesDataset } from "../../data/shapes.ts";
import { randomFlipTransform } from "../../data/transforms.ts";
import type { Dataset, TrainItem } from "../../data/types.ts";

/** A dataset of 1×1 images whose red value is the index; `bad` indices throw a DataError. */
function tinyDataset(n: number, bad: number[] = [], started: number[] = []): Dataset {
  return {
    length: n,
    get(i: number): Promise<TrainItem> {
      started.push(i);
      if (bad.includes(i)) {
        return Promise.reject(new DataError("missing-file", "gone", { file: `img${i}.png`, imageId: i }));
      }
      return Promise.resolve({
        image: { data: new Uint8Array([i, 0, 0]), width: 1, height: 1 },
        target: { boxes: new Float32Array(0), labels: new Int32Array(0) },
      });
    },
  };
}

async function epochIndices(loader: DataLoader<TrainItem>, epoch: number): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of loader.epoch(epoch)) {
    assert.deepEqual(b.batch.images.map((im) => im.data[0]), b.indices);
    out.push(b.indices);
  }
  return out;
}

Deno.test("each epoch is a seeded permutation in batches; seeds and epochs change the order", async () => {
  const loader = new DataLoader(tinyDataset(10), { batchSize: 4, seed: 3 });
  const e0 = await epochIndices(loader, 0);
  assert.deepEqual(e0.map((b) => b.length), [4, 4, 2]);
  assert.deepEqual(e0.flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(await epochIndices(new DataLoader(tinyDataset(10), { batchSize: 4, seed: 3 }), 0), e0);
  assert.notDeepEqual((await epochIndices(loader, 1)).flat(), e0.flat());
  assert.notDeepEqual(
    (await epochIndices(new DataLoader(tinyDataset(10), { batchSize: 4, seed: 4 }), 0)).flat(),
    e0.flat(),
  );
  const ordered = new DataLoader(tinyDataset(10), { batchSize: 4, shuffle: false, dropLast: true });
  assert.deepEqual(await epochIndices(ordered, 0), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  assert.equal(ordered.batchesPerEpoch, 2);
  assert.equal(loader.stats().itemsLoaded, 20); // two epochs of 10
});

Deno.test("prefetch: the next batch's items are requested before the current batch is handed out", async () => {
  const started: number[] = [];
  const withLog = new DataLoader(tinyDataset(6, [], started), { batchSize: 2, shuffle: false });
  const seenAtYield: number[][] = [];
  for await (const _ of withLog.epoch(0)) seenAtYield.push([...started]);
  assert.deepEqual(seenAtYield, [[0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]);
  started.length = 0;
  const noPrefetch = new DataLoader(tinyDataset(6, [], started), {
    batchSize: 2,
    shuffle: false,
    prefetch: false,
  });
  const seen2: number[][] = [];
  for await (const _ of noPrefetch.epoch(0)) seen2.push([...started]);
  assert.deepEqual(seen2, [[0, 1], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5]]);
});

Deno.test("skip mode fills batches from later items and counts skipped items by reason", async () => {
  const skippedFiles: string[] = [];
  const loader = new DataLoader(tinyDataset(8, [1, 2, 6]), {
    batchSize: 3,
    shuffle: false,
    onError: "skip",
    onSkip: (e) => skippedFiles.push(e.file),
  });
  assert.deepEqual(await epochIndices(loader, 0), [[0, 3, 4], [5, 7]]);
  const stats = loader.stats();
  assert.equal(stats.skipped.total, 3);
  assert.deepEqual(stats.skipped.reasons, { "missing-file": 3 });
  assert.deepEqual(skippedFiles, ["img1.png", "img2.png", "img6.png"]);
  assert.match(stats.skipped.examples[0], /img1\.png: image 1: gone/);
});

Deno.test("throw mode stops the epoch with the DataError", async () => {
  const loader = new DataLoader(tinyDataset(8, [5]), { batchSize: 2, shuffle: false });
  const seen: number[][] = [];
  await assert.rejects(
    async () => {
      for await (const b of loader.epoch(0)) seen.push(b.indices);
    },
    (e) => e instanceof DataError && e.file === "img5.png",
  );
  assert.deepEqual(seen, [[0, 1], [2, 3]]);
});

Deno.test("transforms get a per-(epoch, item) seeded RNG; collation can pad", async () => {
  const ds = new ShapesDataset({ count: 8, width: 40, height: 30, seed: 2 });
  const make = () =>
    new DataLoader<TrainItem, PaddedBatch>(ds, {
      batchSize: 4,
      seed: 9,
      transform: randomFlipTransform(0.5),
      collate: (items) => collateBatch(items),
    });
  const a = [], b = [];
  for await (const x of make().epoch(0)) a.push(x);
  for await (const x of make().epoch(0)) b.push(x);
  assert.deepEqual(a.map((x) => x.batch.pixels), b.map((x) => x.batch.pixels));
  assert.equal(a[0].batch.height, 32);
  assert.equal(a[0].batch.width, 64);
  // Some items are flipped and some are not.
  let flipped = 0;
  for (const x of a) {
    for (const [k, idx] of x.indices.entries()) {
      const original = await ds.get(idx);
      if (original.target.boxes[0] !== x.items[k].target.boxes[0]) flipped++;
    }
  }
  assert.ok(flipped > 0 && flipped < 8, `flipped ${flipped} of 8`);
});
