/**
 * Backward passes of RoIAlign and MultiScaleRoIAlign (torchvision 0.14's `roi_align` backward): the
 * gradient w.r.t. the NHWC feature map(s), given the gradient of the pooled output. Each bin's gradient
 * divided by the sample count is spread over the four bilinear taps of each sample, with the forward's
 * boundary rules; RoIs with a batch index outside [0, N) (or, in the multi-scale case, an inverted box)
 * contribute nothing, as in the forward.
 *
 * Two paths (`method`), no read-back either way:
 * - `"gather"` (default): deterministic, bit for bit the same on every run (`roi_align_gather.ts`): a
 *   marking pass over the RoIs, then one invocation per gradient element sums its RoIs' samples in RoI order.
 * - `"atomic"`: one zero fill per map (skipped when accumulating into caller tensors) and ONE scatter
 *   dispatch over all levels that adds floats atomically (see `shaders/roi_align_backward.wgsl.ts`): native
 *   `atomicAdd` on `atomic<f32>` where the device has `wgpu-shader-float32-atomic`
 *   (`GpuContext.useFloatAtomics`), else a compare-exchange loop. Not bit-deterministic: the order of the
 *   f32 additions follows the scheduling (~1e-7 relative between runs on lavapipe once its threads share
 *   the work).
 * @module
 */
import { ROI_WORKGROUP } from "../shaders/roi_align_common.wgsl.ts";
import { roiAlignBackwardWgsl } from "../shaders/roi_align_backward.wgsl.ts";
import { fillInPlace } from "./elementwise.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { type MultiScaleRoiAlignOptions, setupScales } from "./multiscale_roi_align.ts";
import {
  checkRois,
  occupiedRowWords,
  outputPair,
  type RoiAlignGeometry,
  roiAlignParamWords,
} from "./roi_align.ts";
import { roiAlignGatherBackward } from "./roi_align_gather.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

type Shape4 = readonly [number, number, number, number];

function checkShape(op: string, name: string, shape: readonly number[]): Shape4 {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ShapeError(op, `${name} [${shape}] must be [N, H, W, C] of positive integers`);
  }
  return shape as unknown as Shape4;
}

function checkGradOut(op: string, gradOut: Tensor, rois: Tensor, channels: number): void {
  gradOut.check(op, "gradOut");
  assertDType(op, "gradOut", gradOut, ["f32"]);
  assertRank(op, "gradOut", gradOut, 4, "R,outH,outW,C");
  if (gradOut.shape[0] !== rois.shape[0] || gradOut.shape[3] !== channels) {
    throw new ShapeError(
      op,
      `gradOut ${gradOut.describe()} must be [R, outH, outW, C] for rois ${rois.describe()} and C = ${channels}`,
    );
  }
}

/** Which RoIAlign backward runs: the deterministic gather (default) or the float-atomic scatter. */
export type RoiAlignBackwardMethod = "gather" | "atomic";

/** Options of {@link roiAlignBackward}. */
export interface RoiAlignBackwardOptions {
  /** `"gather"` (default, bit-deterministic) or `"atomic"` (float-atomic scatter, not bit-deterministic). */
  method?: RoiAlignBackwardMethod;
}

/** The gradient maps: the caller's (checked) or new ones (zero-filled for the atomic scatter). */
function gradientMaps(
  op: string,
  shapes: readonly Shape4[],
  names: readonly string[],
  into: readonly (Tensor | undefined)[],
  zeroFill: boolean,
): Tensor[] {
  return shapes.map((shape, i) => {
    const t = into[i];
    if (!t) return zeroFill ? fillInPlace(emptyTensor(shape, "f32"), 0) : emptyTensor(shape, "f32");
    t.check(op, `into.${names[i]}`);
    assertDType(op, `into.${names[i]}`, t, ["f32"]);
    if (t.rank !== 4 || t.shape.some((d, k) => d !== shape[k])) {
      throw new ShapeError(op, `into.${names[i]} ${t.describe()} must be [${shape}]`);
    }
    return t;
  });
}

