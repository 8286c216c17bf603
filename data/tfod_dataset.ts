/**
 * TensorFlow Object Detection API datasets: TFRecord files of `tf.train.Example` with `image/encoded`,
 * `image/height`, `image/width`, normalised `image/object/bbox/{xmin,ymin,xmax,ymax}`,
 * `image/object/class/label` and optional instance masks in `image/object/mask`, either one single-channel
 * 0/1 PNG per object (bytes list) or a dense `num_boxes × H × W` float list (value > 0 is foreground).
 * Objects flagged in `image/object/is_crowd` are left out of the targets, as COCO's crowd regions are
 * (the item's `crowdCount` says how many); an image may have no objects (a negative).
 * @module
 */

import { DataError, type DataErrorLocation, type OnDataError } from "./errors.ts";
import { expandFilePatterns } from "./file_patterns.ts";
import { decodeImage, decodeMaskPng } from "./image_codec.ts";
import { decodeExample, type Example, type Feature } from "./tf_example.ts";
import { indexTfRecordFile, readTfRecordAt, type TfRecordEntry } from "./tfrecord.ts";
import type { Dataset, TrainItem } from "./types.ts";

/** Options of `loadTfodDataset`. */
export interface TfodDatasetOptions {
  /** Decode instance masks when present (default true). */
  withMasks?: boolean;
  /** While indexing, a damaged record header either stops loading (`"throw"`, default) or ends that file. */
  onError?: OnDataError;
}

/** One item of a TF Object Detection API dataset. */
export interface TfodItem extends TrainItem {
  /** The TFRecord file. */
  file: string;
  /** Index of the record in its file. */
  recordIndex: number;
  /** `image/filename`, if present. */
  filename?: string;
  /** `image/source_id`, if present. */
  sourceId?: string;
  /** Objects flagged `image/object/is_crowd` and left out of the target, when the record has the flags. */
  crowdCount?: number;
}

/** A TFRecord-backed dataset (random access through a record index). */
export interface TfodDataset extends Dataset<TfodItem> {
  /** The files read, in order. */
  readonly files: readonly string[];
  /** Damaged record headers met while indexing in `"skip"` mode (the rest of such a file is dropped). */
  readonly issues: readonly DataError[];
}

