/**
 * The model configuration: one typed {@link MaskRcnnConfig} whose defaults are torchvision 0.14's
 * `maskrcnn_resnet50_fpn` (the keyword defaults of `FasterRCNN.__init__` / `MaskRCNN.__init__`,
 * `_default_anchorgen()` and `GeneralizedRCNNTransform`), named presets, and {@link resolveConfig}, which
 * merges overrides into a preset and validates every field.
 * @module
 */
import type { BoxWeights } from "../ops/box_coder.ts";

/** The ResNet body: Bottleneck blocks per stage (layer1..layer4) and torchvision's `width_per_group`. */
export interface BackboneConfig {
  /** Bottleneck blocks in layer1..layer4: `[3, 4, 6, 3]` is ResNet-50, `[3, 4, 23, 3]` ResNet-101. */
  blocks: [number, number, number, number];
  /**
   * torchvision's `width_per_group` (base width, 64 in ResNet-50): the 3x3 conv of a block in stage `i`
   * has `planes_i * widthPerGroup / 64` channels with `planes = 64, 128, 256, 512`; the stem (64 channels)
   * and the block outputs (`planes * 4`) do not change.
   */
  widthPerGroup: number;
}

/** Everything that defines a Mask R-CNN / Faster R-CNN model: architecture, pre-processing, RPN and heads. */
export interface MaskRcnnConfig {
  /** Classes including background (91 for torchvision's COCO models). */
  numClasses: number;
  /** Shorter image side after resizing (`min_size`). */
  minSize: number;
  /** Upper bound of the longer side after resizing (`max_size`). */
  maxSize: number;
  /** Per-channel RGB mean of the [0, 1] input (`image_mean`). */
  imageMean: [number, number, number];
  /** Per-channel RGB std of the [0, 1] input (`image_std`). */
  imageStd: [number, number, number];
  /** Anchor sizes in pixels per FPN level (P2..P6). */
  anchorSizes: number[][];
  /** Anchor aspect ratios (h / w) per FPN level. */
  aspectRatios: number[][];
  rpnPreNmsTopNTrain: number;
  rpnPreNmsTopNTest: number;
  rpnPostNmsTopNTrain: number;
  rpnPostNmsTopNTest: number;
  rpnNmsThresh: number;
  rpnFgIouThresh: number;
  rpnBgIouThresh: number;
  rpnBatchSizePerImage: number;
  rpnPositiveFraction: number;
  rpnScoreThresh: number;
  boxScoreThresh: number;
  boxNmsThresh: number;
  boxDetectionsPerImg: number;
  boxFgIouThresh: number;
  boxBgIouThresh: number;
  boxBatchSizePerImage: number;
  boxPositiveFraction: number;
  /** The ResNet body. */
  backbone: BackboneConfig;
  /** FPN output channels (`out_channels`), shared by the RPN and RoI heads. */
  fpnChannels: number;
  /** TwoMLPHead representation size (fc6 / fc7 width). */
  boxHeadDim: number;
  /** Output channels of each 3x3 conv of `MaskRCNNHeads`. */
  maskHeadLayers: number[];
  /** `dim_reduced` of `MaskRCNNPredictor` (the transposed conv's output channels). */
  maskPredictorChannels: number;
  /** `true` for Mask R-CNN, `false` for Faster R-CNN (no mask branch, no mask weights). */
  maskHead: boolean;
  /** Trainable ResNet stages counted from layer4 (0..5); the others are frozen. */
  trainableBackboneLayers: number;
}

/** The presets accepted by {@link resolveConfig}. */
export type PresetName =
  | "maskrcnn_resnet50_fpn"
  | "maskrcnn_resnet101_fpn"
  | "fasterrcnn_resnet50_fpn"
  | "small";

/** Field overrides for {@link resolveConfig}; `backbone` may be partial. */
export type ConfigOverrides = Partial<Omit<MaskRcnnConfig, "backbone">> & {
  backbone?: Partial<BackboneConfig>;
};

/** Options of {@link resolveConfig}: a preset (default `maskrcnn_resnet50_fpn`) plus overrides. */
export type ResolveConfigOptions = { preset?: PresetName } & ConfigOverrides;

/**
 * A configuration field is unknown or has an invalid value; the message names the field and the value.
 *
 * @example
 * ```ts
 * import { ConfigError, resolveConfig } from "./config.ts";
 * try { resolveConfig({ numClasses: 0 }); } catch (e) { console.log(e instanceof ConfigError); }
 * ```
 */