/** Adds the RoIAlign gradient of `gradOut` into 1–4 gradient maps (the forward's `roiAlignPyramid`, reversed). */
function roiAlignPyramidBackward(
  op: string,
  gradOut: Tensor,
  rois: Tensor,
  grads: readonly Tensor[],
  geometry: RoiAlignGeometry,
  method: RoiAlignBackwardMethod,
  accumulate: readonly boolean[],
): void {
  if (method === "gather") {
    roiAlignGatherBackward(op, gradOut, rois, grads, geometry, { accumulate });
    return;
  }
  const [r, outH, outW, c] = gradOut.shape;
  const n = grads[0].shape[0];
  const vec4 = c % 4 === 0;
  const cv = vec4 ? c / 4 : c;
  const total = r * outH * outW * cv;
  if (total === 0) return;
  if (total > 0xffffffff - ROI_WORKGROUP) {
    throw new LimitError(op, `gradOut ${gradOut.describe()} has too many elements for one dispatch`);
  }
  const m = geometry.mapper;
  const occupied = geometry.occupied;
  const atomics = gradOut.gpu.useFloatAtomics ? "f32" as const : "cas" as const;
  const variant = { vec4, levels: grads.length, mapLevels: m !== undefined, atomics };
  const kernel = {
    key: `roi_align_backward/${vec4 ? "vec4" : "f32"}/L${variant.levels}/${m ? "map" : "one"}/${atomics}`,
    source: roiAlignBackwardWgsl(variant),
  };
  dispatch(kernel, {
    op,
    tensors: [
      ["rois", rois],
      ["counts", occupied?.counts ?? emptyTensor([1], "u32")],
      ["gradOut", gradOut],
      ...grads.map((g, i) => [`grad[${i}]`, g] as const),
    ],
    params: params(
      ...roiAlignParamWords(geometry, { rois: r, cv, batch: n, total, maps: grads.map((g) => g.shape) }),
      ...occupiedRowWords(occupied, r),
    ),
    workgroups: Math.ceil(total / ROI_WORKGROUP),
    // only the occupied RoI rows scatter (the others hold stale gradients; the kernel skips them too)
    bound: occupied && { ...occupied, unitsPerRow: outH * outW * cv, unitsPerWorkgroup: ROI_WORKGROUP },
  });
}

/**
 * Gradient of `roiAlign(input, rois, outputSize, spatialScale, samplingRatio, aligned)` w.r.t. `input`
 * (torchvision's roi_align backward). gradOut: [R, outH, outW, C] f32, rois: [R, 5] f32, inputShape:
 * [N, H, W, C] → gradInput [N, H, W, C] f32. With `into`, the gradient is ADDED to that tensor (returned).
 * `options.method` picks the deterministic gather (default) or the float-atomic scatter.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { roiAlignBackward } from "./roi_align_backward.ts";
 * await getGpu();
 * const g = tensorFromArray(new Float32Array(2 * 2 * 4).fill(1), [1, 2, 2, 4]);
 * const rois = tensorFromArray(new Float32Array([0, 0, 0, 2, 1]), [1, 5]);
 * console.log(roiAlignBackward(g, rois, [1, 2, 3, 4], 1, 2, false).shape); // [1, 2, 3, 4]
 * ```
 */
export function roiAlignBackward(
  gradOut: Tensor,
  rois: Tensor,
  inputShape: readonly number[],
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
  into?: Tensor,
  options: RoiAlignBackwardOptions = {},
): Tensor {
  const op = "roi_align_backward";
  const shape = checkShape(op, "inputShape", inputShape);
  checkRois(op, rois);
  checkGradOut(op, gradOut, rois, shape[3]);
  if (!Number.isInteger(samplingRatio)) {
    throw new ShapeError(op, `sampling ratio ${samplingRatio} must be an integer (<= 0 for adaptive)`);
  }
  if (!(spatialScale > 0)) throw new ShapeError(op, `spatial scale ${spatialScale} must be positive`);
  const method = options.method ?? "gather";
  const [grad] = gradientMaps(op, [shape], ["input"], [into], method === "atomic");
  roiAlignPyramidBackward(
    op,
    gradOut,
    rois,
    [grad],
    {
      outputSize: outputPair(op, [gradOut.shape[1], gradOut.shape[2]]),
      scales: [spatialScale],
      samplingRatio,
      aligned,
    },
    method,
    [into !== undefined],
  );
  return grad;
}

