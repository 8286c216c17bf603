/**
 * `eval --weights W --images SPEC` for datasets that are not COCO files (`folder:DIR`, `pennfudan:DIR`,
 * `voc:DIR[:SPLIT]`, `tfrecord:GLOB`, or `coco:ANN:DIR`): the ground truth is built from the dataset's
 * own targets (image id = item index, category id = label, crowd-free), the model detects on its images,
 * and `--save-gt FILE` writes that ground truth (with each image's `file_name`) so that `detect
 * --image-ids FILE` + `eval --gt FILE --results` can reproduce the numbers.
 *
 * Decision: the model's classes must be the dataset's (same count), since labels are the category ids on
 * both sides; a model trained on the dataset (`train --dataset SPEC`) always is.
 * @module
 */
import {
  type CocoGroundTruth,
  type CocoIouType,
  type CocoResult,
  DataError,
  toCocoResults,
  type TrainItem,
} from "../mod.ts";
import { type CliIo, numberOption, type ParsedValues, stringOption, UsageError } from "./_common.ts";
import { cocoGroundTruth } from "./_evaluate.ts";
import { cliConfig, detectEach, loadCliModel } from "./_model.ts";
import { runModelChoice } from "./_run_folder.ts";
import { openDataset, parseDatasetSpec } from "./_train_data.ts";

/**
 * Dataset specs `eval --images` takes besides a folder of the ground truth's images.
 * @example
 * ```ts
 * import { EVAL_SPEC } from "./_eval_dataset.ts";
 * console.log(EVAL_SPEC.test("pennfudan:PennFudanPed"), EVAL_SPEC.test("val2017")); // true false
 * ```
 */
export const EVAL_SPEC = /^(folder|pennfudan|voc|tfrecord|coco):/;

/**
 * Builds the ground truth of the dataset `spec`, detects on its images with the model of `values` and
 * returns both (see the module notes).
 *
 * @example
 * ```ts
 * import { detectOnDatasetSpec } from "./_eval_dataset.ts";
 * // const { gt, results } = await detectOnDatasetSpec(values, "pennfudan:PennFudanPed", "segm", io);
 * console.log(typeof detectOnDatasetSpec);
 * ```
 */
export async function detectOnDatasetSpec(
  values: ParsedValues,
  text: string,
  iouType: CocoIouType,
  io: CliIo,
): Promise<{ gt: CocoGroundTruth; results: CocoResult[] }> {
  const choice = await runModelChoice(values);
  const config = cliConfig(choice);
  if (iouType === "segm" && !config.maskHead) {
    throw new UsageError("--type segm needs a model with a mask head (this config has maskHead: false)");
  }
  const spec = await parseDatasetSpec("--images", text);
  if (spec.kind === "shapes") {
    throw new UsageError("--images shapes: evaluate generated shapes with train --val");
  }
  const opened = await openDataset(spec, { size: config.minSize, seed: 0, masks: iouType === "segm" });
  const names = opened.classNames ??
    Array.from({ length: config.numClasses }, (_, i) => (i === 0 ? "background" : `class ${i}`));
  if (names.length !== config.numClasses) {
    throw new UsageError(
      `--images ${text} has ${names.length - 1} classes but the model has ${config.numClasses - 1}; ` +
        "labels are the category ids here, so the model must be trained on this dataset's classes",
    );
  }
  const items: (TrainItem & { file?: string })[] = [];
  let skipped = 0;
  for (let i = 0; i < opened.dataset.length; i++) {
    try {
      items.push(await opened.dataset.get(i));
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      skipped++;
      io.err(`skipped ${opened.itemName(i)}: ${e.message}`);
    }
  }
  if (items.length === 0) throw new Error(`--images ${text}: no usable items`);
  const gt = cocoGroundTruth(items, names);
  items.forEach((item, i) => {
    if (item.file !== undefined) (gt.images[i] as { file_name?: string }).file_name = item.file;
  });
  const { model, ms } = await loadCliModel(choice);
  io.out(
    `loaded ${choice.weights} (${config.numClasses} classes) in ${ms.toFixed(0)} ms; ` +
      `${items.length} items from ${text}${skipped ? ` (${skipped} skipped)` : ""}`,
  );
  const scoreThreshold = numberOption(values, "score", { min: 0, max: 1 }, 0);
  const batch = numberOption(values, "batch", { min: 1, integer: true }, 1);
  const sources = items.map((item, i) => ({
    name: opened.itemName(i),
    read: () => Promise.resolve(item.image),
  }));
  const results: CocoResult[] = [];
  for await (const { index, detection } of detectEach(model, sources, { batch, scoreThreshold })) {
    const d = iouType === "segm" ? detection : { ...detection, masks: undefined };
    results.push(...toCocoResults(index, d, (label) => label));
  }
  const saveGt = stringOption(values, "save-gt");
  if (saveGt !== undefined) {
    await Deno.writeTextFile(saveGt, JSON.stringify(gt));
    io.out(`ground truth → ${saveGt}`);
  }
  return { gt, results };
}
