/**
 * `torchvision.ops.MultiScaleRoIAlign` on NHWC FPN levels (P2–P5 in Mask R-CNN): each RoI is pooled from
 * the level chosen by the FPN paper's eqn. 1 as torchvision 0.14's `LevelMapper` computes it in f32,
 * `lvl = clamp(floor(4 + log2(sqrt(area) / 224) + 1e-6), kMin, kMax)` (area of the box in image pixels).
 *
 * Design: ONE dispatch. The four levels are bound side by side and every invocation maps its RoI's level
 * itself (a dozen ALU ops) before sampling that level, so there is no per-level gather/scatter of RoIs, no
 * read-back, and the output stays in RoI order. Scales follow torchvision's `_setup_scales`: per level
 * `2 ** round(log2(featureHeight / imageHeight))` from the largest image size, and kMin/kMax = −log2 of the
 * first/last scale. The pooling itself is torchvision's roi_align with `aligned=False` (see `roi_align.ts`).
 *
 * Deviation: torch's level of an inverted box (negative area → NaN → int64) is undefined and in practice
 * matches no level, leaving zeros; here such RoIs pool zeros by rule (their level index is −1).
 * @module
 */
import { ROI_WORKGROUP, roiLevelsWgsl } from "../shaders/roi_align.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, type OccupiedRows, params } from "./kernel.ts";
import {
  checkFeatures,
  checkRois,
  type LevelMapperConfig,
  outputPair,
  roiAlignPyramid,
} from "./roi_align.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";

