/**
 * Training and validation data for `train` (and `eval --images`): parses dataset specs (`shapes[:COUNT]`,
 * `coco:ANN.json:IMGDIR`, `tfrecord:GLOB`, `folder:DIR`, `pennfudan:DIR`, `voc:DIR[:SPLIT]`), checks the named files before any work (usage errors), and
 * opens the dataset. Every item passes a check that turns labels outside the model's classes and missing
 * masks into `DataError`s, so the loader (`onError: "skip"`) skips and counts them instead of failing a
 * step; {@link skippedSummary} words the loader's tally.
 *
 * Decisions: shapes images are generated at the model's input size (`minSize` square), endlessly in
 * effect (default 100 000 items; the training set and the validation set use different seeds); images
 * without objects are kept (torchvision trains on such negatives: they teach the background); bad COCO
 * annotations are dropped and counted; COCO `_background_` categories are dropped with a note.
 * @module
 */
import {
  DataError,
  type DataErrorSummary,
  type Dataset,
  loadCocoDataset,
  loadFolderDataset,
  loadPennFudanDataset,
  loadTfodDataset,
  loadVocDataset,
  SHAPES_CLASS_NAMES,
  ShapesDataset,
  type TrainItem,
} from "../mod.ts";
import { requireFile, UsageError } from "./_common.ts";

/** A parsed dataset spec. */
export type DatasetSpec =
  | { kind: "shapes"; count?: number }
  | { kind: "coco"; annotations: string; images: string }
  | { kind: "tfrecord"; pattern: string }
  | { kind: "folder"; root: string }
  | { kind: "pennfudan"; root: string }
  | { kind: "voc"; root: string; split?: string };

/** An opened dataset and what the commands need to know about it. */
export interface OpenedDataset {
  /** The items as the dataset reads them (wrap with {@link checkedDataset} for a model). */
  dataset: Dataset<TrainItem>;
  /** Names item `i` in messages. */
  itemName: (index: number) => string;
  /** Class names by label (0 = background) when the data names them. */
  classNames?: readonly string[];
  /** Repairs made while indexing (dropped annotations, damaged records), by reason. */
  issues: number;
  /** COCO category id per label (entry 0 unused) when the data has category ids; else labels are ids. */
  categoryIds?: readonly number[];
  /** Things the user should know about the data (e.g. a dropped background category). */
  notes?: string[];
}

const SYNTAX =
  "shapes[:COUNT], coco:ANNOTATIONS.json:IMAGEDIR, tfrecord:GLOB, folder:DIR, pennfudan:DIR or voc:DIR[:SPLIT]";

/**
 * Parses a dataset spec given to option `what`; checks that named files and folders exist.
 *
 * @example
 * ```ts
 * import { parseDatasetSpec } from "./_train_data.ts";
 * console.log(await parseDatasetSpec("--dataset", "shapes:500")); // { kind: "shapes", count: 500 }
 * ```
 */
