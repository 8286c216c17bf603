/**
 * `detect`: runs a Mask R-CNN on image files and writes, into `--out`, an overlay PNG per image (masks
 * tinted, boxes, "class score" labels) and one COCO results file (`results.json`, the format pycocotools'
 * `loadRes` and `eval --results` read). Prints one line per image (detections, top classes, ms); with
 * `--json` the last stdout line is one JSON object describing the run.
 *
 * Decisions: nothing is ever written over an input, and nothing over an existing file without
 * `--overwrite`; all output names are fixed, and the folder proved writable, before any work
 * (`_output.ts`). Overlays are named `<stem>_det.png`, with `_<n>` added when that name is taken by an input
 * or another overlay, so `--out` may be the input folder. An image that cannot be read or decoded is
 * skipped with a warning naming it; everything else is written (results.json included) and the exit code
 * is 3. Image ids are the input index unless `--image-ids` maps them; category ids are the labels
 * (torchvision's COCO models use category ids as labels) unless the config file has `categoryIds`. A
 * directory argument stands for its PNG/JPEG files (symbolic links followed).
 * @module
 */
import { basename, extname, join } from "node:path";
import {
  type CocoResultEntry,
  drawDetections,
  MAX_BATCH_IMAGES,
  readImageFile,
  toCocoResults,
} from "../mod.ts";
import {
  categoryIdsByLabel,
  classNamesFor,
  type CliIo,
  type Command,
  elapsedMs,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  numberOption,
  parseCommandLine,
  type ParsedValues,
  readJsonFile,
  requireFile,
  stringOption,
  UsageError,
} from "./_common.ts";
import { cliConfig, detectEach, loadCliModel } from "./_model.ts";
import { planDetectOutputs, prepareOutputFolder } from "./_output.ts";
import { runModelChoice } from "./_run_folder.ts";

const HELP = `Usage: deno task detect --weights FILE [options] IMAGES...

Detects objects in PNG/JPEG images (a directory stands for its images). Writes an overlay PNG per image
(<stem>_det.png, or <stem>_<n>_det.png when that name is an input or taken) and results.json (COCO
results) into --out, and prints a line per image. Never writes over an input; files already in --out are
replaced only with --overwrite (checked before any work). Images that cannot be decoded are skipped with
a warning; the others are written.

Model:
${MODEL_OPTIONS_HELP}

Detection and output:
  -s, --score X           keep detections with score ≥ X (default 0.5)
  -o, --out DIR           output folder, created if missing (default ./detections)
      --overwrite         replace files of an earlier run in --out (never an input image)
      --image-ids FILE    JSON image ids for results.json: an array (one per image, in order), an object
                          {file or basename: id}, or a COCO instances file (images[].file_name → id);
                          default: the image's index
      --batch N           images per forward pass, 1 to ${MAX_BATCH_IMAGES}; consecutive same-size images are
                          batched (default 1)
      --json              end with one JSON line: per-image counts, ms, skipped images, files written
  -h, --help              this help

Exit codes: 0 done, 1 failed (bad weights, no GPU), 2 bad arguments (also: an output file in the way,
--out not writable), 3 done but some images were skipped (undecodable; each named in a warning).

Example:
  deno task detect --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --bn-eps 0 --out out street.jpg`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  score: { type: "string", short: "s" },
  out: { type: "string", short: "o" },
  overwrite: { type: "boolean" },
  "image-ids": { type: "string" },
  batch: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** Expands directory arguments to their images (sorted) and checks that every file exists. */
async function imageFiles(positionals: readonly string[]): Promise<string[]> {
  if (positionals.length === 0) throw new UsageError("no images given (pass one or more IMAGE files)");
  const files: string[] = [];
  for (const [i, arg] of positionals.entries()) {
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(arg);
    } catch { /* reported below, naming the argument */ }
    if (info?.isDirectory) {
      const inside: string[] = [];
      for await (const entry of Deno.readDir(arg)) {
        // A symbolic link is followed (a dangling one is kept, and skipped with a warning when read).
        if ((entry.isFile || entry.isSymlink) && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
          const path = join(arg, entry.name);
          if (entry.isFile || !(await Deno.stat(path).catch(() => undefined))?.isDirectory) inside.push(path);
        }
      }
      if (inside.length === 0) throw new UsageError(`image argument ${i + 1}: no PNG/JPEG files in ${arg}`);
      files.push(...inside.sort());
    } else {
      await requireFile(`image argument ${i + 1}`, arg);
      files.push(arg);
    }
  }
  return files;
}