/** Options of {@link multiScaleRoiAlign}. */
export interface MultiScaleRoiAlignOptions {
  /** Names of the levels to pool from, finest first; default `["p2", "p3", "p4", "p5"]`. */
  featmapNames?: readonly string[];
  /** Output bins, e.g. 7 (box head) or 14 (mask head). */
  outputSize: number | readonly [number, number];
  /** Samples per bin side (2 in Mask R-CNN); <= 0 for adaptive. */
  samplingRatio: number;
  /** Box size that maps to `canonicalLevel`; default 224. */
  canonicalScale?: number;
  /** Level of a canonical box; default 4. */
  canonicalLevel?: number;
  /** Only these RoI rows hold real work (counted on the GPU); the other output rows are left stale. */
  occupied?: OccupiedRows;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `_infer_scale`: `2 ** round(log2(featureSize / imageSize))`, the ratio taken in f32.
 *
 * @example
 * ```ts
 * import { inferScale } from "./multiscale_roi_align.ts";
 * console.log(inferScale(13, 200)); // 0.0625
 * ```
 */
export function inferScale(featureSize: number, imageSize: number): number {
  return 2 ** roundHalfEven(Math.log2(Math.fround(featureSize / imageSize)));
}

/**
 * The scales and level mapper torchvision's `_setup_scales` derives from feature and image sizes.
 * `imageShapes`: the (height, width) of every image before batching; the largest of each is used.
 *
 * @example
 * ```ts
 * import { setupScales } from "./multiscale_roi_align.ts";
 * const { scales, mapper } = setupScales([50, 25, 13, 7], [[200, 304]]);
 * console.log(scales, mapper.kMin, mapper.kMax); // [0.25, 0.125, 0.0625, 0.03125] 2 5
 * ```
 */
export function setupScales(
  featureHeights: readonly number[],
  imageShapes: readonly (readonly [number, number])[],
  canonicalScale = 224,
  canonicalLevel = 4,
): { scales: number[]; mapper: LevelMapperConfig } {
  if (imageShapes.length === 0) {
    throw new ShapeError("multiscale_roi_align", "image shapes must not be empty");
  }
  const maxH = Math.max(...imageShapes.map((s) => s[0]));
  const scales = featureHeights.map((h) => inferScale(h, maxH));
  const mapper = {
    kMin: Math.trunc(-Math.log2(scales[0])),
    kMax: Math.trunc(-Math.log2(scales[scales.length - 1])),
    canonicalScale,
    canonicalLevel,
    eps: 1e-6,
  };
  return { scales, mapper };
}

function mapperParams(r: number, m: LevelMapperConfig): Uint32Array {
  return params(
    ["u32", r],
    ["f32", m.kMin],
    ["f32", m.kMax],
    ["f32", m.canonicalScale],
    ["f32", m.canonicalLevel],
    ["f32", m.eps],
  );
}

/**
 * The 0-based FPN level index of each RoI (torchvision `LevelMapper(boxes)`), computed on the GPU.
 * rois: [R, 5] f32 → [R] i32 (−1 for an inverted box).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { roiLevels, setupScales } from "./multiscale_roi_align.ts";
 * await getGpu();
 * const rois = tensorFromArray(new Float32Array([0, 0, 0, 224, 224, 0, 0, 0, 32, 32]), [2, 5]);
 * console.log(await roiLevels(rois, setupScales([200, 100, 50, 25], [[800, 1216]]).mapper).read()); // [2, 0]
 * ```
 */
export function roiLevels(rois: Tensor, mapper: LevelMapperConfig): Tensor {
  checkRois("roi_levels", rois);
  const r = rois.shape[0];
  const out = emptyTensor([r], "i32");
  if (r === 0) return out;
  dispatch({ key: "multiscale_roi_align/levels", source: roiLevelsWgsl() }, {
    op: "roi_levels",
    tensors: [["rois", rois], ["levels", out]],
    params: mapperParams(r, mapper),
    workgroups: Math.ceil(r / ROI_WORKGROUP),
  });
  return out;
}

/**
 * `MultiScaleRoIAlign(featmapNames, outputSize, samplingRatio)(features, boxes, imageShapes)` with the RoIs
 * already in `[R, 5]` (batchIndex, x1, y1, x2, y2) form, as torchvision's `_convert_to_roi_format` makes.
 * features: name → [N, Hl, Wl, C] f32 (NHWC, same N and C); imageShapes: (height, width) per image →
 * [R, outH, outW, C] f32 in RoI order.
 *
 * @example Box-head pooling of an 800×1216 image
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { multiScaleRoiAlign } from "./multiscale_roi_align.ts";
 * await getGpu();
 * const level = (h: number, w: number) => tensorFromArray(new Float32Array(h * w * 4).fill(1), [1, h, w, 4]);
 * const features = { p2: level(200, 304), p3: level(100, 152), p4: level(50, 76), p5: level(25, 38) };
 * const rois = tensorFromArray(new Float32Array([0, 10, 20, 300, 400]), [1, 5]);
 * const y = multiScaleRoiAlign(features, rois, [[800, 1216]], { outputSize: 7, samplingRatio: 2 });
 * console.log(y.shape); // [1, 7, 7, 4]
 * ```
 */
export function multiScaleRoiAlign(
  features: Readonly<Record<string, Tensor>>,
  rois: Tensor,
  imageShapes: readonly (readonly [number, number])[],
  options: MultiScaleRoiAlignOptions,
): Tensor {
  const op = "multiscale_roi_align";
  const names = options.featmapNames ?? ["p2", "p3", "p4", "p5"];
  const missing = names.filter((n) => !(n in features));
  if (missing.length) {
    throw new ShapeError(op, `feature maps ${missing.join(", ")} missing (have ${Object.keys(features)})`);
  }
  const levels = names.map((n) => features[n]);
  checkFeatures(op, names.map((n) => [n, features[n]] as const));
  checkRois(op, rois);
  if (!Number.isInteger(options.samplingRatio)) {
    throw new ShapeError(op, `sampling ratio ${options.samplingRatio} must be an integer`);
  }
  const { scales, mapper } = setupScales(
    levels.map((t) => t.shape[1]),
    imageShapes,
    options.canonicalScale,
    options.canonicalLevel,
  );
  return roiAlignPyramid(op, levels, rois, {
    outputSize: outputPair(op, options.outputSize),
    scales,
    samplingRatio: options.samplingRatio,
    aligned: false,
    mapper: levels.length > 1 ? mapper : undefined, // torchvision pools one level without mapping
    occupied: options.occupied,
  });
}
