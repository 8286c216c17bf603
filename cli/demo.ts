/**
 * `demo`: trains the small Mask R-CNN from scratch on generated shapes for a wall-clock budget, evaluates
 * it on new shapes images (COCO box and mask AP@0.5 against ground truth built from the generated
 * masks), and writes into `--out` an overlay picture of a few test images (ground truth above,
 * detections below), the loss log and curve, the trained weights and a config file that `detect`,
 * `eval` and `train` accept. With `--json` the last line is
 * `{"boxAP50": x, "maskAP50": y, "steps": n, "seconds": s}`.
 *
 * Decisions: the model is the `small` preset with overrides after matterport's shapes example (small
 * images, 96×96 here: on 2 cores with software Vulkan that buys ~30 % more steps than 128×128 and gave mask
 * AP@0.5 0.81 instead of 0.71–0.73 in the same 9¼ minutes; anchors 8–128, few sampled RoIs, small heads: {@link DEMO_CONFIG}); training is time-boxed
 * (`--minutes`, default chosen so the whole demo stays under 10 minutes on a 2-core machine with software
 * Vulkan), so the number of steps depends on the machine and its load; the learning rate drops tenfold
 * for the last part of the budget (the step is decided when the time is known, see {@link DEMO_OPTIMIZER}).
 * @module
 */
import { deriveSeed } from "../data/prng.ts";
import { generateShapesItem, SHAPES_CLASS_NAMES, ShapesDataset } from "../data/shapes.ts";
import type { TrainItem } from "../data/types.ts";
import type { ConfigOverrides } from "../model/config.ts";
import type { Detection } from "../model/detect.ts";
import type { OptimizerOptions } from "../model/optimizer.ts";
import {
  type CliIo,
  type Command,
  numberOption,
  parseCommandLine,
  stringOption,
  UsageError,
} from "./_common.ts";
import { cliConfig } from "./_model.ts";

/** The demo model: config overrides on top of the `small` preset (see the module notes). */
export const DEMO_CONFIG: ConfigOverrides = {
  minSize: 96,
  maxSize: 96,
  anchorSizes: [[8], [16], [32], [64], [128]],
  rpnBatchSizePerImage: 64,
  rpnPreNmsTopNTrain: 1000,
  rpnPostNmsTopNTrain: 500,
  rpnPreNmsTopNTest: 500,
  rpnPostNmsTopNTest: 100,
  boxBatchSizePerImage: 32,
  boxPositiveFraction: 0.25,
  boxDetectionsPerImg: 20,
  maskHeadLayers: [32, 32],
  maskPredictorChannels: 32,
  trainableBackboneLayers: 4,
};

/** The demo's optimizer (the warm-up is in steps; the decay step is set once the step time is known). */
export const DEMO_OPTIMIZER: OptimizerOptions = {
  type: "adamw",
  lr: 1e-3,
  weightDecay: 1e-4,
  warmupIters: 50,
  warmupFactor: 0.001,
};

const HELP = `Usage: deno task demo [--minutes M] [--out DIR] [--json]

Trains the small Mask R-CNN from scratch on generated shapes (squares, circles, triangles; 96×96) for
M minutes, evaluates it on new shapes images and prints COCO box and mask AP@0.5. Writes into DIR:
demo_detections.png (ground truth above, detections with score ≥ 0.5 below), losses.jsonl,
loss_curve.png, model.safetensors and config.json (for detect / eval / train --config).

  -m, --minutes M         training time budget in minutes (default 9.25: the whole demo stays under 10
                          minutes on a 2-core machine with software Vulkan; fewer steps if it is busy)
  -o, --out DIR           output folder, created if missing (default ./demo_out)
      --eval-images N     test images (default 50)
  -b, --batch B           images per step (default 4)
      --seed N            seeds the initial weights and the data (default 0)
      --json              end with one JSON line: {"boxAP50", "maskAP50", "steps", "seconds"}
  -h, --help              this help

Exit codes: 0 done, 1 failed (no GPU, non-finite loss), 2 bad arguments.`;

