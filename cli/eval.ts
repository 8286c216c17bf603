/**
 * `eval`: COCO evaluation of a results file against an instances ground truth (pycocotools' numbers and its
 * 12-line summary), or, with `--weights` and `--images`, of a model's detections on the ground truth's own
 * images (file_name under `--images`).
 *
 * Decisions: a model's labels become COCO category ids through the config file's `categoryIds` if given;
 * else through the ground truth's contiguous mapping (label k = k-th category by id, as `loadCocoDataset`
 * trains) when numClasses = categories + 1; else unchanged when every category id is a valid label
 * (torchvision's 91-class COCO models). Detection in `eval` keeps every detection (`--score` default 0),
 * as COCO evaluation expects. Data problems (bad JSON in --gt/--results, undecodable image, a result on an
 * unknown image) exit 1; command-line problems exit 2.
 * @module
 */
import {
  type CocoGroundTruth,
  type CocoIouType,
  type CocoResult,
  evaluateCoco,
  formatCocoSummary,
  loadCocoDataset,
  type MaskRcnnConfig,
  MAX_BATCH_IMAGES,
  readCocoResults,
  readJsonFile,
  toCocoResults,
} from "../mod.ts";
import {
  categoryIdsByLabel,
  type CliIo,
  type Command,
  elapsedMs,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  type ModelChoice,
  numberOption,
  parseCommandLine,
  type ParsedValues,
  requireFile,
  stringOption,
  UsageError,
} from "./_common.ts";
import { cliConfig, detectEach, loadCliModel } from "./_model.ts";
import { prepareOutputFolder } from "./_output.ts";
import { dirname } from "node:path";
import { detectOnDatasetSpec, EVAL_SPEC } from "./_eval_dataset.ts";
import { runModelChoice } from "./_run_folder.ts";

const HELP = `Usage: deno task eval --gt instances.json --results results.json [--type bbox|segm] [options]
       deno task eval --gt instances.json --weights FILE --images DIR [--type bbox|segm] [options]
       deno task eval --weights run/model.safetensors --images pennfudan:DIR [--type bbox|segm] [options]

COCO evaluation (pycocotools' COCOeval with default parameters): prints the 12-line summary. With --weights
and --images, first runs the model on the ground truth's images (file_name under DIR).

  -g, --gt FILE           COCO instances JSON (ground truth; required)
  -r, --results FILE      COCO results JSON (e.g. results.json from detect)
  -t, --type TYPE         bbox or segm (default bbox)
      --per-category      also print AP/AP50/AR100 per category (and add "perCategory" to --json)
      --json              end with one JSON line: {"iouType", "stats": [12 numbers], "perCategory"?}
  -h, --help              this help

Detecting first (instead of --results):
${MODEL_OPTIONS_HELP}
  -i, --images DIR        folder of the ground truth's images
  -s, --score X           keep detections with score ≥ X (default 0: COCO evaluation wants them all)
      --batch N           images per forward pass, 1 to ${MAX_BATCH_IMAGES} (consecutive same-size images;
                          default 1)
      --save-results FILE also write the detections as COCO results JSON (its folder is created and
                          checked before detection starts)
  Labels map to category ids by the config file's "categoryIds", else by the ground truth's sorted
  categories when numClasses = categories + 1, else label = category id (torchvision's COCO models).
  With --weights run/model.safetensors, the run's config, names and category ids come with it.

Evaluating a dataset that has no COCO file (no --gt; ground truth from the dataset's masks):
  -i, --images SPEC       folder:DIR | pennfudan:DIR | voc:DIR[:SPLIT] | tfrecord:GLOB | coco:ANN:DIR;
                          image id = item index, category id = label
      --save-gt FILE      write that ground truth as a COCO file (for detect --image-ids, eval --gt)

Exit codes: 0 done, 1 failed (bad data, undecodable image, bad weights, no GPU), 2 bad arguments.

Examples:
  deno task eval --gt instances_val2017.json --results detections/results.json --type segm
  deno task eval --gt instances_val2017.json --images val2017 --weights model.pth --bn-eps 0 --type bbox`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  gt: { type: "string", short: "g" },
  results: { type: "string", short: "r" },
  type: { type: "string", short: "t" },
  images: { type: "string", short: "i" },
  score: { type: "string", short: "s" },
  batch: { type: "string" },
  "save-results": { type: "string" },
  "save-gt": { type: "string" },
  "per-category": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Reads and parses a JSON file whose contents are data: bad JSON is a failure (exit 1) naming the file. */
