/**
 * `train`: trains a Mask R-CNN on generated shapes, a COCO dataset or TFRecord shards, from scratch
 * (`initWeights`) or from `--weights`, writing a run folder: `run.json` (settings), `losses.jsonl` (one
 * JSON line per step), `checkpoint.safetensors` (every `--checkpoint-every` steps and at the end, atomic),
 * `loss_curve.png`, `eval.jsonl` (with `--val`) and the final `model.safetensors`. `--resume` continues a
 * run from its checkpoint bit for bit (weights, optimizer state, samplers and the data order).
 *
 * Decisions: the default model is the `small` preset (the one this machine can train); a COCO dataset
 * sets numClasses to its categories + 1 unless the config or `--num-classes` sets it; on `--resume` the
 * settings come from `run.json` and only `--steps`, `--val` and the logging options may change (a
 * different dataset, batch, seed, optimizer or model would break the bit-for-bit promise: usage error).
 * @module
 */
import {
  DataError,
  DataLoader,
  type Dataset,
  deriveSeed,
  loadStateDict,
  type MaskRcnnModel,
  MAX_BATCH_IMAGES,
  NonFiniteLossError,
  PRESETS,
  removeStaleTempFiles,
  type TrainItem,
  writeFileAtomic,
} from "../mod.ts";
import {
  type CliIo,
  type Command,
  configChoice,
  elapsedMs,
  numberOption,
  parseCommandLine,
  type ParsedValues,
  requireFile,
  stringOption,
  UsageError,
} from "./_common.ts";
import { evaluateItems } from "./_evaluate.ts";
import type { LossRecord } from "./_loss_curve.ts";
import { cliConfig } from "./_model.ts";
import {
  checkedDataset,
  formatDatasetSpec,
  openDataset,
  type OpenedDataset,
  parseDatasetSpec,
  skippedSummary,
} from "./_train_data.ts";
import { formatDuration, trainLoop } from "./_train_loop.ts";
import { type DistributedRun, startDistributed } from "./_distributed.ts";
import { prepareModel, writeFinalWeights } from "./_train_model.ts";
import { findRunConfig, fittingPreset, modelFile, RUN_METADATA_KEY } from "./_run_folder.ts";
import {
  optimizerFromArgs,
  readLossHistory,
  readRunSettings,
  runFiles,
  type RunSettings,
  truncateJsonLines,
} from "./_train_run.ts";