/**
 * Indexes TFRecord files (a glob pattern, a path, or a list of either) of TF OD API examples.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { loadTfodDataset } from "./tfod_dataset.ts";
 * import { writeTfodRecords } from "./tfod_writer.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const shapes = new ShapesDataset({ count: 3, width: 32, height: 32 });
 * const dir = await Deno.makeTempDir();
 * await writeTfodRecords(`${dir}/train-0.tfrecord`, [shapes.item(0), shapes.item(1)]);
 * await writeTfodRecords(`${dir}/train-1.tfrecord`, [shapes.item(2)]);
 * const ds = await loadTfodDataset(`${dir}/train-*.tfrecord`);
 * assert.strictEqual(ds.length, 3);
 * const { image, target } = await ds.get(2);
 * assert.deepStrictEqual(target.labels, shapes.item(2).target.labels);
 * assert.strictEqual(image.width, 32);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadTfodDataset(
  files: string | string[],
  options: TfodDatasetOptions = {},
): Promise<TfodDataset> {
  const paths = await expandFilePatterns(files);
  const records: { file: string; entry: TfRecordEntry; recordIndex: number }[] = [];
  const issues: DataError[] = [];
  for (const file of paths) {
    let entries: TfRecordEntry[];
    try {
      entries = await indexTfRecordFile(file);
    } catch (e) {
      if (!(e instanceof DataError) || options.onError !== "skip") throw e;
      issues.push(e);
      entries = (e.recordIndex !== undefined) ? await indexPrefix(file, e.recordIndex) : [];
    }
    entries.forEach((entry, recordIndex) => records.push({ file, entry, recordIndex }));
  }
  const withMasks = options.withMasks ?? true;
  return {
    files: paths,
    issues,
    length: records.length,
    async get(index: number): Promise<TfodItem> {
      const rec = records[index];
      if (!rec) throw new RangeError(`tfod_dataset.ts: index ${index} out of range 0..${records.length - 1}`);
      const data = await readTfRecordAt(rec.file, rec.entry, rec.recordIndex);
      const where = { file: rec.file, recordIndex: rec.recordIndex };
      let example: Example;
      try {
        example = decodeExample(data);
      } catch (e) {
        throw new DataError("bad-example", `malformed tf.train.Example (${(e as Error).message})`, where);
      }
      return { ...await decodeTfodExample(example, where, withMasks), ...where };
    },
  };
}

async function indexPrefix(file: string, goodRecords: number): Promise<TfRecordEntry[]> {
  // Re-read the headers that were fine before the damaged one.
  const entries: TfRecordEntry[] = [];
  const bytes = await Deno.readFile(file);
  let pos = 0;
  for (let i = 0; i < goodRecords; i++) {
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigUint64(0, true));
    entries.push({ offset: pos + 12, length });
    pos += 16 + length;
  }
  return entries;
}

function feature<K extends Feature["kind"]>(
  example: Example,
  key: string,
  kind: K,
  where: DataErrorLocation,
): Extract<Feature, { kind: K }> | undefined {
  const f = example.get(key);
  if (f === undefined || f.kind === "none") return undefined;
  if (f.kind !== kind) {
    throw new DataError("bad-example", `feature ${key} is a ${f.kind} list, expected ${kind}`, where);
  }
  return f as Extract<Feature, { kind: K }>;
}

function text(example: Example, key: string, where: DataErrorLocation): string | undefined {
  const f = feature(example, key, "bytes", where);
  return f && f.value.length > 0 ? new TextDecoder().decode(f.value[0]) : undefined;
}

/**
 * Converts a decoded TF OD API example into a training item. `where` locates the record in errors.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeTfodExample } from "./tfod_dataset.ts";
 * import { tfodExampleFromItem } from "./tfod_writer.ts";
 * import { decodeExample, encodeExample } from "./tf_example.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const source = new ShapesDataset({ count: 1, width: 32, height: 24 }).item(0);
 * const recordBytes = encodeExample(tfodExampleFromItem(source, { maskFormat: "png" }));
 * const item = await decodeTfodExample(decodeExample(recordBytes), { file: "a.tfrecord", recordIndex: 0 });
 * assert.deepStrictEqual(item.target.labels, source.target.labels);
 * assert.deepStrictEqual(item.target.masks, source.target.masks);
 * ```
 */
