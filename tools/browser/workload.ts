/**
 * The same work run in Deno and, bundled, in a Chromium page (tests/examples/browser_test.ts and tools/browser/compile_times.ts): load the
 * small model's weights, detect on one PNG, then reload the weights and take a few SGD steps on shapes.
 * Returns plain arrays (they cross the page boundary as JSON) and the wall times of each stage.
 * @module
 */
import {
  buildModel,
  createOptimizer,
  detect,
  disposeModel,
  loadWeights,
  ShapesDataset,
  trainStep,
  type WeightsSource,
} from "../../mod.ts";
import { disposeOptimizer } from "../../model/optimizer.ts";

/**
 * The model: the `small` preset at `size`, with torchvision's RoI budget (512 sampled RoIs per training
 * image). The demo's lighter budget (32 RoIs) makes steps ~8× cheaper but lets one differently sampled RoI
 * (a near-tie broken by an ulp of compiler difference) move the third step's loss by 6e-4, over the
 * test's 1e-4; with 512 RoIs the largest difference measured was 5.3e-5.
 * @example
 * ```ts
 * const model = await buildModel(workloadConfig(96));
 * ```
 */
export function workloadConfig(size: number) {
  return { preset: "small", minSize: size, maxSize: size } as const;
}

/** Inputs of {@link runWorkload}. */
export interface WorkloadInput {
  /** Safetensors bytes, or (in the page) their URL. */
  weights: WeightsSource;
  /** PNG bytes. */
  image: Uint8Array;
  /** Square image side; the model's min/max size. */
  size: number;
  trainSteps: number;
  /** Called with a line after each stage (progress of a long cold run). */
  log?: (line: string) => void;
}

/** What {@link runWorkload} returns. */
export interface WorkloadResult {
  count: number;
  boxes: number[];
  scores: number[];
  labels: number[];
  masks: number[];
  losses: number[][];
  /** Milliseconds: load, first (cold) detect, second (warm) detect, each training step. */
  times: { load: number; detectCold: number; detectWarm: number; steps: number[] };
}

/**
 * Runs the workload on whatever WebGPU the runtime has.
 * @example
 * ```ts
 * const r = await runWorkload({ weights, image: png, size: 96, trainSteps: 3 });
 * ```
 */
export async function runWorkload(input: WorkloadInput): Promise<WorkloadResult> {
  const { size } = input;
  let t = performance.now();
  const lap = (stage?: string) => {
    const now = performance.now();
    const ms = now - t;
    t = now;
    if (stage) input.log?.(`${stage}: ${(ms / 1000).toFixed(1)} s`);
    return ms;
  };
  const model = await buildModel(workloadConfig(size));
  await loadWeights(model, input.weights);
  const load = lap("build + load weights");
  const det = await detect(model, input.image);
  const detectCold = lap(`detect (cold): ${det.count} detections`);
  await detect(model, input.image);
  const detectWarm = lap("detect (warm)");

  await loadWeights(model, input.weights);
  const opt = createOptimizer(model, { type: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const data = new ShapesDataset({ count: 2, seed: 7, width: size, height: size });
  const items = await Promise.all([0, 1].map((i) => data.get(i)));
  const batch = { images: items.map((x) => x.image), targets: items.map((x) => x.target) };
  const losses: number[][] = [];
  const steps: number[] = [];
  lap();
  for (let s = 0; s < input.trainSteps; s++) {
    const l = await trainStep(model, batch, opt, { seed: 3 });
    losses.push([l.total, l.rpnObjectness, l.rpnBoxReg, l.classifier, l.boxReg, l.mask]);
    steps.push(lap(`train step ${s + 1}: loss ${l.total.toFixed(5)}`));
  }
  disposeOptimizer(opt);
  disposeModel(model);
  return {
    count: det.count,
    boxes: Array.from(det.boxes),
    scores: Array.from(det.scores),
    labels: Array.from(det.labels),
    masks: Array.from(det.masks ?? []),
    losses,
    times: { load, detectCold, detectWarm, steps },
  };
}
