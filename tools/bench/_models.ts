/**
 * Models with deterministic weights for the benchmarks (speed does not depend on the weights' values; the
 * rule is the one of tests/_det_weights.ts, shared with the R50 feature parity test).
 * @module
 */
import { generateShapesItem } from "../../data/shapes.ts";
import { resolveConfig, type ResolveConfigOptions } from "../../model/config.ts";
import type { MaskRcnnModel } from "../../model/mask_rcnn.ts";
import { uploadParams } from "../../model/params.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import type { TrainTarget } from "../../model/train_step.ts";
import type { RawImage } from "../../model/transform.ts";
import { deterministicTensor } from "../../tests/_det_weights.ts";

/** A model of the given config whose every tensor comes from its name (no file needed). */
export function deterministicModel(options: ResolveConfigOptions): MaskRcnnModel {
  const config = resolveConfig(options);
  const stateDict = new Map(
    expectedStateDict(config).map((
      { name, shape },
    ) => [name, { shape: [...shape], data: deterministicTensor(name, shape) }]),
  );
  return {
    config,
    stateDict,
    params: uploadParams(config, stateDict),
    anchorCache: new Map(),
    batchNormEps: 1e-5,
  };
}

/** The benchmarks' optimizer: SGD with momentum 0.9 and weight decay 1e-4 (torchvision's recipe), lr 0.001. */
export const BENCH_SGD = { type: "sgd", lr: 0.001, momentum: 0.9, weightDecay: 1e-4 } as const;

/**
 * Training batch `step` of the benchmarks: `batch` generated shapes images of `height`×`width` (seeds
 * 7 + step·batch + i), so every section and torch's side train on the same inputs.
 */
export function benchTrainBatch(
  step: number,
  { batch = 4, height = 128, width = 128 }: { batch?: number; height?: number; width?: number } = {},
): { images: RawImage[]; targets: TrainTarget[] } {
  const items = Array.from(
    { length: batch },
    (_, i) => generateShapesItem(7 + step * batch + i, { width, height }),
  );
  return { images: items.map((x) => x.image), targets: items.map((x) => x.target) };
}