export async function parseDatasetSpec(what: string, text: string): Promise<DatasetSpec> {
  const colon = text.indexOf(":");
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? "" : text.slice(colon + 1);
  if (kind === "shapes") {
    if (colon < 0) return { kind };
    const count = Number(rest);
    if (!(Number.isInteger(count) && count >= 1)) {
      throw new UsageError(
        `${what} shapes:COUNT needs a positive integer count, got ${JSON.stringify(rest)}`,
      );
    }
    return { kind, count };
  }
  if (kind === "coco") {
    const sep = rest.indexOf(":");
    if (sep <= 0 || sep === rest.length - 1) {
      throw new UsageError(`${what} coco needs coco:ANNOTATIONS.json:IMAGEDIR, got ${JSON.stringify(text)}`);
    }
    const spec = { kind, annotations: rest.slice(0, sep), images: rest.slice(sep + 1) } as const;
    await requireFile(`${what} annotations`, spec.annotations);
    await requireFile(`${what} image folder`, spec.images, true);
    return spec;
  }
  if (kind === "tfrecord") {
    if (rest === "") {
      throw new UsageError(`${what} tfrecord needs tfrecord:GLOB (e.g. tfrecord:data/*.tfrecord)`);
    }
    return { kind, pattern: rest };
  }
  if (kind === "folder" || kind === "pennfudan" || kind === "voc") {
    if (rest === "") throw new UsageError(`${what} ${kind} needs ${kind}:DIR (the dataset's folder)`);
    let root = rest, split: string | undefined;
    if (kind === "voc") {
      // voc:DIR:SPLIT, unless DIR itself holds the colon (a folder named so).
      const sep = rest.lastIndexOf(":");
      if (sep > 0 && !(await isDirectory(rest))) [root, split] = [rest.slice(0, sep), rest.slice(sep + 1)];
    }
    await requireFile(`${what} ${kind} folder`, root, true);
    if (kind === "voc") {
      if (split !== undefined) {
        await requireFile(`${what} voc split`, `${root}/ImageSets/Segmentation/${split}.txt`);
        return { kind, root, split };
      }
      return { kind, root };
    }
    return { kind, root };
  }
  throw new UsageError(`${what} must be ${SYNTAX}, got ${JSON.stringify(text)}`);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** The spec as text (for the run state and messages). */
export function formatDatasetSpec(spec: DatasetSpec): string {
  if (spec.kind === "shapes") return spec.count === undefined ? "shapes" : `shapes:${spec.count}`;
  if (spec.kind === "coco") return `coco:${spec.annotations}:${spec.images}`;
  if (spec.kind === "voc") return `voc:${spec.root}${spec.split === undefined ? "" : `:${spec.split}`}`;
  if (spec.kind === "tfrecord") return `tfrecord:${spec.pattern}`;
  return `${spec.kind}:${spec.root}`;
}

/**
 * The dataset with each item checked against the model: labels in 1..numClasses−1 and, for Mask R-CNN,
 * masks; a bad item throws a `DataError` (skipped and counted by the loader).
 *
 * @example
 * ```ts
 * import { checkedDataset } from "./_train_data.ts";
 * import { ShapesDataset } from "../mod.ts";
 * const data = checkedDataset(new ShapesDataset({ count: 4 }), 4, true, (i) => `item ${i}`);
 * console.log((await data.get(0)).target.labels.length > 0); // true
 * ```
 */
export function checkedDataset(
  inner: Dataset<TrainItem>,
  numClasses: number,
  needMasks: boolean,
  name: (i: number) => string,
): Dataset<TrainItem> {
  return {
    get length() {
      return inner.length;
    },
    get issues() {
      return inner.issues;
    },
    async get(index: number) {
      const item = await inner.get(index);
      const bad = Array.from(item.target.labels).find((l) => !(l >= 1 && l < numClasses));
      if (bad !== undefined) {
        throw new DataError(
          "unknown-category",
          `label ${bad} is outside the model's classes 1..${numClasses - 1} (set numClasses)`,
          { file: name(index) },
        );
      }
      if (needMasks && item.target.labels.length > 0 && !item.target.masks) {
        throw new DataError("bad-mask", "no instance masks, which a Mask R-CNN needs", { file: name(index) });
      }
      return item;
    },
  };
}

/**
 * Opens a dataset; shapes images are `size`×`size`, generated from `seed`; masks are decoded when asked.
 *
 * @example
 * ```ts
 * import { openDataset } from "./_train_data.ts";
 * const { dataset } = await openDataset({ kind: "shapes", count: 8 }, { size: 64, seed: 1, masks: true });
 * console.log(dataset.length); // 8
 * ```
 */
export async function openDataset(
  spec: DatasetSpec,
  o: { size: number; seed: number; masks: boolean; defaultCount?: number },
): Promise<OpenedDataset> {
  if (spec.kind === "shapes") {
    const dataset = new ShapesDataset({
      count: spec.count ?? o.defaultCount ?? 100_000,
      width: o.size,
      height: o.size,
      seed: o.seed,
    });
    return {
      dataset,
      itemName: (i) => `shapes item ${i}`,
      classNames: SHAPES_CLASS_NAMES,
      issues: 0,
    };
  }
  if (spec.kind === "coco") {
    const dataset = await loadCocoDataset(spec.annotations, spec.images, {
      skipEmpty: false,
      withMasks: o.masks,
      onError: "skip",
    });
    const notes = dataset.droppedCategories.map((c) =>
      `${spec.annotations}: category ${c.id} ${JSON.stringify(c.name)} is background, not a class: left out`
    );
    return {
      dataset,
      itemName: (i) => `${spec.annotations}: image ${dataset.imageIds[i]}`,
      classNames: dataset.classNames,
      categoryIds: [-1, ...dataset.categoryIds],
      issues: dataset.issues.length,
      notes,
    };
  }
  if (spec.kind === "folder") {
    const dataset = await loadFolderDataset(spec.root);
    return { dataset, itemName: (i) => `${spec.root}: ${dataset.names[i]}`, issues: 0 };
  }
  if (spec.kind === "pennfudan" || spec.kind === "voc") {
    const dataset = spec.kind === "voc"
      ? await loadVocDataset(spec.root, { split: spec.split })
      : await loadPennFudanDataset(spec.root);
    return {
      dataset,
      itemName: (i) => `${spec.root}: ${dataset.names[i]}`,
      classNames: dataset.classNames,
      issues: 0,
    };
  }
  if (spec.kind !== "tfrecord") throw new Error(`unknown dataset kind ${JSON.stringify(spec)}`);
  const dataset = await loadTfodDataset(spec.pattern, { withMasks: o.masks, onError: "skip" });
  return {
    dataset,
    itemName: (i) => `${spec.pattern}: item ${i}`,
    issues: dataset.issues.length,
  };
}

/**
 * "3 items skipped (2 corrupt-image, 1 unknown-category)" or "no items skipped".
 *
 * @example
 * ```ts
 * import { skippedSummary } from "./_train_data.ts";
 * console.log(skippedSummary({ total: 0, reasons: {}, examples: [] })); // "no items skipped"
 * ```
 */
export function skippedSummary(summary: DataErrorSummary): string {
  if (summary.total === 0) return "no items skipped";
  const reasons = Object.entries(summary.reasons).map(([reason, n]) => `${n} ${reason}`).join(", ");
  return `${summary.total} item${summary.total === 1 ? "" : "s"} skipped (${reasons})`;
}