async function readDataJson(what: string, path: string): Promise<unknown> {
  await requireFile(what, path);
  try {
    return await readJsonFile(path);
  } catch (e) {
    throw new Error(`${what} ${(e as Error).message}`, { cause: e });
  }
}

function checkGroundTruth(json: unknown, path: string): CocoGroundTruth {
  const gt = json as CocoGroundTruth;
  for (const key of ["images", "annotations", "categories"] as const) {
    if (!Array.isArray(gt?.[key])) {
      throw new Error(`--gt ${path}: no "${key}" array; not a COCO instances file`);
    }
  }
  if (gt.categories.length === 0) {
    throw new Error(`--gt ${path}: "categories" is empty; there is nothing to evaluate`);
  }
  return gt;
}

/** Warns when results have categories the ground truth does not know (COCO evaluation ignores them). */
function warnUnknownCategories(gt: CocoGroundTruth, results: readonly CocoResult[], io: CliIo): void {
  const known = new Set(gt.categories.map((c) => c.id));
  const unknown = new Set(results.map((r) => r.category_id).filter((id) => !known.has(id)));
  if (unknown.size === 0) return;
  const count = results.filter((r) => !known.has(r.category_id)).length;
  const list = (ids: Iterable<number>) => {
    const all = [...ids].sort((a, b) => a - b);
    return all.slice(0, 8).join(", ") + (all.length > 8 ? ", …" : "");
  };
  const none = count === results.length;
  io.err(
    `warning: ${none ? `none of the ${count} results has` : `${count} of ${results.length} results have`} ` +
      `a category of the ground truth (result category ids ${list(unknown)}; ground truth ${list(known)}); ` +
      `${none ? "every AP will be 0" : "they are ignored"}: check the results' category ids (for a model, ` +
      `"categoryIds" in --config)`,
  );
}

/** Label → category id for a model evaluated on `gt` (see the module header). */
function labelMapping(
  config: MaskRcnnConfig,
  choice: ModelChoice,
  gt: CocoGroundTruth,
  contiguous: readonly number[],
) {
  const numClasses = config.numClasses;
  const fromConfig = categoryIdsByLabel(numClasses, choice.categoryIds);
  if (fromConfig) return fromConfig;
  if (numClasses === contiguous.length + 1) return [-1, ...contiguous];
  const maxId = Math.max(...gt.categories.map((c) => c.id));
  if (maxId < numClasses) return (label: number) => label;
  throw new UsageError(
    `cannot map the model's ${numClasses} classes to the ground truth's ${contiguous.length} categories ` +
      `(ids up to ${maxId}); give "categoryIds" in --config`,
  );
}

