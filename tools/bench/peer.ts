/**
 * Side by side with torchvision, in one run on the same machine: the small model's detect and training
 * step in the configuration of the torchvision shapes run the fixtures come from (128×128, batch 4, 256
 * sampled anchors and 512 sampled RoIs per image, 20 detections), R50-FPN detect at 800×1066 and the
 * 3×3 256→256 conv. Both sides get the same inputs (this module writes the images and batches to a work
 * file that `tools/reference/bench_peer.py` reads), the same weights (the deterministic rule of
 * tests/_det_weights.ts, which model_reference.py rebuilds bit for bit), the same optimizer (SGD, momentum
 * 0.9) and the same trainable layers, so both do the same work (the rows show the detections each side
 * kept). torch runs under Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14) with
 * OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(cores); without it the section says so and gives only
 * our figures.
 *
 * Keys: `peer_<what>_ms` (ours), `peer_<what>_torch_ms` and `<what>_vs_torch` = ours / torch (time: > 1
 * means slower than torch); for the conv `conv3x3_256_gflops_vs_torch` = our GFLOP/s / torch's (the
 * issue's target is ≥ 0.25).
 * @module
 */
import { createOptimizer, generateShapesItem, trainStep } from "../../mod.ts";
import { getGpu } from "../../ops/mod.ts";
import { resolveConfig, type ResolveConfigOptions } from "../../model/config.ts";
import { detectImages } from "../../model/detect.ts";
import type { RawImage } from "../../model/transform.ts";
import { disposeOptimizer } from "../../model/optimizer.ts";
import { paramTensors } from "../../model/params.ts";
import type { TrainTarget } from "../../model/train_step.ts";
import type { BenchRow } from "./_report.ts";
import { benchConv, CONV_SHAPES } from "./conv.ts";
import { syntheticImage } from "./detect.ts";
import { BENCH_SGD, benchTrainBatch, deterministicModel } from "./_models.ts";

/** The torchvision shapes run's configuration (see the module notes). */
export const PEER_SMALL: ResolveConfigOptions = {
  preset: "small",
  rpnBatchSizePerImage: 256,
  boxBatchSizePerImage: 512,
  boxDetectionsPerImg: 20,
};
const PYTHON = "/usr/bin/python3";
/** Below this torch's matmul is the unoptimised reference BLAS (2 GFLOP/s on Zen 3; OpenBLAS gives ~70). */
const REFERENCE_BLAS_GFLOPS = 10;

/** Counts of the peer section (`deno task bench --peer-steps N` sets the timed training steps). */
export interface PeerOptions {
  /** Timed training steps after one warm-up step (default 4). */
  trainSteps?: number;
  /** Timed small-model detects after one warm-up (default 5). */
  detectRepeats?: number;
  /** Timed R50-FPN detects after one warm-up (default 1); 0 leaves R50-FPN out (`--peer-quick`). */
  r50Repeats?: number;
}

function base64(bytes: Uint8Array | Uint8ClampedArray): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function imageEntry(image: RawImage) {
  return { width: image.width, height: image.height, data: base64(image.data) };
}

function itemEntry(image: RawImage, target: TrainTarget) {
  return {
    image: imageEntry(image),
    width: image.width,
    height: image.height,
    boxes: Array.from(target.boxes),
    labels: Array.from(target.labels),
    masks: base64(target.masks ?? new Uint8Array(0)),
  };
}

/** Whether torch and torchvision import under /usr/bin/python3; the reason when not. */
async function torchAvailable(): Promise<string | null> {
  try {
    const { success, stderr } = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (success) return null;
    const last = new TextDecoder().decode(stderr).trim().split("\n").at(-1);
    return `${PYTHON} cannot import torch/torchvision (${last}); apt-get install -y python3-torch python3-torchvision libopenblas0-pthread`;
  } catch {
    return `${PYTHON} not found; apt-get install -y python3-torch python3-torchvision libopenblas0-pthread`;
  }
}