const OPTIONS = {
  minutes: { type: "string", short: "m" },
  out: { type: "string", short: "o" },
  "eval-images": { type: "string" },
  batch: { type: "string", short: "b" },
  seed: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Share of the time budget trained at the lowered rate. */
const DECAY_SHARE = 0.2;
/** Picture scale of the overlays (96-pixel images are small). */
const ZOOM = 2;

function zoomed(image: TrainItem["image"], boxes: Float32Array, masks?: Uint8Array) {
  const { width: w, height: h } = image;
  const W = w * ZOOM, H = h * ZOOM;
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = 3 * (Math.floor(y / ZOOM) * w + Math.floor(x / ZOOM));
      data.set(image.data.subarray(s, s + 3), 3 * (y * W + x));
    }
  }
  let big: Uint8Array | undefined;
  if (masks) {
    const n = masks.length / (w * h);
    big = new Uint8Array(n * W * H);
    for (let k = 0; k < n; k++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          big[k * W * H + y * W + x] = masks[k * w * h + Math.floor(y / ZOOM) * w + Math.floor(x / ZOOM)];
        }
      }
    }
  }
  return { image: { data, width: W, height: H }, boxes: boxes.map((v) => v * ZOOM), masks: big };
}

/** Ground truth (top row) and detections (bottom row) of a few test images as one PNG. */
async function overlayGrid(items: TrainItem[], detections: Detection[], scoreThreshold: number) {
  const { drawInstancesRgba, toRgba } = await import("../data/draw.ts");
  const { encodePng } = await import("../data/image_codec.ts");
  const { rasterizeText } = await import("../data/bitmap_font.ts");
  const tileW = items[0].image.width * ZOOM, tileH = items[0].image.height * ZOOM;
  const gap = 6, header = 14;
  const W = items.length * (tileW + gap) + gap, H = 2 * (tileH + header + gap) + gap;
  const canvas = new Uint8Array(W * H * 4).fill(255);
  const blit = (rgba: Uint8ClampedArray, x0: number, y0: number) => {
    for (let y = 0; y < tileH; y++) {
      canvas.set(rgba.subarray(y * tileW * 4, (y + 1) * tileW * 4), ((y0 + y) * W + x0) * 4);
    }
  };
  const text = (s: string, x0: number, y0: number) =>
    rasterizeText(s, x0, y0, 1, (x, y) => canvas.fill(0, 4 * (y * W + x), 4 * (y * W + x) + 3));
  text("ground truth", gap, gap + 3);
  text(`detections (score at least ${scoreThreshold})`, gap, gap + tileH + header + gap + 3);
  items.forEach((item, i) => {
    const x0 = gap + i * (tileW + gap);
    const gt = zoomed(item.image, item.target.boxes, item.target.masks);
    const top = toRgba(gt.image);
    drawInstancesRgba(top, tileW, tileH, { boxes: gt.boxes, labels: item.target.labels, masks: gt.masks }, {
      classNames: SHAPES_CLASS_NAMES,
    });
    blit(top, x0, gap + header);
    const d = detections[i];
    const keep = Array.from(d.scores.keys()).filter((k) => d.scores[k] >= scoreThreshold);
    const plane = d.width * d.height;
    const masks = d.masks ? new Uint8Array(keep.length * plane) : undefined;
    keep.forEach((k, j) => masks?.set(d.masks!.subarray(k * plane, (k + 1) * plane), j * plane));
    const boxes = Float32Array.from(keep.flatMap((k) => Array.from(d.boxes.subarray(4 * k, 4 * k + 4))));
    const det = zoomed(item.image, boxes, masks);
    const bottom = toRgba(det.image);
    drawInstancesRgba(bottom, tileW, tileH, {
      boxes: det.boxes,
      labels: Int32Array.from(keep, (k) => d.labels[k]),
      scores: Float32Array.from(keep, (k) => d.scores[k]),
      masks: det.masks,
    }, { classNames: SHAPES_CLASS_NAMES });
    blit(bottom, x0, gap + header + tileH + gap + header);
  });
  return encodePng(canvas, W, H, 4);
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const minutes = numberOption(values, "minutes", { min: 0, max: 24 * 60 }, 9.25);
  const out = stringOption(values, "out") ?? "demo_out";
  const evalImages = numberOption(values, "eval-images", { min: 1, max: 10_000, integer: true }, 50);
  const batch = numberOption(values, "batch", { min: 1, max: 64, integer: true }, 4);
  const seed = numberOption(values, "seed", { min: 0, max: 2 ** 32 - 1, integer: true }, 0);
  const json = values.json === true;
  const config = cliConfig({ options: { preset: "small", ...DEMO_CONFIG }, weights: "" });

  const start = performance.now();
  const [
    { DataLoader },
    { trainLoop, formatDuration },
    { evaluateItems },
    { prepareModel, writeFinalWeights },
  ] = await Promise.all([
    import("../data/loader.ts"),
    import("./_train_loop.ts"),
    import("./_evaluate.ts"),
    import("./_train_model.ts"),
  ]);
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/losses.jsonl`, "");
  const { model, opt, position } = await prepareModel({
    config,
    optimizer: DEMO_OPTIMIZER,
    seed,
    weights: null,
    dataset: "shapes",
    batch,
  }, null);
  const size = config.minSize;
  io.out(
    `demo: training the small Mask R-CNN from scratch on ${size}×${size} shapes for ${minutes} min ` +
      `(batch ${batch}, ${DEMO_OPTIMIZER.type} lr ${DEMO_OPTIMIZER.lr}) → ${out}`,
  );
  const loader = new DataLoader(new ShapesDataset({ count: 100_000, width: size, height: size, seed }), {
    batchSize: batch,
    seed,
    onError: "skip",
  });
  const trainStart = performance.now();
  const deadline = trainStart + minutes * 60_000;
  const result = await trainLoop(io, {
    model,
    opt,
    loader,
    out,
    totalSteps: Number.MAX_SAFE_INTEGER,
    position,
    seed,
    runState: {},
    deadline,
    checkpointEvery: 0,
    finalCheckpoint: false,
    onStep: (step, msPerStep) => {
      // Once the step time is known (after the warm-up), place the tenfold decay so that the last
      // DECAY_SHARE of the budget runs at the lowered rate.
      const o = opt.options as { milestones: readonly number[] };
      if (o.milestones.length === 0 && step >= (DEMO_OPTIMIZER.warmupIters ?? 0)) {
        const remaining = (deadline - performance.now()) / msPerStep;
        const decayAt = step +
          Math.max(1, Math.round(remaining - DECAY_SHARE * (deadline - trainStart) / msPerStep));
        if (remaining > 1) o.milestones = [decayAt];
      }
    },
  });
  await writeFinalWeights(model, opt, `${out}/model.safetensors`);
  const configFile = { preset: "small", ...DEMO_CONFIG, classNames: SHAPES_CLASS_NAMES };
  await Deno.writeTextFile(`${out}/config.json`, JSON.stringify(configFile, null, 2) + "\n");
  io.out(`trained ${result.step} steps (${result.step * batch} images) in ${formatDuration(result.seconds)}`);

  const items = Array.from(
    { length: evalImages },
    (_, i) => generateShapesItem(deriveSeed(seed, 0x7e57, i), { width: size, height: size }, i),
  );
  const { summary, detections } = await evaluateItems(model, items, SHAPES_CLASS_NAMES);
  const picture = `${out}/demo_detections.png`;
  const shown = Math.min(4, items.length);
  await Deno.writeFile(picture, await overlayGrid(items.slice(0, shown), detections.slice(0, shown), 0.5));
  const maskAP50 = summary.maskAP50 ?? 0;
  io.out(
    `box AP@0.5 ${summary.boxAP50.toFixed(3)}, mask AP@0.5 ${maskAP50.toFixed(3)} on ${items.length} new ` +
      `images (AP@[.5:.95]: box ${summary.boxAP.toFixed(3)}, mask ${(summary.maskAP ?? 0).toFixed(3)}); ` +
      `evaluation ${(summary.ms / 1000).toFixed(1)} s`,
  );
  io.out(`overlays → ${picture}; weights → ${out}/model.safetensors (config ${out}/config.json)`);
  const seconds = (performance.now() - start) / 1000;
  io.out(`demo took ${formatDuration(seconds)}`);
  if (json) {
    io.out(JSON.stringify({
      boxAP50: round(summary.boxAP50),
      maskAP50: round(maskAP50),
      steps: result.step,
      seconds: Math.round(seconds * 10) / 10,
    }));
  }
  return 0;
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}

/**
 * The `demo` subcommand (see its `--help`).
 *
 * @example
 * ```ts
 * import { demoCommand } from "./demo.ts";
 * import { consoleIo } from "./_common.ts";
 * await demoCommand.run(["--help"], consoleIo);
 * ```
 */
export const demoCommand: Command = {
  name: "demo",
  help: HELP,
  run,
};