/** Image ids per file from `--image-ids` (see the help text), or the indices. */
async function imageIds(values: ParsedValues, files: readonly string[]): Promise<number[]> {
  const path = stringOption(values, "image-ids");
  if (path === undefined) return files.map((_, i) => i);
  const json = await readJsonFile("--image-ids", path);
  const bad = (detail: string): never => {
    throw new UsageError(`--image-ids: ${path}: ${detail}`);
  };
  if (Array.isArray(json)) {
    if (json.length !== files.length) bad(`has ${json.length} ids for ${files.length} images`);
    json.forEach((id, i) => Number.isFinite(id) || bad(`entry ${i} is not a number`));
    return json as number[];
  }
  if (json === null || typeof json !== "object") bad("expected an array, an object or a COCO file");
  const map = new Map<string, number>();
  const images = (json as { images?: unknown }).images;
  if (Array.isArray(images)) {
    for (const img of images) {
      if (typeof img?.file_name === "string" && Number.isFinite(img?.id)) map.set(img.file_name, img.id);
    }
  } else {
    for (const [key, id] of Object.entries(json as Record<string, unknown>)) {
      if (!Number.isFinite(id)) bad(`the id of ${JSON.stringify(key)} is not a number`);
      map.set(key, id as number);
    }
  }
  // A COCO file_name may hold folders ("train/a.png"): match the end of the path too.
  const bySuffix = (file: string) => {
    const slashed = file.replaceAll("\\", "/");
    for (const [key, id] of map) if (slashed.endsWith(`/${key.replace(/^\.?\//, "")}`)) return id;
  };
  return files.map((file) =>
    map.get(file) ?? bySuffix(file) ?? map.get(basename(file)) ?? bad(`no id for image ${file}`)
  );
}

/** "2 person, 1 dog" for the three most frequent classes. */
function topClasses(labels: Int32Array, names: readonly string[] | undefined): string {
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const parts = sorted.slice(0, 3).map(([label, n]) => `${n} ${names?.[label] ?? `class ${label}`}`);
  if (sorted.length > 3) parts.push("…");
  return parts.join(", ");
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const choice = await runModelChoice(values);
  const files = await imageFiles(positionals);
  const ids = await imageIds(values, files);
  const scoreThreshold = numberOption(values, "score", { min: 0, max: 1 }, 0.5);
  const batch = numberOption(values, "batch", { min: 1, max: MAX_BATCH_IMAGES, integer: true }, 1);
  const out = stringOption(values, "out") ?? "detections";
  const json = values.json === true;
  const config = cliConfig(choice);
  const names = classNamesFor(config, choice.classNames);
  const byLabel = categoryIdsByLabel(config.numClasses, choice.categoryIds);
  await prepareOutputFolder("--out", out);
  const outputs = await planDetectOutputs(out, files, values.overwrite === true);
  // Only names planned above are written, each once; without --overwrite none of them exists yet.
  const writeOptions = { createNew: values.overwrite !== true };

  const start = performance.now();
  const { model, ms: loadMs } = await loadCliModel(choice);
  io.out(
    `loaded ${choice.weights} (${
      choice.configSource
        ? `config from ${choice.configSource}`
        : choice.options.preset ?? "maskrcnn_resnet50_fpn"
    }, ${config.numClasses} ` +
      `classes) in ${loadMs.toFixed(0)} ms`,
  );

  const results: CocoResultEntry[] = [];
  const perImage: Record<string, unknown>[] = [];
  const written: string[] = [];
  const skipped: { file: string; error: string }[] = [];
  const onSkip = (index: number, error: Error) => {
    skipped.push({ file: files[index], error: error.message });
    io.err(`warning: [${index + 1}/${files.length}] skipped ${files[index]}: ${error.message}`);
  };
  const sources = files.map((file) => ({ name: file, read: () => readImageFile(file) }));
  for await (
    const { index, image, detection, ms } of detectEach(model, sources, { batch, scoreThreshold, onSkip })
  ) {
    const file = files[index];
    const overlay = outputs.overlays[index];
    await Deno.writeFile(overlay, drawDetections(image, detection, { classNames: names }), writeOptions);
    written.push(overlay);
    results.push(...toCocoResults(ids[index], detection, byLabel ?? ((label) => label)));
    const what = detection.count === 0
      ? "no detections"
      : `${detection.count} detection${detection.count === 1 ? "" : "s"} (${
        topClasses(detection.labels, names)
      })`;
    io.out(
      `[${index + 1}/${files.length}] ${file} ${image.width}×${image.height}: ${what}, ${ms.toFixed(1)} ms` +
        ` → ${overlay}`,
    );
    perImage.push({
      file,
      imageId: ids[index],
      width: image.width,
      height: image.height,
      count: detection.count,
      ms: Math.round(ms * 10) / 10,
      overlay,
    });
  }
  const resultsPath = outputs.results;
  await Deno.writeTextFile(resultsPath, JSON.stringify(results), writeOptions);
  written.push(resultsPath);
  const total = perImage.reduce((s, r) => s + (r.count as number), 0);
  const skippedNote = skipped.length > 0 ? ` (${skipped.length} skipped: undecodable)` : "";
  io.out(`${total} detections in ${perImage.length} images${skippedNote}; COCO results → ${resultsPath}`);
  if (json) {
    io.out(JSON.stringify({
      command: "detect",
      weights: String(choice.weights),
      numClasses: config.numClasses,
      scoreThreshold,
      loadMs,
      totalMs: elapsedMs(start),
      images: perImage,
      skipped,
      results: resultsPath,
      files: written,
    }));
  }
  return skipped.length > 0 ? 3 : 0;
}

/**
 * The `detect` subcommand (see its `--help`).
 *
 * @example
 * ```ts
 * import { detectCommand } from "./detect.ts";
 * import { consoleIo } from "./_common.ts";
 * await detectCommand.run(["--help"], consoleIo);
 * ```
 */
export const detectCommand: Command = {
  name: "detect",
  help: HELP,
  run,
};