async function detectOnGroundTruth(
  values: ParsedValues,
  gtPath: string,
  gt: CocoGroundTruth,
  iouType: CocoIouType,
  io: CliIo,
): Promise<CocoResult[]> {
  const choice = await runModelChoice(values);
  const imagesDir = stringOption(values, "images");
  if (imagesDir === undefined) {
    throw new UsageError("--weights needs --images DIR (the ground truth's images)");
  }
  await requireFile("--images", imagesDir, true);
  const scoreThreshold = numberOption(values, "score", { min: 0, max: 1 }, 0);
  const batch = numberOption(values, "batch", { min: 1, max: MAX_BATCH_IMAGES, integer: true }, 1);
  const save = stringOption(values, "save-results");
  if (save !== undefined) {
    if ((await Deno.stat(save).catch(() => undefined))?.isDirectory) {
      throw new UsageError(`--save-results: ${save} is a folder; name the results file`);
    }
    await prepareOutputFolder("--save-results", dirname(save) || ".");
  }
  const dataset = await loadCocoDataset(gtPath, imagesDir, { withMasks: false });
  const config = cliConfig(choice);
  if (iouType === "segm" && !config.maskHead) {
    throw new UsageError("--type segm needs a model with a mask head (this config has maskHead: false)");
  }
  const mapping = labelMapping(config, choice, gt, dataset.categoryIds);
  const { model, ms: loadMs } = await loadCliModel(choice);
  io.out(`loaded ${choice.weights} (${model.config.numClasses} classes) in ${loadMs.toFixed(0)} ms`);
  const sources = dataset.imageIds.map((_, i) => ({
    name: `image ${dataset.imageIds[i]}`,
    read: async () => (await dataset.get(i)).image,
  }));
  const results: CocoResult[] = [];
  const start = performance.now();
  const every = Math.max(1, Math.ceil(sources.length / 10));
  for await (const { index, detection } of detectEach(model, sources, { batch, scoreThreshold })) {
    const d = iouType === "segm" ? detection : { ...detection, masks: undefined };
    results.push(...toCocoResults(dataset.imageIds[index], d, mapping));
    if ((index + 1) % every === 0 || index + 1 === sources.length) {
      io.out(`detected ${index + 1}/${sources.length} images, ${results.length} detections`);
    }
  }
  io.out(`detection took ${(elapsedMs(start) / 1000).toFixed(1)} s`);
  if (save !== undefined) {
    await Deno.writeTextFile(save, JSON.stringify(results));
    io.out(`COCO results → ${save}`);
  }
  return results;
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const gtPath = stringOption(values, "gt");
  const imagesSpec = stringOption(values, "images");
  const fromDataset = imagesSpec !== undefined && EVAL_SPEC.test(imagesSpec);
  if (gtPath === undefined && !fromDataset) {
    throw new UsageError("--gt FILE (COCO instances JSON) is required (or --images SPEC of a dataset)");
  }
  const type = stringOption(values, "type") ?? "bbox";
  if (type !== "bbox" && type !== "segm") {
    throw new UsageError(`--type must be bbox or segm, got ${JSON.stringify(type)}`);
  }
  const resultsPath = stringOption(values, "results");
  const weights = stringOption(values, "weights");
  if ((resultsPath === undefined) === (weights === undefined)) {
    throw new UsageError("give either --results FILE or --weights FILE with --images DIR");
  }
  if (resultsPath !== undefined) await requireFile("--results", resultsPath);
  if (fromDataset && gtPath !== undefined) {
    throw new UsageError(`--images ${imagesSpec} builds the ground truth from the dataset: drop --gt`);
  }
  if (fromDataset && weights === undefined) throw new UsageError("--images SPEC needs --weights FILE");
  let gt: CocoGroundTruth;
  let results: CocoResult[];
  if (fromDataset) {
    ({ gt, results } = await detectOnDatasetSpec(values, imagesSpec!, type, io));
  } else if (resultsPath !== undefined) {
    gt = checkGroundTruth(await readDataJson("--gt", gtPath!), gtPath!);
    try {
      results = readCocoResults(await Deno.readTextFile(resultsPath));
    } catch (e) {
      throw new Error(`--results ${resultsPath}: ${(e as Error).message}`);
    }
  } else {
    gt = checkGroundTruth(await readDataJson("--gt", gtPath!), gtPath!);
    results = await detectOnGroundTruth(values, gtPath!, gt, type, io);
  }
  warnUnknownCategories(gt, results, io);
  io.out(`evaluating ${results.length} results on ${gt.images.length} images (${type})`);
  const start = performance.now();
  const evaluation = evaluateCoco(gt, results, { iouType: type });
  for (const line of formatCocoSummary(evaluation.stats, type).split("\n")) io.out(line);
  const perCategory = values["per-category"] === true;
  const names = new Map(gt.categories.map((c) => [c.id, c.name ?? String(c.id)]));
  if (perCategory) {
    io.out("category                 AP     AP50   AP75   AR100");
    const f = (v: number) => (v < 0 ? "  -   " : v.toFixed(3)).padStart(6);
    for (const c of evaluation.perCategory) {
      const label = `${c.categoryId} ${names.get(c.categoryId)}`.slice(0, 22).padEnd(22);
      io.out(`${label} ${f(c.ap)} ${f(c.ap50)} ${f(c.ap75)} ${f(c.ar100)}`);
    }
  }
  io.out(`evaluation took ${elapsedMs(start).toFixed(0)} ms`);
  if (values.json === true) {
    const line: Record<string, unknown> = { iouType: type, stats: evaluation.stats };
    if (perCategory) {
      line.perCategory = evaluation.perCategory.map((c) => ({ ...c, name: names.get(c.categoryId) }));
    }
    io.out(JSON.stringify(line));
  }
  return 0;
}

/**
 * The `eval` subcommand (see its `--help`).
 *
 * @example
 * ```ts
 * import { evalCommand } from "./eval.ts";
 * import { consoleIo } from "./_common.ts";
 * await evalCommand.run(["--help"], consoleIo);
 * ```
 */
export const evalCommand: Command = {
  name: "eval",
  help: HELP,
  run,
};
