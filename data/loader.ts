/**
 * Batch loader: seeded shuffling per epoch, per-item transforms with a per-(epoch, item) seeded RNG, batches
 * collated by a user function, and prefetch (the next batch starts loading before the current one is
 * handed out, so decoding overlaps training). Bad items (`DataError`) are skipped and counted with a summary
 * of reasons, or stop the epoch with the error, as chosen by `onError`.
 * @module
 */

import { DataError, type DataErrorSummary, DataErrorTally, type OnDataError } from "./errors.ts";
import { deriveSeed, Rng } from "./prng.ts";
import type { ItemTransform } from "./transforms.ts";
import type { Batch, Dataset, TrainItem } from "./types.ts";

/** Options of `DataLoader`. */
export interface LoaderOptions<T extends TrainItem, B> {
  /** Items per batch. */
  batchSize: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Seed of shuffling and transforms (default 0). */
  seed?: number;
  /** Drop a last batch smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Per-item transform (resize, flip, ...), applied after loading. */
  transform?: ItemTransform<T>;
  /** Builds a batch from items; default `{ images, targets }`. Use `collateBatch` for padded batches. */
  collate?: (items: T[]) => B;
  /** `"skip"`: drop a bad item, count it and fill the batch from the next ones; `"throw"` (default): stop. */
  onError?: OnDataError;
  /** Called for each skipped item. */
  onSkip?: (error: DataError, index: number) => void;
  /** Load the next batch while the current one is used (default true). */
  prefetch?: boolean;
}

/** One batch as handed out by the loader. */
export interface LoadedBatch<T extends TrainItem, B> {
  /** The collated batch. */
  batch: B;
  /** The items (after transforms) in batch order. */
  items: T[];
  /** Dataset indices of the items. */
  indices: number[];
  /** Epoch number. */
  epoch: number;
  /** Batch number within the epoch. */
  step: number;
}

/** Loader counters. */
export interface LoaderStats {
  /** Items loaded successfully (all epochs). */
  itemsLoaded: number;
  /** Items skipped because of bad data, with reasons. */
  skipped: DataErrorSummary;
  /** Problems repaired by the dataset while indexing (e.g. dropped annotations), with reasons. */
  repaired: DataErrorSummary;
}

function defaultCollate<T extends TrainItem>(items: T[]): Batch {
  return { images: items.map((it) => it.image), targets: items.map((it) => it.target) };
}

/**
 * Iterates a dataset in batches.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { DataLoader } from "./loader.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const loader = new DataLoader(new ShapesDataset({ count: 8, width: 32, height: 32 }), {
 *   batchSize: 4,
 *   seed: 1,
 *   onError: "skip",
 * });
 * let batches = 0;
 * for await (const { batch } of loader.epoch(0)) {
 *   assert.strictEqual(batch.images.length, 4); // trainStep(model, batch, opt) would go here
 *   batches++;
 * }
 * assert.strictEqual(batches, 2);
 * assert.strictEqual(loader.stats().skipped.total, 0);
 * ```
 */
export class DataLoader<T extends TrainItem, B = Batch> {
  readonly #dataset: Dataset<T>;
  readonly #options: LoaderOptions<T, B>;
  readonly #skipped = new DataErrorTally();
  #loaded = 0;

  constructor(dataset: Dataset<T>, options: LoaderOptions<T, B>) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`loader.ts: batchSize must be a positive integer, got ${options.batchSize}`);
    }
    this.#dataset = dataset;
    this.#options = options;
  }

  /** Number of batches per epoch when no item is skipped. */
  get batchesPerEpoch(): number {
    const n = this.#dataset.length, bs = this.#options.batchSize;
    return this.#options.dropLast ? Math.floor(n / bs) : Math.ceil(n / bs);
  }

  /** The item order of `epoch` (a seeded permutation, or 0..n-1 without shuffling). */
  order(epoch: number): number[] {
    const order = Array.from({ length: this.#dataset.length }, (_, i) => i);
    if (this.#options.shuffle ?? true) {
      new Rng(deriveSeed(this.#options.seed ?? 0, epoch, 0x5eed)).shuffle(order);
    }
    return order;
  }

  /** Counters: items loaded, skipped (by reason) and repaired by the dataset. */
  stats(): LoaderStats {
    const repaired = new DataErrorTally();
    for (const e of this.#dataset.issues ?? []) repaired.add(e);
    return { itemsLoaded: this.#loaded, skipped: this.#skipped.summary(), repaired: repaired.summary() };
  }

  async #loadItem(index: number, epoch: number): Promise<T | DataError> {
    try {
      const item = await this.#dataset.get(index);
      const t = this.#options.transform;
      return t ? t(item, new Rng(deriveSeed(this.#options.seed ?? 0, epoch, index))) : item;
    } catch (e) {
      if (e instanceof DataError && this.#options.onError === "skip") return e;
      throw e;
    }
  }

  async #nextBatch(order: number[], cursor: { pos: number }, epoch: number, step: number) {
    const bs = this.#options.batchSize;
    const items: T[] = [];
    const indices: number[] = [];
    while (items.length < bs && cursor.pos < order.length) {
      const take = order.slice(cursor.pos, cursor.pos + bs - items.length);
      cursor.pos += take.length;
      const results = await Promise.all(take.map((i) => this.#loadItem(i, epoch)));
      results.forEach((r, k) => {
        if (r instanceof DataError) {
          this.#skipped.add(r);
          this.#options.onSkip?.(r, take[k]);
        } else {
          items.push(r);
          indices.push(take[k]);
        }
      });
    }
    this.#loaded += items.length;
    if (items.length === 0 || (this.#options.dropLast && items.length < bs)) return null;
    const collate = this.#options.collate ?? (defaultCollate as unknown as (items: T[]) => B);
    return { batch: collate(items), items, indices, epoch, step } satisfies LoadedBatch<T, B>;
  }

  /**
   * Yields the batches of one epoch. With prefetch, batch k+1 is already loading while batch k is used.
   * @example
   * ```ts
   * import assert from "node:assert";
   * import { DataLoader } from "./loader.ts";
   * import { ShapesDataset } from "./shapes.ts";
   * const loader = new DataLoader(new ShapesDataset({ count: 6, width: 32, height: 32 }), { batchSize: 3, seed: 1 });
   * const seen: number[] = [];
   * for await (const { indices } of loader.epoch(3)) seen.push(...indices);
   * assert.deepStrictEqual(seen.toSorted(), [0, 1, 2, 3, 4, 5]); // each item once, in a shuffled order
   * ```
   */
  async *epoch(epoch: number): AsyncGenerator<LoadedBatch<T, B>> {
    const order = this.order(epoch);
    const cursor = { pos: 0 };
    const prefetch = this.#options.prefetch ?? true;
    let step = 0;
    const start = () => {
      const p = this.#nextBatch(order, cursor, epoch, step++);
      p.catch(() => {}); // a prefetched failure is reported when awaited, not as an unhandled rejection
      return p;
    };
    let pending = start();
    while (true) {
      const current = await pending;
      if (current === null) return;
      if (prefetch) pending = start();
      yield current;
      if (!prefetch) pending = start();
    }
  }
}