export class ConfigError extends Error {
  /** The offending field, e.g. `"backbone.blocks"`. */
  readonly field: string;
  /** Creates the error for `field` holding `value`; `expected` says what is allowed. */
  constructor(field: string, value: unknown, expected: string) {
    super(`Invalid config field ${field} = ${show(value)}: expected ${expected}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * torchvision 0.14's `maskrcnn_resnet50_fpn(weights=None)` as a config (a fresh copy on each access is
 * made by {@link resolveConfig}; do not mutate this object).
 *
 * @example
 * ```ts
 * import { MASKRCNN_RESNET50_FPN } from "./config.ts";
 * console.log(MASKRCNN_RESNET50_FPN.numClasses); // 91
 * ```
 */
export const MASKRCNN_RESNET50_FPN: Readonly<MaskRcnnConfig> = Object.freeze<MaskRcnnConfig>({
  numClasses: 91,
  minSize: 800,
  maxSize: 1333,
  imageMean: [0.485, 0.456, 0.406],
  imageStd: [0.229, 0.224, 0.225],
  anchorSizes: [[32], [64], [128], [256], [512]],
  aspectRatios: [[0.5, 1, 2], [0.5, 1, 2], [0.5, 1, 2], [0.5, 1, 2], [0.5, 1, 2]],
  rpnPreNmsTopNTrain: 2000,
  rpnPreNmsTopNTest: 1000,
  rpnPostNmsTopNTrain: 2000,
  rpnPostNmsTopNTest: 1000,
  rpnNmsThresh: 0.7,
  rpnFgIouThresh: 0.7,
  rpnBgIouThresh: 0.3,
  rpnBatchSizePerImage: 256,
  rpnPositiveFraction: 0.5,
  rpnScoreThresh: 0,
  boxScoreThresh: 0.05,
  boxNmsThresh: 0.5,
  boxDetectionsPerImg: 100,
  boxFgIouThresh: 0.5,
  boxBgIouThresh: 0.5,
  boxBatchSizePerImage: 512,
  boxPositiveFraction: 0.25,
  backbone: { blocks: [3, 4, 6, 3], widthPerGroup: 64 },
  fpnChannels: 256,
  boxHeadDim: 1024,
  maskHeadLayers: [256, 256, 256, 256],
  maskPredictorChannels: 256,
  maskHead: true,
  trainableBackboneLayers: 3,
});

/**
 * torchvision's box-coder weights (wx, wy, ww, wh) of the RPN: `RegionProposalNetwork` builds
 * `BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))`. Used to decode proposals and to encode the RPN's targets.
 *
 * @example
 * ```ts
 * import { RPN_BOX_WEIGHTS } from "./config.ts";
 * console.log(RPN_BOX_WEIGHTS); // [1, 1, 1, 1]
 * ```
 */
export const RPN_BOX_WEIGHTS: BoxWeights = [1, 1, 1, 1];

/**
 * torchvision's box-coder weights of the RoI box head (`RoIHeads`' `bbox_reg_weights` default
 * `(10.0, 10.0, 5.0, 5.0)`). Used to decode detections and to encode the box head's targets.
 *
 * @example
 * ```ts
 * import { ROI_BOX_WEIGHTS } from "./config.ts";
 * console.log(ROI_BOX_WEIGHTS); // [10, 10, 5, 5]
 * ```
 */
export const ROI_BOX_WEIGHTS: BoxWeights = [10, 10, 5, 5];

/**
 * torchvision's `bbox_xform_clip`, log(1000 / 16): the cap on dw, dh before `exp` when decoding boxes.
 *
 * @example
 * ```ts
 * import { BBOX_XFORM_CLIP } from "./config.ts";
 * console.log(BBOX_XFORM_CLIP.toFixed(4)); // 4.1352
 * ```
 */
export const BBOX_XFORM_CLIP: number = Math.log(1000 / 16);

/**
 * `GeneralizedRCNNTransform`'s `size_divisible`: the padded batch's height and width are multiples of it.
 *
 * @example
 * ```ts
 * import { SIZE_DIVISIBLE } from "./config.ts";
 * console.log(SIZE_DIVISIBLE); // 32
 * ```
 */
export const SIZE_DIVISIBLE = 32;

/**
 * Overrides applied on top of {@link MASKRCNN_RESNET50_FPN} by each preset. `small` is the demo model:
 * 4 classes (background + 3), a ResNet with one Bottleneck per stage and base width 16, 64-channel FPN,
 * 128-wide box head, two 64-channel mask convs and 128x128 inputs. Its state_dict still has ~4.3 M
 * values (~17 MB as f32) because the Bottleneck expansion keeps layer4's 1024→2048 downsample conv.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./config.ts";
 * console.log(PRESETS.small.numClasses); // 4
 * ```
 */
export const PRESETS: Readonly<Record<PresetName, ConfigOverrides>> = Object.freeze({
  maskrcnn_resnet50_fpn: {},
  maskrcnn_resnet101_fpn: { backbone: { blocks: [3, 4, 23, 3] } },
  fasterrcnn_resnet50_fpn: { maskHead: false },
  small: {
    numClasses: 4,
    backbone: { blocks: [1, 1, 1, 1], widthPerGroup: 16 },
    fpnChannels: 64,
    boxHeadDim: 128,
    maskHeadLayers: [64, 64],
    maskPredictorChannels: 64,
    minSize: 128,
    maxSize: 128,
  },
});

function clone<T>(value: T): T {
  return structuredClone(value);
}

function mergeOverrides(base: MaskRcnnConfig, overrides: ConfigOverrides, where: string): MaskRcnnConfig {
  const out = base;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in out)) {
      throw new ConfigError(key, value, `a field of MaskRcnnConfig (unknown field in ${where})`);
    }
    if (key === "backbone") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError("backbone", value, "an object { blocks?, widthPerGroup? }");
      }
      for (const [bk, bv] of Object.entries(value)) {
        if (bv === undefined) continue;
        if (bk !== "blocks" && bk !== "widthPerGroup") {
          throw new ConfigError(`backbone.${bk}`, bv, "blocks or widthPerGroup (unknown field)");
        }
        (out.backbone as unknown as Record<string, unknown>)[bk] = clone(bv);
      }
    } else {
      (out as unknown as Record<string, unknown>)[key] = clone(value);
    }
  }
  return out;
}