/** Options of {@link multiScaleRoiAlignBackward}: the forward's, plus optional gradients to add into. */
export interface MultiScaleRoiAlignBackwardOptions extends MultiScaleRoiAlignOptions {
  /** Per level name, an existing gradient map to accumulate into (e.g. the RPN's gradient of P2). */
  into?: Readonly<Record<string, Tensor>>;
  /** `"gather"` (default, bit-deterministic) or `"atomic"` (float-atomic scatter, not bit-deterministic). */
  method?: RoiAlignBackwardMethod;
}

/**
 * Gradient of `multiScaleRoiAlign(features, rois, imageShapes, options)` w.r.t. each feature map.
 * gradOut: [R, outH, outW, C] f32, rois: [R, 5] f32, featureShapes: name → [N, Hl, Wl, C] →
 * name → gradient [N, Hl, Wl, C] f32 (levels that no RoI maps to are zero, or `into`'s tensor unchanged).
 *
 * @example Box-head pooling backward of an 800×1216 image
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { multiScaleRoiAlignBackward } from "./roi_align_backward.ts";
 * await getGpu();
 * const shapes = { p2: [1, 200, 304, 4], p3: [1, 100, 152, 4], p4: [1, 50, 76, 4], p5: [1, 25, 38, 4] };
 * const g = tensorFromArray(new Float32Array(7 * 7 * 4).fill(1), [1, 7, 7, 4]);
 * const rois = tensorFromArray(new Float32Array([0, 10, 20, 300, 400]), [1, 5]);
 * const grads = multiScaleRoiAlignBackward(g, rois, shapes, [[800, 1216]], { outputSize: 7, samplingRatio: 2 });
 * console.log(grads.p4.shape); // [1, 50, 76, 4]
 * ```
 */
export function multiScaleRoiAlignBackward(
  gradOut: Tensor,
  rois: Tensor,
  featureShapes: Readonly<Record<string, readonly number[]>>,
  imageShapes: readonly (readonly [number, number])[],
  options: MultiScaleRoiAlignBackwardOptions,
): Record<string, Tensor> {
  const op = "multiscale_roi_align_backward";
  const names = options.featmapNames ?? ["p2", "p3", "p4", "p5"];
  const missing = names.filter((n) => !(n in featureShapes));
  if (missing.length) {
    throw new ShapeError(
      op,
      `feature shapes ${missing.join(", ")} missing (have ${Object.keys(featureShapes)})`,
    );
  }
  if (names.length < 1 || names.length > 4) {
    throw new ShapeError(op, `expects 1 to 4 feature maps, got ${names.length}`);
  }
  const shapes = names.map((n) => checkShape(op, `featureShapes.${n}`, featureShapes[n]));
  shapes.forEach((s, i) => {
    if (s[0] !== shapes[0][0] || s[3] !== shapes[0][3]) {
      throw new ShapeError(
        op,
        `featureShapes.${names[i]} [${s}] and ${names[0]} [${shapes[0]}] differ in N or C`,
      );
    }
  });
  checkRois(op, rois);
  checkGradOut(op, gradOut, rois, shapes[0][3]);
  const outputSize = outputPair(op, options.outputSize);
  if (gradOut.shape[1] !== outputSize[0] || gradOut.shape[2] !== outputSize[1]) {
    throw new ShapeError(op, `gradOut ${gradOut.describe()} does not match output size [${outputSize}]`);
  }
  if (!Number.isInteger(options.samplingRatio)) {
    throw new ShapeError(op, `sampling ratio ${options.samplingRatio} must be an integer`);
  }
  const { scales, mapper } = setupScales(
    shapes.map((s) => s[1]),
    imageShapes,
    options.canonicalScale,
    options.canonicalLevel,
  );
  const method = options.method ?? "gather";
  const into = names.map((n) => options.into?.[n]);
  const grads = gradientMaps(op, shapes, names, into, method === "atomic");
  roiAlignPyramidBackward(
    op,
    gradOut,
    rois,
    grads,
    {
      outputSize,
      scales,
      samplingRatio: options.samplingRatio,
      aligned: false,
      mapper: names.length > 1 ? mapper : undefined,
      occupied: options.occupied,
    },
    method,
    into.map((t) => t !== undefined),
  );
  return Object.fromEntries(names.map((n, i) => [n, grads[i]]));
}