const HELP = `Usage: deno task train --dataset SPEC --out RUNDIR [options]
       deno task train --out RUNDIR --resume [--steps N] [options]

Trains a Mask R-CNN (from scratch, or from --weights) and writes into RUNDIR: run.json (settings),
losses.jsonl (one JSON line per step), checkpoint.safetensors, loss_curve.png, eval.jsonl (with --val)
and model.safetensors (final weights, loadable by detect / eval). Prints a progress line (step/total,
images/s, ETA, the five losses): in place on a terminal, every --log-every steps otherwise.

Data (SPEC: shapes[:COUNT] | coco:ANNOTATIONS.json:IMAGEDIR | tfrecord:GLOB | folder:DIR |
      pennfudan:DIR | voc:DIR[:SPLIT]):
  -d, --dataset SPEC       training data; shapes are generated (seeded) at the model's input size;
                           folder: images/NAME.png + masks/NAME_<k>_<label>.png; pennfudan: PNGImages/ +
                           PedMasks/ (instance ids per pixel); voc: JPEGImages/ + SegmentationObject/ +
                           SegmentationClass/ (255 = void), SPLIT from ImageSets/Segmentation/SPLIT.txt
      --val SPEC           validation data (shapes: 50 new images), evaluated every --eval-every steps and
                           at the end: COCO box and mask AP@0.5
  Bad items (undecodable image, bad annotation, label outside the model's classes) are skipped and
  counted; a summary is printed at the end. Images without objects are kept (negatives).

Run:
  -o, --out RUNDIR         run folder (required; created if missing)
      --resume             continue the run in RUNDIR from its checkpoint, bit for bit (data order too);
                           only --steps, --val and the logging options may be given again
      --steps N            total training steps (default 1000)
  -b, --batch B            images per step, 1 to ${MAX_BATCH_IMAGES} per rank (default 4); all ranks
                           together under MPI (N ranks take B/N each)
      --seed N             seeds the initial weights, the data order and the samplers (default 0)

Model (default: preset small, from scratch):
  -p, --preset NAME        ${Object.keys(PRESETS).join(" | ")}
  -c, --config FILE        JSON of config overrides (MaskRcnnConfig fields, optional "preset" and
                           "classNames"; demo writes one: demo_out/config.json)
      --num-classes N      classes including background (default: the preset's; COCO data: categories + 1)
  -w, --weights FILE       start from these weights (a .pth, or a run's model.safetensors) instead of from
                           scratch; predictors of another class count are replaced by fresh ones
                           (fine-tuning; the replaced tensors are printed); without --preset / --config
                           the architecture is the run's (metadata / config.json) or the preset it fits
      --backbone-weights FILE
                           a classification ResNet (.pth or safetensors, torchvision names conv1.*,
                           layer1.0.*, fc.* ignored) for the backbone; the rest starts from scratch
      --trainable-backbone-layers N
                           ResNet stages trained, counted from layer4 (0..5; torchvision's default 3)
      --bn-eps X           FrozenBatchNorm eps for --weights (default 1e-5)

Optimizer:
      --optimizer NAME     sgd (default) or adamw
      --lr X               base learning rate (default 0.02 for sgd, 0.001 for adamw)
      --momentum X         SGD momentum (default 0.9)
      --weight-decay X     default 1e-4 (sgd), 0.01 (adamw)
      --warmup N           linear warm-up steps from lr/1000 (default min(100, steps/10))
      --milestones N,N     multiply the rate by --gamma (default 0.1) at these steps
      --clip-grad X        clip the global gradient norm to X (default off)

Several GPUs or machines (data-parallel over MPI; see the README):
      --distributed MODE   auto (default: data-parallel when mpirun, mpiexec or srun started several
                           processes), mpi (always start MPI) or off
      --mpi-lib PATH       the MPI library to load (default: $MASKRCNN_MPI_LIB, then libmpi.so.40 for
                           Open MPI's mpirun, libmpich.so.12 for MPICH's); needs deno run --allow-ffi
  Each rank trains on its share of every step's batch and the gradients are summed before the
  optimizer, so N ranks give the weights of one process with the same --batch. Rank 0 prints and
  writes the run folder. Example: mpirun -np 2 deno run -A --unstable-webgpu cli.ts train ...

Logging:
      --log-every K        progress line every K steps when not on a terminal (default 10)
      --checkpoint-every K checkpoint and loss curve every K steps, and at the end (default 100)
      --eval-every K       evaluate on --val every K steps, and at the end (default 200)
      --val-images N       evaluate on the first N validation items only (default: all)
      --json               end with one JSON line describing the run
  -h, --help               this help

RUNDIR/config.json (also stored in model.safetensors) holds the config, class names and category ids:
detect --weights RUNDIR/model.safetensors needs no other model option.

Exit codes: 0 done, 1 failed (bad data, non-finite loss, no GPU), 2 bad arguments.

Examples:
  deno task train --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --bn-eps 0 \\
    --dataset pennfudan:PennFudanPed --batch 2 --lr 0.005 --steps 2000 --out runs/peds
  deno task train --dataset shapes --val shapes --steps 300 --out runs/shapes
  deno task train --out runs/shapes --resume --steps 600
  deno task train --dataset coco:instances_train.json:train --val coco:instances_val.json:val \\
    --preset small --steps 5000 --out runs/coco`;