/**
 * Returns the full, validated config of a preset (default `maskrcnn_resnet50_fpn`) with `overrides`
 * applied. Throws {@link ConfigError} naming the first unknown or invalid field.
 *
 * @example Torchvision's defaults, the demo model, and an override
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * console.log(resolveConfig().minSize); // 800
 * console.log(resolveConfig({ preset: "small" }).fpnChannels); // 64
 * console.log(resolveConfig({ preset: "fasterrcnn_resnet50_fpn", numClasses: 3 }).maskHead); // false
 * ```
 */
export function resolveConfig(options: ResolveConfigOptions = {}): MaskRcnnConfig {
  const { preset = "maskrcnn_resnet50_fpn", ...overrides } = options;
  if (!Object.hasOwn(PRESETS, preset)) {
    throw new ConfigError("preset", preset, `one of ${Object.keys(PRESETS).join(", ")}`);
  }
  let config = clone(MASKRCNN_RESNET50_FPN) as MaskRcnnConfig;
  config = mergeOverrides(config, PRESETS[preset], `preset ${preset}`);
  config = mergeOverrides(config, overrides, "overrides");
  validateConfig(config);
  return config;
}

type Check = (value: unknown) => boolean;
const isInt: Check = (v) => typeof v === "number" && Number.isInteger(v);
const isPosInt: Check = (v) => isInt(v) && (v as number) > 0;
const isFinite: Check = (v) => typeof v === "number" && Number.isFinite(v);
const isUnit: Check = (v) => isFinite(v) && (v as number) >= 0 && (v as number) <= 1;

function need(ok: boolean, field: string, value: unknown, expected: string): void {
  if (!ok) throw new ConfigError(field, value, expected);
}

function needArray(field: string, value: unknown, length: number | null, each: Check, what: string): void {
  const ok = Array.isArray(value) && (length === null ? value.length > 0 : value.length === length) &&
    value.every(each);
  need(ok, field, value, `${length === null ? "a non-empty" : `${length}-element`} array of ${what}`);
}

const POSITIVE_INTS =
  ("numClasses minSize maxSize rpnPreNmsTopNTrain rpnPreNmsTopNTest rpnPostNmsTopNTrain " +
    "rpnPostNmsTopNTest rpnBatchSizePerImage boxDetectionsPerImg boxBatchSizePerImage fpnChannels boxHeadDim " +
    "maskPredictorChannels").split(" ");

const UNIT_INTERVAL = ("rpnNmsThresh rpnFgIouThresh rpnBgIouThresh rpnPositiveFraction rpnScoreThresh " +
  "boxScoreThresh boxNmsThresh boxFgIouThresh boxBgIouThresh boxPositiveFraction").split(" ");

