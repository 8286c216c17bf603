/**
 * The state_dict a config implies: every key and shape of the torchvision 0.14 model built with the same
 * choices (ResNet body with FrozenBatchNorm2d, FPN, RPN head, TwoMLPHead, FastRCNNPredictor and, for Mask
 * R-CNN, MaskRCNNHeads and MaskRCNNPredictor), in torchvision's order, plus {@link canonicalName}, which maps
 * the names of older torchvision releases (and `module.` prefixes of DataParallel) to the 0.14 names.
 * @module
 */
import type { MaskRcnnConfig } from "./config.ts";

/** One expected tensor: its canonical (torchvision 0.14) name and shape. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** torchvision ResNet stage widths before the Bottleneck expansion (`planes`). */
const PLANES = [64, 128, 256, 512];
const EXPANSION = 4;
/** RoIAlign output side of the box branch (`MultiScaleRoIAlign(output_size=7)`). */
const BOX_POOL = 7;

function conv(out: ExpectedTensor[], prefix: string, shape: number[], bias: boolean): void {
  out.push({ name: `${prefix}.weight`, shape });
  if (bias) out.push({ name: `${prefix}.bias`, shape: [shape[0]] });
}

function frozenBn(out: ExpectedTensor[], prefix: string, channels: number): void {
  for (const p of ["weight", "bias", "running_mean", "running_var"]) {
    out.push({ name: `${prefix}.${p}`, shape: [channels] });
  }
}

function resnetBody(out: ExpectedTensor[], config: MaskRcnnConfig): number[] {
  const p = "backbone.body";
  conv(out, `${p}.conv1`, [64, 3, 7, 7], false);
  frozenBn(out, `${p}.bn1`, 64);
  let inplanes = 64;
  const stageOutputs: number[] = [];
  config.backbone.blocks.forEach((blocks, stage) => {
    const planes = PLANES[stage];
    // torchvision: width = int(planes * (base_width / 64.0)) * groups, groups = 1
    const width = Math.floor(planes * (config.backbone.widthPerGroup / 64));
    const outC = planes * EXPANSION;
    for (let b = 0; b < blocks; b++) {
      const q = `${p}.layer${stage + 1}.${b}`;
      conv(out, `${q}.conv1`, [width, inplanes, 1, 1], false);
      frozenBn(out, `${q}.bn1`, width);
      conv(out, `${q}.conv2`, [width, width, 3, 3], false);
      frozenBn(out, `${q}.bn2`, width);
      conv(out, `${q}.conv3`, [outC, width, 1, 1], false);
      frozenBn(out, `${q}.bn3`, outC);
      if (b === 0) { // stride 2 (layer2..4) or inplanes 64 != 256 (layer1): always a downsample
        conv(out, `${q}.downsample.0`, [outC, inplanes, 1, 1], false);
        frozenBn(out, `${q}.downsample.1`, outC);
      }
      inplanes = outC;
    }
    stageOutputs.push(outC);
  });
  return stageOutputs;
}

/**
 * The expected state_dict of `config`, in torchvision's order, with torchvision 0.14 names. BatchNorm
 * layers are FrozenBatchNorm2d (no `num_batches_tracked`).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { expectedStateDict } from "./state_dict_names.ts";
 * const names = expectedStateDict(resolveConfig());
 * console.log(names.find((t) => t.name === "rpn.head.conv.0.0.weight")?.shape); // [256, 256, 3, 3]
 * ```
 */