async function runTorch(work: unknown): Promise<Record<string, number>> {
  const file = await Deno.makeTempFile({ prefix: "bench_peer_", suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(work));
    const script = new URL("../reference/bench_peer.py", import.meta.url).pathname;
    const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
      args: [script, file],
      env: { OPENBLAS_NUM_THREADS: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout).trim();
    if (!success) throw new Error(`bench_peer.py failed: ${new TextDecoder().decode(stderr).trim()}`);
    return JSON.parse(text.split("\n").at(-1)!);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** Runs both sides; our rows always, torch's and the ratios when torch is there. */
export async function benchPeer(options: PeerOptions = {}): Promise<BenchRow[]> {
  await getGpu();
  const trainSteps = options.trainSteps ?? 4, detectRepeats = options.detectRepeats ?? 5;
  const r50Repeats = options.r50Repeats ?? 1;
  const rows: BenchRow[] = [];
  const row = (label: string, value: number, unit: string, key: string) =>
    rows.push({ label, value, unit, key });

  // The same inputs for both sides.
  const detectImage = generateShapesItem(7, { width: 128, height: 128 }).image;
  const batches = Array.from({ length: trainSteps + 1 }, (_, s) => benchTrainBatch(s));
  const r50Image = syntheticImage(1066, 800);
  const conv = CONV_SHAPES.find((s) => s.key === "conv3x3_256")!;

  // Ours.
  const small = deterministicModel(PEER_SMALL);
  await detectImages(small, [detectImage]);
  let t0 = performance.now();
  let dets = await detectImages(small, [detectImage]);
  for (let i = 1; i < detectRepeats; i++) dets = await detectImages(small, [detectImage]);
  const detectSmall = (performance.now() - t0) / detectRepeats;
  const detectSmallCount = dets[0].count;
  const opt = createOptimizer(small, { ...BENCH_SGD });
  const stepMs: number[] = [];
  for (const [s, batch] of batches.entries()) {
    t0 = performance.now();
    await trainStep(small, batch, opt);
    if (s > 0) stepMs.push(performance.now() - t0);
  }
  const trainSmall = median(stepMs);
  disposeOptimizer(opt);
  for (const t of paramTensors(small.params!)) t.dispose();

  let detectR50 = NaN, r50Count = NaN;
  if (r50Repeats > 0) {
    const r50 = deterministicModel({ preset: "maskrcnn_resnet50_fpn" });
    await detectImages(r50, [r50Image]);
    t0 = performance.now();
    let r50Dets = await detectImages(r50, [r50Image]);
    for (let i = 1; i < r50Repeats; i++) r50Dets = await detectImages(r50, [r50Image]);
    detectR50 = (performance.now() - t0) / r50Repeats;
    r50Count = r50Dets[0].count;
    for (const t of paramTensors(r50.params!)) t.dispose();
  }
  const convRows = await benchConv(["conv3x3_256"]);
  const convGflops = convRows.find((r) => r.key === "conv3x3_256_gflops")!.value;

  row("detect, small, 128×128 (ours)", detectSmall, "ms", "peer_detect_small_ms");
  row("  detections kept (ours)", detectSmallCount, "", "peer_detect_small_detections");
  row("train step, small, 128×128, batch 4 (ours, median)", trainSmall, "ms", "peer_train_small_step_ms");
  if (r50Repeats > 0) {
    row("detect, R50-FPN, 800×1066 (ours)", detectR50, "ms", "peer_detect_r50_800_ms");
    row("  detections kept (ours)", r50Count, "", "peer_detect_r50_800_detections");
  }
  row(`${conv.label} (ours)`, convGflops, "GFLOP/s", "peer_conv3x3_256_gflops");

  // torch.
  const missing = await torchAvailable();
  if (missing) {
    console.log(`peer: torch skipped: ${missing}`);
    return rows;
  }
  const config = (options: ResolveConfigOptions) => {
    const c = resolveConfig(options);
    return {
      minSize: c.minSize,
      maxSize: c.maxSize,
      rpnBatchSizePerImage: c.rpnBatchSizePerImage,
      rpnPreNmsTopNTrain: c.rpnPreNmsTopNTrain,
      rpnPostNmsTopNTrain: c.rpnPostNmsTopNTrain,
      rpnPreNmsTopNTest: c.rpnPreNmsTopNTest,
      rpnPostNmsTopNTest: c.rpnPostNmsTopNTest,
      boxBatchSizePerImage: c.boxBatchSizePerImage,
      boxDetectionsPerImg: c.boxDetectionsPerImg,
      boxScoreThresh: c.boxScoreThresh,
      trainableBackboneLayers: c.trainableBackboneLayers,
    };
  };
  const torch = await runTorch({
    threads: navigator.hardwareConcurrency,
    small: {
      config: config(PEER_SMALL),
      detectImage: imageEntry(detectImage),
      detectRepeats,
      trainBatches: batches.map((b) => b.images.map((image, i) => itemEntry(image, b.targets[i]))),
      optimizer: BENCH_SGD,
    },
    ...(r50Repeats > 0
      ? {
        r50: {
          config: config({ preset: "maskrcnn_resnet50_fpn" }),
          detectImage: imageEntry(r50Image),
          detectRepeats: 2,
        },
      }
      : {}),
    conv: { ...conv, repeats: 3 },
  });
  row(
    `torch ${torch.torch_version}, ${torch.torch_threads} threads`,
    torch.torch_threads,
    "threads",
    "peer_torch_threads",
  );
  row(
    "torch matmul 1000×3136×128 (its BLAS)",
    torch.torch_matmul_gflops,
    "GFLOP/s",
    "peer_torch_matmul_gflops",
  );
  if (torch.torch_matmul_gflops < REFERENCE_BLAS_GFLOPS) {
    console.warn(
      `peer: torch's matmul runs at ${torch.torch_matmul_gflops.toFixed(1)} GFLOP/s — libblas.so.3 is the ` +
        "reference BLAS, which makes torch's linear layers ~30× slower than usual and the ratios below " +
        "flattering; apt-get install -y libopenblas0-pthread",
    );
  }
  row("detect, small, 128×128 (torch)", torch.detect_small_ms, "ms", "peer_detect_small_torch_ms");
  row("  detections kept (torch)", torch.detect_small_detections, "", "peer_detect_small_torch_detections");
  row("  ours / torch", detectSmall / torch.detect_small_ms, "×", "detect_small_vs_torch");
  row("train step, small (torch, median)", torch.train_small_step_ms, "ms", "peer_train_small_step_torch_ms");
  row(
    "  anchors sampled per image (torch)",
    torch.train_small_anchors_sampled,
    "",
    "peer_train_small_torch_anchors",
  );
  row("  RoIs sampled per image (torch)", torch.train_small_rois_sampled, "", "peer_train_small_torch_rois");
  row("  ours / torch", trainSmall / torch.train_small_step_ms, "×", "train_small_step_vs_torch");
  if (r50Repeats > 0) {
    row("detect, R50-FPN, 800×1066 (torch)", torch.detect_r50_ms, "ms", "peer_detect_r50_800_torch_ms");
    row("  detections kept (torch)", torch.detect_r50_detections, "", "peer_detect_r50_800_torch_detections");
    row("  ours / torch", detectR50 / torch.detect_r50_ms, "×", "detect_r50_800_vs_torch");
  }
  row(`${conv.label} (torch)`, torch.conv_gflops, "GFLOP/s", "peer_conv3x3_256_torch_gflops");
  row("  ours / torch (GFLOP/s)", convGflops / torch.conv_gflops, "×", "conv3x3_256_gflops_vs_torch");
  return rows;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
