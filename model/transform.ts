/**
 * torchvision's `GeneralizedRCNNTransform` for images and targets, the first and last of the five steps of
 * `GeneralizedRCNN.forward`: {@link transformImages} normalises, resizes and pads a batch on the GPU;
 * {@link transformTargets} brings the ground truth to the resized images (boxes × the resize ratio, masks
 * nearest-resized), as the transform does in train mode; {@link postprocessBoxes} maps detected boxes back
 * to the original image sizes (`transform.postprocess`, torchvision's `resize_boxes`).
 *
 * Ratios follow torchvision 0.14 in f32: targets use `f32(resized) / f32(original)`, the postprocess
 * `original / resized`, each rounded to f32 once, so boxes match torch bit for bit.
 * @module
 */
import { scaleBoxes } from "../ops/detection/scale_boxes.ts";
import { ShapeError } from "../ops/errors.ts";
import type { GtImage } from "../ops/detection/gt_batch.ts";
import { imageTransform, type Rgb8Image, type TransformedBatch } from "../ops/image_transform.ts";
import type { Tensor } from "../ops/tensor.ts";
import { resizeMasksNearest } from "./mask_resize.ts";
import type { MaskRcnnConfig } from "./config.ts";
import { transformOptions } from "./stage_config.ts";

export type { TransformedBatch } from "../ops/image_transform.ts";

/** An image as interleaved RGB or RGBA bytes, row-major (channels inferred from the length). */
export interface RawImage {
  /** `height × width × 3` (RGB) or `× 4` (RGBA, alpha ignored) bytes. */
  data: Uint8Array | Uint8ClampedArray;
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
}

/** Ground truth of one image in input pixels, as {@link transformTargets} takes it. */
export interface ImageTarget {
  /** n×4 (x1, y1, x2, y2). */
  boxes: Float32Array;
  /** n labels. */
  labels: Int32Array;
  /** n×H×W 0/1 masks at the input size. */
  masks?: Uint8Array;
}

function toRgb8(image: RawImage, index: number): Rgb8Image {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new ShapeError(
      "detect",
      `image ${index} is ${width}×${height}; both sides must be positive integers`,
    );
  }
  const channels = data.length / (width * height);
  if (channels !== 3 && channels !== 4) {
    throw new ShapeError(
      "detect",
      `image ${index} has ${data.length} bytes; a ${width}×${height} image needs ${
        width * height * 3
      } (RGB) or ` +
        `${width * height * 4} (RGBA)`,
    );
  }
  return { data, width, height, channels };
}

/**
 * Validates decoded images and runs torchvision's transform on them (normalise, resize, pad the batch):
 * shared by inference and training.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { resolveConfig } from "./config.ts";
 * import { transformImages } from "./transform.ts";
 * await getGpu();
 * const config = resolveConfig({ preset: "small" }); // minSize = maxSize = 128
 * const batch = transformImages(config, [{ width: 64, height: 32, data: new Uint8Array(64 * 32 * 3).fill(90) }]);
 * assert.deepStrictEqual(batch.originalSizes, [[32, 64]]);
 * assert.deepStrictEqual(batch.imageSizes, [[64, 128]]); // the long side limits the scale to 2
 * assert.deepStrictEqual(batch.images.shape, [1, 64, 128, 3]); // NHWC, padded to multiples of 32
 * ```
 */
export function transformImages(config: MaskRcnnConfig, images: readonly RawImage[]): TransformedBatch {
  return imageTransform(images.map(toRgb8), transformOptions(config));
}

/**
 * The targets of a batch brought to its resized images (torchvision's `resize_boxes` and the masks'
 * nearest `interpolate`): per image, boxes × `f32(f32(h) / f32(oh))` (y) and `f32(f32(w) / f32(ow))` (x),
 * each product rounded to f32, and masks resized to the image's resized size (not the padded size). The
 * result is what `uploadGtBatch` takes. `sizes` is the {@link transformImages} result of the same images.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { transformTargets } from "./transform.ts";
 * const sizes = { originalSizes: [[2, 2]] as [number, number][], imageSizes: [[4, 4]] as [number, number][] };
 * const target = { boxes: new Float32Array([0, 0, 1, 2]), labels: new Int32Array([1]), masks: new Uint8Array([1, 0, 0, 1]) };
 * const [gt] = transformTargets([target], sizes);
 * assert.deepStrictEqual(Array.from(gt.boxes), [0, 0, 2, 4]); // ×2 in x and y
 * assert.deepStrictEqual(gt.maskSize, [4, 4]);
 * assert.deepStrictEqual(Array.from(gt.masks!.subarray(0, 4)), [1, 1, 0, 0]); // nearest: each pixel → 2×2
 * ```
 */
export function transformTargets(
  targets: readonly ImageTarget[],
  sizes: Pick<TransformedBatch, "imageSizes" | "originalSizes">,
): GtImage[] {
  const { imageSizes, originalSizes } = sizes;
  if (targets.length !== imageSizes.length) {
    throw new ShapeError("transformTargets", `${targets.length} targets for ${imageSizes.length} images`);
  }
  return targets.map((t, i) => {
    const [h, w] = imageSizes[i];
    const [oh, ow] = originalSizes[i];
    const rh = Math.fround(Math.fround(h) / Math.fround(oh)),
      rw = Math.fround(Math.fround(w) / Math.fround(ow));
    const boxes = t.boxes.map((v, k) => Math.fround(v * (k % 2 === 0 ? rw : rh)));
    const masks = t.masks ? resizeMasksNearest(t.masks, t.labels.length, oh, ow, h, w) : undefined;
    return { boxes, labels: t.labels, masks, maskSize: [h, w] as const };
  });
}

/**
 * boxes: [B·K, 4] f32 (K per image, in resized-image pixels) → the same boxes in original image pixels
 * (torchvision's `transform.postprocess`): × `f32(oh / h)` in y and `f32(ow / w)` in x on the GPU.
 * `sizes` is the {@link transformImages} result of the batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { postprocessBoxes } from "./transform.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([10, 10, 20, 20]), [1, 4]);
 * const sizes = { originalSizes: [[50, 200]] as [number, number][], imageSizes: [[100, 100]] as [number, number][] };
 * assert.deepStrictEqual(Array.from(await postprocessBoxes(boxes, sizes).read()), [20, 5, 40, 10]);
 * ```
 */
export function postprocessBoxes(
  boxes: Tensor,
  sizes: Pick<TransformedBatch, "imageSizes" | "originalSizes">,
): Tensor {
  const { imageSizes, originalSizes } = sizes;
  const ratios = originalSizes.map(([h, w], i) =>
    [Math.fround(h / imageSizes[i][0]), Math.fround(w / imageSizes[i][1])] as [number, number]
  );
  return scaleBoxes(boxes, ratios);
}
