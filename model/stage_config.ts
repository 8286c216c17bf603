/**
 * The part of a {@link MaskRcnnConfig} that each stage's ops take, as those ops' option objects: ops/ holds
 * no model constants, so torchvision's values (thresholds, sampler sizes, box-coder weights, the transform's
 * normalisation) reach the ops from here. Each function reads only its own fields.
 * @module
 */
import type { RoiTargetOptions } from "../ops/detection/roi_targets.ts";
import type { RpnTargetOptions } from "../ops/detection/rpn_targets.ts";
import type { ImageTransformOptions } from "../ops/image_transform.ts";
import { type MaskRcnnConfig, ROI_BOX_WEIGHTS, RPN_BOX_WEIGHTS, SIZE_DIVISIBLE } from "./config.ts";

/** Side of the mask targets: the mask head's 14×14 RoIAlign upsampled ×2 (torchvision's 28×28). */
export const MASK_TARGET_SIZE = 28;

/**
 * `GeneralizedRCNNTransform`'s fields for `imageTransform`: min/max size, mean, std, size divisibility.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { transformOptions } from "./stage_config.ts";
 * console.log(transformOptions(resolveConfig()).sizeDivisible); // 32
 * ```
 */
export function transformOptions(config: MaskRcnnConfig): ImageTransformOptions {
  return {
    minSize: config.minSize,
    maxSize: config.maxSize,
    mean: config.imageMean,
    std: config.imageStd,
    sizeDivisible: SIZE_DIVISIBLE,
  };
}

/**
 * The RPN's training-target fields for `rpnTargets` (matcher thresholds, sampler, box-coder weights); the
 * caller adds `seed`, `step` and `firstImage`.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { rpnTargetOptions } from "./stage_config.ts";
 * console.log(rpnTargetOptions(resolveConfig()).batchSizePerImage); // 256
 * ```
 */
export function rpnTargetOptions(config: MaskRcnnConfig): Omit<RpnTargetOptions, "seed" | "step"> {
  return {
    fgIouThresh: config.rpnFgIouThresh,
    bgIouThresh: config.rpnBgIouThresh,
    batchSizePerImage: config.rpnBatchSizePerImage,
    positiveFraction: config.rpnPositiveFraction,
    boxWeights: RPN_BOX_WEIGHTS,
  };
}

/**
 * The RoI heads' training-target fields for `roiTargets` (matcher thresholds, sampler, box-coder weights,
 * mask targets when the model has a mask head); the caller adds `seed`, `step`, `firstImage` and
 * `proposalValid`.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { roiTargetOptions } from "./stage_config.ts";
 * console.log(roiTargetOptions(resolveConfig({ preset: "fasterrcnn_resnet50_fpn" })).maskSize); // 0
 * ```
 */
export function roiTargetOptions(config: MaskRcnnConfig): Omit<RoiTargetOptions, "seed" | "step"> {
  return {
    fgIouThresh: config.boxFgIouThresh,
    bgIouThresh: config.boxBgIouThresh,
    batchSizePerImage: config.boxBatchSizePerImage,
    positiveFraction: config.boxPositiveFraction,
    boxWeights: ROI_BOX_WEIGHTS,
    maskSize: config.maskHead ? MASK_TARGET_SIZE : 0,
  };
}
