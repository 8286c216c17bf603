/**
 * matterport Mask R-CNN's RoI pooling, as an alternative to torchvision's RoIAlign: TensorFlow's
 * `tf.image.crop_and_resize(image, boxes, box_indices, crop_size, method="bilinear", extrapolation_value=0)`
 * on NHWC maps, and `pyramidRoiAlign`, matterport's `PyramidROIAlign` layer (crop_and_resize from the FPN
 * level of each box).
 *
 * Boxes are normalised (y1, x1, y2, x2): y maps to `y * (H − 1)` of the map, so a crop samples the corners
 * of the box exactly (no bin averaging, unlike RoIAlign). Samples outside [0, H − 1] × [0, W − 1] take the
 * extrapolation value; a crop size of 1 samples the box centre. Formula: TF's CPU kernel
 * (tensorflow/core/kernels/image/crop_and_resize_op.cc). One dispatch per call (per binding-sized range of a huge output), no read-back; matterport's
 * per-level gather, pooling and re-ordering collapse into one kernel whose output is in box order.
 * @module
 */
import { CROP_WORKGROUP, cropAndResizeWgsl } from "../shaders/crop_and_resize.wgsl.ts";
import { bindingChunks, rangeView } from "./binding_chunks.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { checkFeatures, outputPair } from "./roi_align.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

function checkBoxes(op: string, boxes: Tensor, boxIndices: Tensor): void {
  boxes.check(op, "boxes");
  boxIndices.check(op, "boxIndices");
  assertDType(op, "boxes", boxes, ["f32"]);
  assertDType(op, "boxIndices", boxIndices, ["i32"]);
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) {
    throw new ShapeError(op, `boxes must be [R, 4] (y1, x1, y2, x2 normalised), got ${boxes.describe()}`);
  }
  if (boxIndices.rank !== 1 || boxIndices.shape[0] !== boxes.shape[0]) {
    throw new ShapeError(
      op,
      `boxIndices must be [R] for boxes ${boxes.describe()}, got ${boxIndices.describe()}`,
    );
  }
}

function run(
  op: string,
  maps: readonly Tensor[],
  boxes: Tensor,
  boxIndices: Tensor,
  size: [number, number],
  extrapolation: number,
  imageArea: number,
): Tensor {
  const [n, c] = [maps[0].shape[0], maps[0].shape[3]];
  const r = boxes.shape[0];
  const vec4 = c % 4 === 0;
  const cv = vec4 ? c / 4 : c;
  const out = emptyTensor([r, size[0], size[1], c], "f32");
  const total = r * size[0] * size[1] * cv;
  if (total === 0) return out;
  const dim = (axis: number) =>
    [0, 1, 2, 3].map((i) => ["u32", maps[Math.min(i, maps.length - 1)].shape[axis]] as const);
  const levels = maps.length as 1 | 4;
  const kernel = {
    key: `crop_and_resize/${vec4 ? "vec4" : "f32"}/L${levels}`,
    source: cropAndResizeWgsl({ vec4, levels }),
  };
  const unitBytes = vec4 ? 16 : 4;
  for (const [start, count] of bindingChunks(out.gpu, total, [unitBytes])) {
    dispatch(kernel, {
      op,
      tensors: [
        ["boxes", boxes],
        ["boxIndices", boxIndices],
        ...maps.map((m, i) => [`maps[${i}]`, m] as const),
        ["out", rangeView(out, start, unitBytes, (count * unitBytes) / 4)],
      ],
      params: params(
        ["u32", r],
        ["u32", size[0]],
        ["u32", size[1]],
        ["u32", cv],
        ["u32", n],
        ["u32", count],
        ["f32", extrapolation],
        ["f32", imageArea],
        ["u32", start],
        ["u32", 0],
        ["u32", 0],
        ["u32", 0],
        ...dim(1),
        ...dim(2),
      ),
      workgroups: Math.ceil(count / CROP_WORKGROUP),
    });
  }
  return out;
}

/**
 * `tf.image.crop_and_resize` with bilinear sampling. image: [N, H, W, C] f32, boxes: [R, 4] f32
 * (y1, x1, y2, x2 normalised; y1 > y2 flips), boxIndices: [R] i32 in [0, N) → [R, cropH, cropW, C] f32.
 * A box index outside [0, N) yields the extrapolation value (TF rejects the call instead).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { cropAndResize } from "./crop_and_resize.ts";
 * await getGpu();
 * const image = tensorFromArray(new Float32Array([0, 1, 2, 3]), [1, 2, 2, 1]);
 * const boxes = tensorFromArray(new Float32Array([0, 0, 1, 1]), [1, 4]);
 * const crop = cropAndResize(image, boxes, tensorFromArray(new Int32Array([0]), [1]), [3, 3]);
 * console.log(await crop.read()); // [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]
 * ```
 */
export function cropAndResize(
  image: Tensor,
  boxes: Tensor,
  boxIndices: Tensor,
  cropSize: number | readonly [number, number],
  extrapolationValue = 0,
): Tensor {
  const op = "crop_and_resize";
  checkFeatures(op, [["image", image]]);
  checkBoxes(op, boxes, boxIndices);
  return run(op, [image], boxes, boxIndices, outputPair(op, cropSize), extrapolationValue, 1);
}

/**
 * matterport's `PyramidROIAlign`: each box is cropped and resized from P2–P5 at level
 * `clamp(4 + round(log2(sqrt(h·w) / (224 / sqrt(imageH · imageW)))), 2, 5)` (h, w normalised, TF's
 * round-half-to-even). featureMaps: [P2, P3, P4, P5], each [N, Hl, Wl, C] f32; boxes: [R, 4] f32
 * (y1, x1, y2, x2 normalised to the image); boxIndices: [R] i32; imageShape: the (height, width) of the
 * molded input image → [R, poolH, poolW, C] f32 in box order.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { pyramidRoiAlign } from "./crop_and_resize.ts";
 * await getGpu();
 * const level = (s: number) => tensorFromArray(new Float32Array(s * s * 4).fill(s), [1, s, s, 4]);
 * const boxes = tensorFromArray(new Float32Array([0.1, 0.1, 0.6, 0.6]), [1, 4]);
 * const y = pyramidRoiAlign([level(64), level(32), level(16), level(8)], boxes, tensorFromArray(new Int32Array([0]), [1]), [256, 256], 7);
 * console.log((await y.read())[0]); // 32: a 128-pixel box maps to P3
 * ```
 */
export function pyramidRoiAlign(
  featureMaps: readonly Tensor[],
  boxes: Tensor,
  boxIndices: Tensor,
  imageShape: readonly [number, number],
  poolSize: number | readonly [number, number],
): Tensor {
  const op = "pyramid_roi_align";
  if (featureMaps.length !== 4) {
    throw new ShapeError(op, `expects the 4 feature maps P2–P5, got ${featureMaps.length}`);
  }
  checkFeatures(op, featureMaps.map((m, i) => [`P${i + 2}`, m] as const));
  checkBoxes(op, boxes, boxIndices);
  if (!imageShape.every((d) => d > 0)) {
    throw new ShapeError(op, `image shape [${imageShape}] must be positive`);
  }
  return run(op, featureMaps, boxes, boxIndices, outputPair(op, poolSize), 0, imageShape[0] * imageShape[1]);
}