export function expectedStateDict(config: MaskRcnnConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const stageOutputs = resnetBody(out, config);
  const c = config.fpnChannels;
  stageOutputs.forEach((inC, i) => conv(out, `backbone.fpn.inner_blocks.${i}.0`, [c, inC, 1, 1], true));
  stageOutputs.forEach((_, i) => conv(out, `backbone.fpn.layer_blocks.${i}.0`, [c, c, 3, 3], true));
  const anchors = config.anchorSizes[0].length * config.aspectRatios[0].length;
  conv(out, "rpn.head.conv.0.0", [c, c, 3, 3], true);
  conv(out, "rpn.head.cls_logits", [anchors, c, 1, 1], true);
  conv(out, "rpn.head.bbox_pred", [anchors * 4, c, 1, 1], true);
  const d = config.boxHeadDim;
  const n = config.numClasses;
  conv(out, "roi_heads.box_head.fc6", [d, c * BOX_POOL * BOX_POOL], true);
  conv(out, "roi_heads.box_head.fc7", [d, d], true);
  conv(out, "roi_heads.box_predictor.cls_score", [n, d], true);
  conv(out, "roi_heads.box_predictor.bbox_pred", [n * 4, d], true);
  if (config.maskHead) {
    let prev = c;
    config.maskHeadLayers.forEach((layer, i) => {
      conv(out, `roi_heads.mask_head.${i}.0`, [layer, prev, 3, 3], true);
      prev = layer;
    });
    const r = config.maskPredictorChannels;
    // ConvTranspose2d weights are [in, out, kH, kW]; the bias has `out` entries.
    out.push({ name: "roi_heads.mask_predictor.conv5_mask.weight", shape: [prev, r, 2, 2] });
    out.push({ name: "roi_heads.mask_predictor.conv5_mask.bias", shape: [r] });
    conv(out, "roi_heads.mask_predictor.mask_fcn_logits", [n, r, 1, 1], true);
  }
  return out;
}

/** Names of the class-count-dependent layers, skipped by `checkStateDict(..., { skipPredictor: true })`. */
const PREDICTOR = /^roi_heads\.(box_predictor\.|mask_predictor\.mask_fcn_logits\.)/;

/**
 * Whether `name` (canonical) belongs to a predictor layer whose shape depends on `numClasses`.
 *
 * @example
 * ```ts
 * import { isPredictorName } from "./state_dict_names.ts";
 * console.log(isPredictorName("roi_heads.box_predictor.cls_score.weight")); // true
 * console.log(isPredictorName("roi_heads.mask_predictor.conv5_mask.weight")); // false
 * ```
 */
export function isPredictorName(name: string): boolean {
  return PREDICTOR.test(name);
}

/** Old-generation (torchvision < 0.13 / version-1 modules) name patterns and their 0.14 forms. */
const RENAMES: [RegExp, (m: RegExpMatchArray) => string][] = [
  // FeaturePyramidNetwork._load_from_state_dict: {block}.{i}.{type} -> {block}.{i}.0.{type}
  [/^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.(weight|bias)$/, (m) => `${m[1]}.0.${m[2]}`],
  // RPNHead._load_from_state_dict: conv.{type} -> conv.0.0.{type}
  [/^(rpn\.head\.conv)\.(weight|bias)$/, (m) => `${m[1]}.0.0.${m[2]}`],
  // MaskRCNNHeads._load_from_state_dict: mask_fcn{i+1}.{type} -> {i}.0.{type}
  [
    /^(roi_heads\.mask_head)\.mask_fcn(\d+)\.(weight|bias)$/,
    (m) => `${m[1]}.${Number(m[2]) - 1}.0.${m[3]}`,
  ],
];

/**
 * Maps a state_dict key of any torchvision generation to the canonical torchvision 0.14 name: strips
 * DataParallel's `module.` prefix and applies the renames of the version-upgrade hooks in
 * `feature_pyramid_network.py`, `rpn.py` and `mask_rcnn.py`. Other names are returned unchanged.
 *
 * @example
 * ```ts
 * import { canonicalName } from "./state_dict_names.ts";
 * console.log(canonicalName("backbone.fpn.inner_blocks.0.weight")); // backbone.fpn.inner_blocks.0.0.weight
 * console.log(canonicalName("rpn.head.conv.bias")); // rpn.head.conv.0.0.bias
 * console.log(canonicalName("roi_heads.mask_head.mask_fcn1.weight")); // roi_heads.mask_head.0.0.weight
 * ```
 */
export function canonicalName(name: string): string {
  const bare = name.startsWith("module.") ? name.slice("module.".length) : name;
  for (const [pattern, rename] of RENAMES) {
    const m = bare.match(pattern);
    if (m) return rename(m);
  }
  return bare;
}

/**
 * Whether a key is a BatchNorm `num_batches_tracked` counter, which FrozenBatchNorm2d drops on load.
 *
 * @example
 * ```ts
 * import { isIgnoredName } from "./state_dict_names.ts";
 * console.log(isIgnoredName("backbone.body.bn1.num_batches_tracked")); // true
 * ```
 */
export function isIgnoredName(name: string): boolean {
  return name.endsWith(".num_batches_tracked") || name === "num_batches_tracked";
}