const OPTIONS = {
  dataset: { type: "string", short: "d" },
  val: { type: "string" },
  out: { type: "string", short: "o" },
  resume: { type: "boolean" },
  steps: { type: "string" },
  batch: { type: "string", short: "b" },
  seed: { type: "string" },
  preset: { type: "string", short: "p" },
  config: { type: "string", short: "c" },
  "num-classes": { type: "string" },
  weights: { type: "string", short: "w" },
  "backbone-weights": { type: "string" },
  "trainable-backbone-layers": { type: "string" },
  "bn-eps": { type: "string" },
  optimizer: { type: "string" },
  lr: { type: "string" },
  momentum: { type: "string" },
  "weight-decay": { type: "string" },
  warmup: { type: "string" },
  milestones: { type: "string" },
  gamma: { type: "string" },
  "clip-grad": { type: "string" },
  "log-every": { type: "string" },
  "checkpoint-every": { type: "string" },
  "eval-every": { type: "string" },
  "val-images": { type: "string" },
  distributed: { type: "string" },
  "mpi-lib": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Options fixed by run.json when resuming. */
const FIXED_ON_RESUME = [
  "dataset",
  "batch",
  "seed",
  "preset",
  "config",
  "num-classes",
  "weights",
  "backbone-weights",
  "trainable-backbone-layers",
  "bn-eps",
  "optimizer",
  "lr",
  "momentum",
  "weight-decay",
  "warmup",
  "milestones",
  "gamma",
  "clip-grad",
];

/** Loads up to `limit` validation items into memory, skipping bad ones. */
async function loadValItems(
  dataset: Dataset<TrainItem>,
  limit: number,
): Promise<{ items: TrainItem[]; skipped: number }> {
  const items: TrainItem[] = [];
  let skipped = 0;
  for (let i = 0; i < dataset.length && items.length < limit; i++) {
    try {
      items.push(await dataset.get(i));
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      skipped++;
    }
  }
  return { items, skipped };
}

/** Settings of a new run from the command line; opens the data to learn its classes. */
async function newRun(
  values: ParsedValues,
  steps: number,
  ranks: number,
): Promise<{ settings: RunSettings; train: OpenedDataset }> {
  const datasetText = stringOption(values, "dataset");
  if (datasetText === undefined) throw new UsageError("--dataset SPEC is required (e.g. --dataset shapes)");
  const spec = await parseDatasetSpec("--dataset", datasetText);
  const choice = await configChoice(values);
  choice.options.preset ??= "small";
  const weights = stringOption(values, "weights") ?? null;
  if (weights !== null) await requireFile("--weights", weights);
  const backboneWeights = stringOption(values, "backbone-weights") ?? null;
  if (backboneWeights !== null) {
    if (weights !== null) {
      throw new UsageError(
        "give --weights or --backbone-weights, not both (--weights has a backbone already)",
      );
    }
    await requireFile("--backbone-weights", backboneWeights);
  }
  const fromWeights = weights === null ? undefined : await weightsArchitecture(values, weights, choice);
  const trainable = numberOption(values, "trainable-backbone-layers", { min: 0, max: 5, integer: true });
  if (trainable !== undefined) choice.options.trainableBackboneLayers = trainable;
  // One forward holds at most MAX_BATCH_IMAGES images: that bounds each rank's shard.
  const batch = numberOption(values, "batch", { min: 1, max: MAX_BATCH_IMAGES * ranks, integer: true }, 4);
  const seed = numberOption(values, "seed", { min: 0, max: 2 ** 32 - 1, integer: true }, 0);
  const optimizer = optimizerFromArgs(values, steps);
  let config = cliConfig({ ...choice, weights: "" });
  const train = await openDataset(spec, { size: config.minSize, seed, masks: config.maskHead });
  // A dataset that names its classes sets numClasses unless the user did.
  if (
    train.classNames && choice.options.numClasses === undefined &&
    train.classNames.length !== config.numClasses
  ) {
    choice.options.numClasses = train.classNames.length;
    config = cliConfig({ ...choice, weights: "" });
  }
  // Data without class names (folder, TFRecord) keeps the classes of --weights.
  if (!train.classNames && choice.options.numClasses === undefined && fromWeights) {
    choice.options.numClasses = fromWeights.numClasses;
    choice.classNames ??= fromWeights.classNames;
    config = cliConfig({ ...choice, weights: "" });
  }
  const named = [choice.classNames, train.classNames].find((n) => n?.length === config.numClasses);
  const classNames = named
    ? [...named]
    : Array.from({ length: config.numClasses }, (_, i) => (i === 0 ? "background" : `class ${i}`));
  // Category ids by label 1..: the data's (COCO) when they cover the classes, else the labels themselves.
  const categoryIds = train.categoryIds?.length === config.numClasses
    ? train.categoryIds.slice(1)
    : Array.from({ length: config.numClasses - 1 }, (_, i) => i + 1);
  return {
    settings: {
      version: 1,
      dataset: formatDatasetSpec(spec),
      batch,
      seed,
      optimizer,
      config,
      classNames,
      categoryIds,
      weights,
      backboneWeights,
      batchNormEps: choice.batchNormEps,
    },
    train,
  };
}

/** Evaluation on the validation items, appending to eval.jsonl; returns the line to print. */
function validation(
  model: MaskRcnnModel,
  items: TrainItem[],
  names: readonly string[],
  evalsPath: string,
  onResult: (r: Record<string, unknown>) => void,
) {
  return async (step: number): Promise<string> => {
    const { summary } = await evaluateItems(model, items, names);
    const record = { step, ...summary };
    onResult(record);
    await Deno.writeTextFile(evalsPath, JSON.stringify(record) + "\n", { append: true });
    const mask = summary.maskAP50 === null ? "" : `, mask AP@0.5 ${summary.maskAP50.toFixed(3)}`;
    return `eval @ step ${step}: box AP@0.5 ${
      summary.boxAP50.toFixed(3)
    }${mask} (${summary.images} images, ` +
      `${(summary.ms / 1000).toFixed(1)} s)`;
  };
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const dist = await startDistributed(values);
  if (!dist) return await train(values, positionals, io, null);
  // Rank 0 speaks for the job; other ranks print only their own errors.
  const rankIo: CliIo = dist.rank === 0
    ? io
    : { out: () => {}, err: (l) => io.err(`rank ${dist.rank}: ${l}`) };
  const out = stringOption(values, "out");
  const onSignal = () => {
    io.err(
      `train: stopped by a signal (another rank failed, or the job was cancelled); the last complete ` +
        `checkpoint is in ${out}: continue with --resume (any number of ranks)`,
    );
    Deno.exit(143);
  };
  if (dist.rank === 0) Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const code = await train(values, positionals, rankIo, dist);
    await dist.comm.finalize();
    return code;
  } catch (e) {
    // Every rank meets a non-finite loss at the same step: rank 0 reports it.
    if (dist.rank !== 0 && e instanceof Error && e.message.startsWith("non-finite loss")) return 1;
    if (dist.rank !== 0) {
      rankIo.err(`error: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    throw e;
  } finally {
    if (dist.rank === 0) Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

async function train(
  values: ParsedValues,
  positionals: readonly string[],
  io: CliIo,
  dist: DistributedRun | null,
): Promise<number> {
  const writer = dist === null || dist.rank === 0;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const out = stringOption(values, "out");
  if (out === undefined) throw new UsageError("--out RUNDIR is required");
  const resume = values.resume === true;
  const steps = numberOption(values, "steps", { min: 1, integer: true }, 1000);
  const logEvery = numberOption(values, "log-every", { min: 1, integer: true }, 10);
  const checkpointEvery = numberOption(values, "checkpoint-every", { min: 0, integer: true }, 100);
  const evalEvery = numberOption(values, "eval-every", { min: 0, integer: true }, 200);
  const valImages = numberOption(values, "val-images", { min: 1, integer: true }, Infinity);
  const valText = stringOption(values, "val");
  const valSpec = valText === undefined ? undefined : await parseDatasetSpec("--val", valText);
  const files = runFiles(out);

  let settings: RunSettings, train: OpenedDataset;
  if (resume) {
    settings = await readRunSettings(out).catch((e) => {
      // A run.json cut short (or edited by hand) fails in JSON.parse: name the file.
      throw e instanceof SyntaxError
        ? new UsageError(`--resume: ${files.run}: not valid JSON (${e.message})`)
        : e;
    });
    const given = FIXED_ON_RESUME.filter((name) => values[name] !== undefined);
    if (given.length > 0) {
      throw new UsageError(
        `--resume takes the run's settings from ${files.run}; drop ${
          given.map((n) => `--${n}`).join(", ")
        } ` +
          "(only --steps, --val and the logging options may change)",
      );
    }
    const spec = await parseDatasetSpec(`${files.run} dataset`, settings.dataset);
    const { minSize, maskHead } = settings.config;
    train = await openDataset(spec, { size: minSize, seed: settings.seed, masks: maskHead });
  } else {
    if (await exists(files.checkpoint)) {
      throw new UsageError(
        `${out} already holds a run (checkpoint.safetensors): add --resume, or use another --out`,
      );
    }
    ({ settings, train } = await newRun(values, steps, dist?.size ?? 1));
  }
  const config = settings.config;
  if (train.issues > 0) io.out(`${settings.dataset}: ${train.issues} data problems repaired while indexing`);
  for (const note of train.notes ?? []) io.out(note);

  await Deno.mkdir(out, { recursive: true });
  // temporary files of writes killed in an earlier run of this folder (older releases: model.safetensors.tmp)
  const stale = await removeStaleTempFiles(out, ["model.safetensors.tmp"]);
  if (stale.length) io.out(`${out}: removed ${stale.length} stale temporary file(s) of an interrupted write`);
  const { model, opt, step, position, fineTune } = await prepareModel(
    settings,
    resume ? files.checkpoint : null,
  );
  if (fineTune && fineTune.replaced.length > 0) {
    const list = fineTune.replaced.map((r) => `${r.name} [${r.from ?? "absent"}] → [${r.to}]`).join(", ");
    io.out(`replaced ${fineTune.replaced.length} predictor tensors by fresh ones (new class count): ${list}`);
  }
  if (settings.backboneWeights) {
    io.out(
      `backbone from ${settings.backboneWeights}: ${fineTune?.loaded ?? 0} tensors; the rest from scratch`,
    );
  }
  const runModel = JSON.stringify(
    modelFile(
      config,
      settings.classNames,
      // run.json of runs started before category ids were kept: the labels are the ids.
      settings.categoryIds ?? Array.from({ length: config.numClasses - 1 }, (_, i) => i + 1),
      settings.batchNormEps,
    ),
  );
  let history: LossRecord[] = [];
  let lastEval: Record<string, unknown> | undefined;
  if (dist) io.out(dist.description);
  if (resume && writer) {
    history = await readLossHistory(out, step);
    lastEval = (await truncateJsonLines<{ step: number }>(files.evals, step)).at(-1);
    io.out(
      `resuming ${out} at step ${step} (epoch ${position.epoch}, batch ${position.batchInEpoch}), to ${steps}`,
    );
  } else if (!resume) {
    if (writer) {
      await Deno.writeTextFile(files.run, JSON.stringify(settings, null, 2) + "\n");
      await Deno.writeTextFile(files.losses, "");
      await Deno.remove(files.evals).catch(() => {});
      await writeFileAtomic(files.config, JSON.stringify(JSON.parse(runModel), null, 2) + "\n");
    }
    const from = settings.weights ? `from ${settings.weights}` : `from scratch (seed ${settings.seed})`;
    const names = settings.classNames.slice(1);
    const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "");
    io.out(
      `training ${names.length} class${names.length === 1 ? "" : "es"} (${shown}) on ${settings.dataset}, ` +
        `batch ${settings.batch}${dist ? ` (over ${dist.size} ranks)` : ""}, ${steps} ` +
        `steps, ${settings.optimizer.type} lr ${settings.optimizer.lr}, ${from} → ${out}`,
    );
  }

  let evaluate: ((step: number) => Promise<string>) | undefined;
  if (valSpec && writer) {
    const val = await openDataset(valSpec, {
      size: config.minSize,
      seed: deriveSeed(settings.seed, 0x7a1),
      masks: config.maskHead,
      defaultCount: 50,
    });
    const checked = checkedDataset(val.dataset, config.numClasses, config.maskHead, val.itemName);
    const { items, skipped } = await loadValItems(checked, valImages);
    if (items.length === 0) throw new Error(`--val ${valText}: no usable items`);
    const note = skipped ? `, ${skipped} skipped` : "";
    io.out(`validation: ${items.length} items from ${formatDatasetSpec(valSpec)}${note}`);
    evaluate = validation(model, items, settings.classNames, files.evals, (r) => (lastEval = r));
  }
  const loader = new DataLoader(
    checkedDataset(train.dataset, config.numClasses, config.maskHead, train.itemName),
    {
      batchSize: settings.batch,
      seed: settings.seed,
      onError: "skip",
    },
  );
  const start = performance.now();
  let result;
  try {
    result = await trainLoop(io, {
      model,
      opt,
      loader,
      out,
      totalSteps: steps,
      position,
      seed: settings.seed,
      runState: { dataset: settings.dataset, batch: settings.batch },
      logEvery,
      checkpointEvery,
      evalEvery: evaluate ? evalEvery : 0,
      evaluate,
      history,
      writeFiles: writer,
      step: dist ? (batch) => dist.step(model, opt, batch, settings.seed) : undefined,
    });
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      throw new Error(
        `${e.message}; stopped at step ${opt.stepCount + 1} (the last checkpoint is in ${out}; try a lower ` +
          "--lr, a longer --warmup or --clip-grad)",
      );
    }
    throw e;
  }
  if (writer) await writeFinalWeights(model, opt, files.model, { [RUN_METADATA_KEY]: runModel });
  io.out(
    `${result.stepsRun} steps in ${formatDuration(result.seconds)} (step ${result.step}/${steps}); ` +
      `${skippedSummary(result.skipped)}; weights → ${files.model}, loss curve → ${files.curve}`,
  );
  if (values.json === true) {
    io.out(JSON.stringify({
      command: "train",
      step: result.step,
      stepsRun: result.stepsRun,
      seconds: Math.round(elapsedMs(start) / 100) / 10,
      losses: result.records.at(-1) ?? null,
      eval: lastEval ?? null,
      skipped: result.skipped,
      files: Object.values(files).filter((f) => f !== files.evals || evaluate !== undefined),
    }));
  }
  return 0;
}

/**
 * The architecture of `--weights` when neither `--preset` nor `--config` names one: the run's own config
 * (model.safetensors metadata or config.json beside it; its class count and names give way to the data's),
 * else the preset whose tensors the weights fit.
 */
async function weightsArchitecture(
  values: ParsedValues,
  weights: string,
  choice: Awaited<ReturnType<typeof configChoice>>,
): Promise<{ numClasses: number; classNames?: string[] } | undefined> {
  if (stringOption(values, "preset") !== undefined || stringOption(values, "config") !== undefined) return;
  const found = await findRunConfig(weights);
  if (found) {
    const { numClasses, ...architecture } = found.options;
    choice.options = { ...choice.options, ...architecture };
    choice.batchNormEps ??= found.batchNormEps;
    return numClasses === undefined ? undefined : { numClasses, classNames: found.classNames };
  }
  const fit = fittingPreset(await loadStateDict(weights));
  if (!fit) {
    throw new UsageError(
      `--weights ${weights}: no preset fits these weights; pass the --config they were trained with`,
    );
  }
  choice.options.preset = fit.preset;
  if (!fit.maskHead) choice.options.maskHead = false;
  return { numClasses: fit.numClasses };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `train` subcommand (see its `--help`).
 *
 * @example
 * ```ts
 * import { trainCommand } from "./train.ts";
 * import { consoleIo } from "./_common.ts";
 * await trainCommand.run(["--help"], consoleIo);
 * ```
 */
export const trainCommand: Command = {
  name: "train",
  help: HELP,
  run,
};