export async function decodeTfodExample(
  example: Example,
  where: DataErrorLocation,
  withMasks = true,
): Promise<TrainItem & { filename?: string; sourceId?: string; crowdCount?: number }> {
  const encoded = feature(example, "image/encoded", "bytes", where);
  if (!encoded || encoded.value.length !== 1) {
    throw new DataError("bad-example", "image/encoded must hold exactly one image", where);
  }
  const image = await decodeImage(encoded.value[0], where);
  const W = image.width, H = image.height;
  const h = feature(example, "image/height", "int64", where)?.value[0];
  const w = feature(example, "image/width", "int64", where)?.value[0];
  if ((h !== undefined && h !== H) || (w !== undefined && w !== W)) {
    throw new DataError(
      "bad-example",
      `image/height×width ${h}×${w} differ from the image's ${H}×${W}`,
      where,
    );
  }
  const coords = ["xmin", "ymin", "xmax", "ymax"].map((c) =>
    feature(example, `image/object/bbox/${c}`, "float", where)?.value ?? new Float32Array(0)
  );
  const labelList = feature(example, "image/object/class/label", "int64", where)?.value ?? [];
  const n = labelList.length;
  if (coords.some((c) => c.length !== n)) {
    throw new DataError(
      "bad-example",
      `bbox lists have lengths ${coords.map((c) => c.length).join("/")} but there are ${n} labels`,
      where,
    );
  }
  const boxes = new Float32Array(n * 4);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    if (!Number.isInteger(labelList[k]) || labelList[k] < 1) {
      throw new DataError("bad-example", `label ${labelList[k]} is not a class id >= 1`, {
        ...where,
        instanceIndex: k,
      });
    }
    labels[k] = labelList[k];
    const [x1, y1, x2, y2] = [coords[0][k] * W, coords[1][k] * H, coords[2][k] * W, coords[3][k] * H];
    if (!(x2 > x1 && y2 > y1)) {
      throw new DataError("zero-area-box", `box [${x1}, ${y1}, ${x2}, ${y2}] has no area`, {
        ...where,
        instanceIndex: k,
      });
    }
    boxes.set([x1, y1, x2, y2], 4 * k);
  }
  const item: TrainItem & { filename?: string; sourceId?: string; crowdCount?: number } = {
    image,
    target: { boxes, labels },
  };
  const filename = text(example, "image/filename", where);
  const sourceId = text(example, "image/source_id", where);
  if (filename !== undefined) item.filename = filename;
  if (sourceId !== undefined) item.sourceId = sourceId;
  const maskFeature = example.get("image/object/mask");
  if (withMasks && maskFeature && maskFeature.kind !== "none") {
    item.target.masks = await decodeInstanceMasks(maskFeature, n, W, H, where);
  }
  const crowd = feature(example, "image/object/is_crowd", "int64", where)?.value;
  if (crowd !== undefined && crowd.length > 0) {
    if (crowd.length !== n) {
      throw new DataError(
        "bad-example",
        `image/object/is_crowd has ${crowd.length} flags for ${n} objects`,
        where,
      );
    }
    const keep = Array.from({ length: n }, (_, k) => k).filter((k) => Number(crowd[k]) === 0);
    if (keep.length < n) {
      const plane = W * H;
      const t = item.target;
      const masks = t.masks;
      item.target = {
        boxes: Float32Array.from(keep.flatMap((k) => Array.from(t.boxes.subarray(4 * k, 4 * k + 4)))),
        labels: Int32Array.from(keep, (k) => t.labels[k]),
      };
      if (masks) {
        item.target.masks = new Uint8Array(keep.length * plane);
        keep.forEach((k, j) => item.target.masks!.set(masks.subarray(k * plane, (k + 1) * plane), j * plane));
      }
    }
    item.crowdCount = n - keep.length;
  }
  return item;
}

async function decodeInstanceMasks(
  f: Feature,
  n: number,
  W: number,
  H: number,
  where: DataErrorLocation,
): Promise<Uint8Array> {
  const masks = new Uint8Array(n * H * W);
  if (f.kind === "bytes") {
    if (f.value.length !== n) {
      throw new DataError("bad-mask", `${f.value.length} PNG masks for ${n} objects`, where);
    }
    for (let k = 0; k < n; k++) {
      const loc = { ...where, instanceIndex: k };
      const m = await decodeMaskPng(f.value[k], loc);
      if (m.width !== W || m.height !== H) {
        throw new DataError("bad-mask", `mask is ${m.height}×${m.width}, image is ${H}×${W}`, loc);
      }
      masks.set(m.mask, k * H * W);
    }
  } else if (f.kind === "float") {
    if (f.value.length !== n * H * W) {
      throw new DataError(
        "bad-mask",
        `dense mask has ${f.value.length} values, expected ${n}×${H}×${W}`,
        where,
      );
    }
    for (let i = 0; i < masks.length; i++) masks[i] = f.value[i] > 0 ? 1 : 0;
  } else throw new DataError("bad-mask", `image/object/mask is an ${f.kind} list`, where);
  return masks;
}
