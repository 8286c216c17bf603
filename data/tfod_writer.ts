/**
 * Writing TF Object Detection API examples: a training item becomes a `tf.train.Example` with a PNG image,
 * normalised boxes, labels and instance masks as per-object PNGs or a dense float list.
 * @module
 */

import { encodePng } from "./image_codec.ts";
import { bytesFeature, encodeExample, type Example, floatFeature, int64Feature } from "./tf_example.ts";
import { writeTfRecordFile } from "./tfrecord.ts";
import type { TrainItem } from "./types.ts";

/** Options of `tfodExampleFromItem`. */
export interface TfodWriteOptions {
  /** How masks are stored: one PNG per object (default) or a dense `n × H × W` float list. */
  maskFormat?: "png" | "dense";
  /** `image/filename` and `image/source_id`. */
  filename?: string;
  /** Class names for `image/object/class/text`, indexed by label. */
  classNames?: readonly string[];
}

/**
 * Builds a TF OD API example from a training item.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { tfodExampleFromItem } from "./tfod_writer.ts";
 * import { encodeExample } from "./tf_example.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const item = new ShapesDataset({ count: 1, width: 32, height: 32 }).item(0);
 * const example = tfodExampleFromItem(item, { maskFormat: "dense", filename: "0001.png" });
 * assert.ok(example.has("image/object/mask"));
 * const bytes = encodeExample(example); // one TFRecord payload
 * assert.ok(bytes.length > 32 * 32 * 3);
 * ```
 */
export function tfodExampleFromItem(item: TrainItem, options: TfodWriteOptions = {}): Example {
  const { image, target } = item;
  const W = image.width, H = image.height;
  const n = target.labels.length;
  const coord = (c: number, size: number) =>
    Array.from({ length: n }, (_, k) => target.boxes[4 * k + c] / size);
  const example: Example = new Map([
    ["image/encoded", bytesFeature([encodePng(image.data, W, H, 3)])],
    ["image/format", bytesFeature(["png"])],
    ["image/height", int64Feature([H])],
    ["image/width", int64Feature([W])],
    ["image/object/bbox/xmin", floatFeature(coord(0, W))],
    ["image/object/bbox/ymin", floatFeature(coord(1, H))],
    ["image/object/bbox/xmax", floatFeature(coord(2, W))],
    ["image/object/bbox/ymax", floatFeature(coord(3, H))],
    ["image/object/class/label", int64Feature(target.labels)],
  ]);
  if (options.filename !== undefined) {
    example.set("image/filename", bytesFeature([options.filename]));
    example.set("image/source_id", bytesFeature([options.filename]));
  }
  if (options.classNames) {
    example.set(
      "image/object/class/text",
      bytesFeature(Array.from(target.labels, (l) => options.classNames![l])),
    );
  }
  if (target.masks) {
    if (options.maskFormat === "dense") example.set("image/object/mask", floatFeature(target.masks));
    else {
      const pngs = Array.from(
        { length: n },
        (_, k) => encodePng(target.masks!.subarray(k * H * W, (k + 1) * H * W), W, H, 1),
      );
      example.set("image/object/mask", bytesFeature(pngs));
    }
  }
  return example;
}

/**
 * Writes training items as a TFRecord file of TF OD API examples.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { writeTfodRecords } from "./tfod_writer.ts";
 * import { loadTfodDataset } from "./tfod_dataset.ts";
 * import { ShapesDataset } from "./shapes.ts";
 * const shapes = new ShapesDataset({ count: 2, width: 32, height: 32 });
 * const items = [shapes.item(0), shapes.item(1)];
 * const dir = await Deno.makeTempDir();
 * await writeTfodRecords(`${dir}/shapes.tfrecord`, items, { maskFormat: "png" });
 * const back = await loadTfodDataset(`${dir}/shapes.tfrecord`);
 * assert.strictEqual(back.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTfodRecords(
  path: string,
  items: Iterable<TrainItem>,
  options: TfodWriteOptions = {},
): Promise<void> {
  const records: Uint8Array[] = [];
  for (const item of items) records.push(encodeExample(tfodExampleFromItem(item, options)));
  await writeTfRecordFile(path, records);
}
