/**
 * RoIAlign, `torchvision.ops.roi_align` on NHWC features: for each RoI (batchIndex, x1, y1, x2, y2) in
 * input pixels, average `sampling × sampling` bilinear samples per output bin. Semantics of torchvision
 * 0.14's CPU kernel: sample grid `ceil(roi_size / output_size)` when `samplingRatio <= 0`; when not
 * `aligned` the RoI size is at least 1 (legacy), when `aligned` coordinates are shifted by −0.5 pixel; a
 * sample outside [-1, H] × [-1, W] contributes 0, one in [-1, 0] is clamped to 0, one past the last row or
 * column is clamped to it; the sum is divided by max(gridH × gridW, 1). RoIs whose batch index is outside
 * [0, N) pool zeros (torch reads out of bounds there).
 *
 * One dispatch (one per binding-sized range of a very large output), no read-back; see
 * `shaders/roi_align.wgsl.ts` for the kernel layout. The uniform layout, packed by
 * {@link roiAlignParamWords}, is shared with the backward kernels. {@link roiAlignPyramid} is the shared multi-level entry used by `multiscale_roi_align.ts`.
 * @module
 */
import { ROI_WORKGROUP, roiAlignWgsl } from "../shaders/roi_align.wgsl.ts";
import { bindingChunks, rangeView } from "./binding_chunks.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { softwareGemmTiles } from "./gpu.ts";
import { dispatch, type OccupiedRows, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/**
 * Output elements (channel vectors, or scalars) per invocation of the RoIAlign forward, per adapter class
 * (mutable so tests run both): each invocation computes its RoI's prologue and bilinear taps once for that
 * many consecutive channels (the largest of 1, 2, 4 up to this that divides the vectors per pixel).
 * Measured on lavapipe (family 26 / AVX-512, Mesa 25.0.7, process CPU ms of 1000 RoIs × 7 × 7 over four
 * 64-channel levels, alternated): 1 per invocation 68 / 66, 4 per invocation 48 / 51 (with the feature
 * loads stubbed out: 53 → 20, so the prologue, not the loads, dominated); R50's 256 channels 383 / 390 →
 * 322 / 308; 8 or 16 per invocation were slower than 4. GPUs keep 1 (neighbouring lanes, neighbouring
 * addresses).
 *
 * @example
 * ```ts
 * import { ROI_ALIGN_CHANNELS } from "./roi_align.ts";
 * console.log(ROI_ALIGN_CHANNELS.software, ROI_ALIGN_CHANNELS.hardware); // 4 1
 * ```
 */
export const ROI_ALIGN_CHANNELS: { software: number; hardware: number } = { software: 4, hardware: 1 };

/** The FPN level mapper's constants (torchvision's `LevelMapper`). */
export interface LevelMapperConfig {
  /** Lowest level, e.g. 2 (P2). */
  kMin: number;
  /** Highest level, e.g. 5 (P5). */
  kMax: number;
  /** Canonical box size, 224. */
  canonicalScale: number;
  /** Level of a canonical box, 4. */
  canonicalLevel: number;
  /** Added before the floor, 1e-6. */
  eps: number;
}

/** Pooling geometry shared by the single- and multi-level entries. */
export interface RoiAlignGeometry {
  /** Output bins [outH, outW]. */
  outputSize: readonly [number, number];
  /** Feature pixels per input pixel, one per level. */
  scales: readonly number[];
  /** Samples per bin side; <= 0 for adaptive `ceil(roi_size / output_size)`. */
  samplingRatio: number;
  /** Half-pixel shift (torchvision `aligned=True`). */
  aligned: boolean;
  /** Choose each RoI's level on the GPU with this mapper (else every RoI uses level 0). */
  mapper?: LevelMapperConfig;
  /** Only these RoI rows hold real work (counted on the GPU); the other output rows are left stale. */
  occupied?: OccupiedRows;
}

/** One word of a params block: its WGSL type and value (ops/kernel.ts `params`). */
export type ParamWord = readonly ["u32" | "i32" | "f32", number];

/** The dispatch-dependent words of the shared RoIAlign uniform layout. */
export interface RoiAlignLaunch {
  /** RoI rows R. */
  rois: number;
  /** Channel units per pixel (C / 4 for vec4 kernels, else C). */
  cv: number;
  /** Images N of the maps. */
  batch: number;
  /** Invocations that do work in this dispatch. */
  total: number;
  /** First output element of this dispatch (the forward's ranges over a large output). */
  offset?: number;
  /** [N, H, W, C] of each bound map (1 to 4). */
  maps: readonly (readonly number[])[];
}

/**
 * The 28 words of the RoIAlign uniform layout shared by the forward and backward kernels (`struct Params`
 * of `shaders/roi_align_common.wgsl.ts`: 16 scalars, then per-level heights, widths and scales); kernels
 * with more fields append their words after these.
 *
 * @example
 * ```ts
 * import { params } from "./kernel.ts";
 * import { roiAlignParamWords } from "./roi_align.ts";
 * const words = roiAlignParamWords(
 *   { outputSize: [7, 7], scales: [0.25], samplingRatio: 2, aligned: false },
 *   { rois: 8, cv: 64, batch: 1, total: 8 * 49 * 64, maps: [[1, 50, 76, 256]] },
 * );
 * console.log(params(...words).length); // 28
 * ```
 */
export function roiAlignParamWords(geometry: RoiAlignGeometry, launch: RoiAlignLaunch): ParamWord[] {
  const m = geometry.mapper;
  const perLevel = (f: (shape: readonly number[], i: number) => number) =>
    [0, 1, 2, 3].map((i) => f(launch.maps[Math.min(i, launch.maps.length - 1)], i));
  const scale = (i: number) => geometry.scales[Math.min(i, geometry.scales.length - 1)];
  return [
    ["u32", launch.rois],
    ["u32", geometry.outputSize[0]],
    ["u32", geometry.outputSize[1]],
    ["u32", launch.cv],
    ["i32", geometry.samplingRatio],
    ["u32", geometry.aligned ? 1 : 0],
    ["u32", launch.batch],
    ["u32", launch.total],
    ["f32", m?.kMin ?? 0],
    ["f32", m?.kMax ?? 0],
    ["f32", m?.canonicalScale ?? 1],
    ["f32", m?.canonicalLevel ?? 0],
    ["f32", m?.eps ?? 0],
    ["u32", launch.offset ?? 0],
    ["u32", 0],
    ["u32", 0],
    ...perLevel((s) => s[1]).map((h) => ["u32", h] as const),
    ...perLevel((s) => s[2]).map((w) => ["u32", w] as const),
    ...perLevel((_, i) => scale(i)).map((v) => ["f32", v] as const),
  ];
}

/**
 * The 4 words of `OCCUPIED_FIELDS_WGSL` (shaders/roi_align_common.wgsl.ts) that tell the backward kernels
 * which of the `rows` RoI rows are in use: segments (0 = all), stride, count index, padding.
 *
 * @example
 * ```ts
 * import { occupiedRowWords } from "./roi_align.ts";
 * console.log(occupiedRowWords(undefined, 512).map(([, v]) => v)); // [0, 512, 0, 0]
 * ```
 */
export function occupiedRowWords(occupied: OccupiedRows | undefined, rows: number): ParamWord[] {
  return [
    ["u32", occupied ? occupied.segments ?? 1 : 0],
    ["u32", occupied?.stride ?? rows],
    ["u32", occupied?.index ?? 0],
    ["u32", 0],
  ];
}

/** Normalises an `output_size` argument (int or pair) and checks it. */
export function outputPair(op: string, size: number | readonly [number, number]): [number, number] {
  const pair: [number, number] = typeof size === "number" ? [size, size] : [size[0], size[1]];
  if (!pair.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ShapeError(op, `output size [${pair}] must be positive integers`);
  }
  return pair;
}

/** Checks `rois [R, 5]` f32. */
export function checkRois(op: string, rois: Tensor): void {
  rois.check(op, "rois");
  assertDType(op, "rois", rois, ["f32"]);
  if (rois.rank !== 2 || rois.shape[1] !== 5) {
    throw new ShapeError(op, `rois must be [R, 5] (batchIndex, x1, y1, x2, y2), got ${rois.describe()}`);
  }
}

/** Checks NHWC feature maps: rank 4 f32, equal N and C across levels; returns [N, C]. */
export function checkFeatures(
  op: string,
  features: readonly (readonly [string, Tensor])[],
): [number, number] {
  if (features.length < 1 || features.length > 4) {
    throw new ShapeError(op, `expects 1 to 4 feature maps, got ${features.length}`);
  }
  for (const [name, f] of features) {
    f.check(op, name);
    assertDType(op, name, f, ["f32"]);
    assertRank(op, name, f, 4, "N,H,W,C");
    if (f.shape[1] < 1 || f.shape[2] < 1 || f.shape[3] < 1) {
      throw new ShapeError(op, `${name} ${f.describe()} has an empty spatial or channel axis`);
    }
  }
  const [first, f0] = features[0];
  for (const [name, f] of features) {
    if (f.shape[0] !== f0.shape[0] || f.shape[3] !== f0.shape[3]) {
      throw new ShapeError(op, `${name} ${f.describe()} and ${first} ${f0.describe()} differ in N or C`);
    }
  }
  return [f0.shape[0], f0.shape[3]];
}

/**
 * RoIAlign over 1–4 NHWC feature maps bound at once (checked by the caller): each RoI reads level 0, or the
 * level chosen by `geometry.mapper`. rois: [R, 5] f32 → [R, outH, outW, C] f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { roiAlignPyramid } from "./roi_align.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array(2 * 3 * 4).fill(1), [1, 2, 3, 4]);
 * const rois = tensorFromArray(new Float32Array([0, 0, 0, 2, 1]), [1, 5]);
 * const y = roiAlignPyramid("roi_align", [x], rois, { outputSize: [2, 2], scales: [1], samplingRatio: 2, aligned: false });
 * console.log(y.shape); // [1, 2, 2, 4]
 * ```
 */
export function roiAlignPyramid(
  op: string,
  features: readonly Tensor[],
  rois: Tensor,
  geometry: RoiAlignGeometry,
): Tensor {
  const [outH, outW] = geometry.outputSize;
  const [n, c] = [features[0].shape[0], features[0].shape[3]];
  const r = rois.shape[0];
  const vec4 = c % 4 === 0;
  const cv = vec4 ? c / 4 : c;
  const out = emptyTensor([r, outH, outW, c], "f32");
  const total = r * outH * outW * cv;
  if (total === 0) return out;
  if (total > 0xffffffff - ROI_WORKGROUP) {
    throw new LimitError(op, `output [${out.shape}] has too many elements for one dispatch`);
  }
  const m = geometry.mapper;
  const most = softwareGemmTiles() ? ROI_ALIGN_CHANNELS.software : ROI_ALIGN_CHANNELS.hardware;
  let channels = 1;
  while (channels * 2 <= most && cv % (channels * 2) === 0) channels *= 2;
  const variant = { vec4, levels: features.length, mapLevels: m !== undefined, channels };
  const kernel = {
    key: `roi_align/${vec4 ? "vec4" : "f32"}/L${variant.levels}/${m ? "map" : "one"}/c${channels}`,
    source: roiAlignWgsl(variant),
  };
  const unitBytes = vec4 ? 16 : 4;
  // Ranges of whole invocations (`channels` elements each), so each starts on an invocation boundary.
  for (const [startGroup, groups] of bindingChunks(out.gpu, total / channels, [unitBytes * channels])) {
    const [start, count] = [startGroup * channels, groups * channels];
    dispatch(kernel, {
      op,
      tensors: [
        ["rois", rois],
        ...features.map((f, i) => [`features[${i}]`, f] as const),
        ["out", rangeView(out, start, unitBytes, (count * unitBytes) / 4)],
      ],
      params: params(...roiAlignParamWords(geometry, {
        rois: r,
        cv,
        batch: n,
        total: count,
        offset: start,
        maps: features.map((f) => f.shape),
      })),
      workgroups: Math.ceil(groups / ROI_WORKGROUP),
      bound: geometry.occupied && {
        ...geometry.occupied,
        unitsPerRow: (outH * outW * cv) / channels,
        unitsPerWorkgroup: ROI_WORKGROUP,
        firstUnit: startGroup,
      },
    });
  }
  return out;
}

/**
 * `torchvision.ops.roi_align(input, rois, output_size, spatial_scale, sampling_ratio, aligned)` on NHWC.
 * input: [N, H, W, C] f32, rois: [R, 5] f32 (batchIndex, x1, y1, x2, y2 in input-image pixels)
 * → [R, outH, outW, C] f32.
 *
 * @example Mask R-CNN's mask-head pooling on one level (stride 4)
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { roiAlign } from "./roi_align.ts";
 * await getGpu();
 * const p2 = tensorFromArray(new Float32Array(1 * 8 * 8 * 4).fill(0.5), [1, 8, 8, 4]);
 * const rois = tensorFromArray(new Float32Array([0, 4, 4, 20, 28]), [1, 5]);
 * const y = roiAlign(p2, rois, 14, 0.25, 2, false);
 * console.log(y.shape); // [1, 14, 14, 4]
 * ```
 */
export function roiAlign(
  input: Tensor,
  rois: Tensor,
  outputSize: number | readonly [number, number],
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
): Tensor {
  const op = "roi_align";
  checkFeatures(op, [["input", input]]);
  checkRois(op, rois);
  if (!Number.isInteger(samplingRatio)) {
    throw new ShapeError(op, `sampling ratio ${samplingRatio} must be an integer (<= 0 for adaptive)`);
  }
  if (!(spatialScale > 0)) throw new ShapeError(op, `spatial scale ${spatialScale} must be positive`);
  return roiAlignPyramid(op, [input], rois, {
    outputSize: outputPair(op, outputSize),
    scales: [spatialScale],
    samplingRatio,
    aligned,
  });
}