/**
 * Throws {@link ConfigError} naming the first invalid field of a complete config (types, ranges and the
 * cross-field rules torchvision relies on: minSize ≤ maxSize, bg ≤ fg IoU thresholds, one anchor count
 * for every FPN level). {@link resolveConfig} calls it; use it for configs built by hand.
 *
 * @example
 * ```ts
 * import { MASKRCNN_RESNET50_FPN, validateConfig } from "./config.ts";
 * validateConfig(structuredClone(MASKRCNN_RESNET50_FPN)); // passes
 * try { validateConfig({ ...MASKRCNN_RESNET50_FPN, rpnNmsThresh: 2 }); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function validateConfig(config: MaskRcnnConfig): void {
  const c = config as unknown as Record<string, unknown>;
  for (const key of Object.keys(MASKRCNN_RESNET50_FPN)) {
    need(key in c && c[key] !== undefined, key, undefined, "a value (field missing)");
  }
  for (const key of Object.keys(c)) {
    need(key in MASKRCNN_RESNET50_FPN, key, c[key], "a field of MaskRcnnConfig (unknown field)");
  }
  for (const key of POSITIVE_INTS) need(isPosInt(c[key]), key, c[key], "a positive integer");
  for (const key of UNIT_INTERVAL) need(isUnit(c[key]), key, c[key], "a number in [0, 1]");
  need(config.numClasses >= 2, "numClasses", config.numClasses, "at least 2 (background + one class)");
  need(config.minSize <= config.maxSize, "minSize", config.minSize, `at most maxSize (${config.maxSize})`);
  needArray("imageMean", c.imageMean, 3, isFinite, "finite numbers");
  needArray("imageStd", c.imageStd, 3, (v) => isFinite(v) && (v as number) > 0, "positive numbers");
  const levelsOk = (v: unknown) => Array.isArray(v) && v.length > 0;
  need(levelsOk(c.anchorSizes), "anchorSizes", c.anchorSizes, "a non-empty array of levels");
  need(
    levelsOk(c.aspectRatios) && (c.aspectRatios as unknown[]).length === config.anchorSizes.length,
    "aspectRatios",
    c.aspectRatios,
    `one entry per anchorSizes level (${config.anchorSizes.length})`,
  );
  const positive = (v: unknown) => isFinite(v) && (v as number) > 0;
  config.anchorSizes.forEach((s, i) => needArray(`anchorSizes[${i}]`, s, null, positive, "positive numbers"));
  config.aspectRatios.forEach((r, i) =>
    needArray(`aspectRatios[${i}]`, r, null, positive, "positive numbers")
  );
  const perLevel = config.anchorSizes.map((s, i) => s.length * config.aspectRatios[i].length);
  need(
    perLevel.every((n) => n === perLevel[0]),
    "aspectRatios",
    c.aspectRatios,
    `the same anchor count (sizes × ratios) on every level for the shared RPN head, got ${perLevel}`,
  );
  need(
    config.rpnBgIouThresh <= config.rpnFgIouThresh,
    "rpnBgIouThresh",
    config.rpnBgIouThresh,
    `at most rpnFgIouThresh (${config.rpnFgIouThresh})`,
  );
  need(
    config.boxBgIouThresh <= config.boxFgIouThresh,
    "boxBgIouThresh",
    config.boxBgIouThresh,
    `at most boxFgIouThresh (${config.boxFgIouThresh})`,
  );
  const bb = c.backbone as Record<string, unknown> | null;
  need(typeof bb === "object" && bb !== null, "backbone", bb, "an object { blocks, widthPerGroup }");
  for (const key of Object.keys(bb!)) {
    need(key === "blocks" || key === "widthPerGroup", `backbone.${key}`, bb![key], "no such field");
  }
  needArray("backbone.blocks", bb!.blocks, 4, isPosInt, "positive integers");
  need(isPosInt(bb!.widthPerGroup), "backbone.widthPerGroup", bb!.widthPerGroup, "a positive integer");
  needArray("maskHeadLayers", c.maskHeadLayers, null, isPosInt, "positive integers");
  need(typeof c.maskHead === "boolean", "maskHead", c.maskHead, "a boolean");
  need(
    isInt(c.trainableBackboneLayers) && (c.trainableBackboneLayers as number) >= 0 &&
      (c.trainableBackboneLayers as number) <= 5,
    "trainableBackboneLayers",
    c.trainableBackboneLayers,
    "an integer in [0, 5]",
  );
}
