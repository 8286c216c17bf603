/**
 * torchvision's `GeneralizedRCNNTransform` (eval mode) on the GPU: per image, normalise
 * `(x / 255 − mean) / std` FIRST, then resize bilinearly (`align_corners=False`) by
 * `scale = min(minSize / short side, maxSize / long side)`, then zero-pad the batch to a multiple of
 * `sizeDivisible` (32). One kernel per image does all three, writing the image's whole slot (resized
 * pixels and zero padding) of the `[N, Hp, Wp, 3]` NHWC batch.
 *
 * Sizes follow torchvision 0.14 exactly (see {@link resizedImageSize}): `scale` is an f32 (torch divides
 * a Python float by an f32 tensor, which it evaluates as `f32(f32(1 / side) · size)`, so 480 → 800 and
 * not 799), the output size is `floor(in · scale)` in float64 (interpolate with
 * `scale_factor` and `recompute_scale_factor=True`), and the sampling scale is then `in / out` from the
 * floored size, not `1 / scale`.
 *
 * Input decision: images are uint8 RGB (or RGBA, alpha ignored), row-major HWC, uploaded as the raw bytes
 * packed four per u32 word (a quarter of the upload of f32); the kernel unpacks the bytes.
 * @module
 */
import { IMAGE_TRANSFORM_WGSL } from "../shaders/image_transform.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tensorFromArray } from "./tensor.ts";

/** An 8-bit image: `height × width × channels` bytes, row-major, RGB or RGBA. */
export interface Rgb8Image {
  /** The bytes (e.g. imagescript's `bitmap`, RGBA). */
  data: Uint8Array | Uint8ClampedArray;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** 3 (RGB) or 4 (RGBA, alpha ignored); default 3. */
  channels?: 3 | 4;
}

/**
 * Options of {@link imageTransform}: the fields of torchvision's `GeneralizedRCNNTransform` (Mask R-CNN's
 * values are the model's, in `model/config.ts`: 800, 1333, ImageNet's mean and std, 32).
 */
export interface ImageTransformOptions {
  /** Target short side (`min_size`). */
  minSize: number;
  /** Cap on the long side (`max_size`). */
  maxSize: number;
  /** Per-channel mean of [0, 1] inputs (`image_mean`). */
  mean: readonly [number, number, number];
  /** Per-channel std (`image_std`). */
  std: readonly [number, number, number];
  /** The padded batch's H and W are multiples of this (`size_divisible`). */
  sizeDivisible: number;
}

/** Result of {@link imageTransform}. */
export interface TransformedBatch {
  /** The padded batch, [N, Hp, Wp, 3] f32. */
  images: Tensor;
  /** Per image, the resized size [h, w] before padding (torchvision's `image_sizes`). */
  imageSizes: [number, number][];
  /** Per image, the original size [height, width] (for mapping boxes back). */
  originalSizes: [number, number][];
}

/**
 * The size torchvision 0.14 resizes an `height × width` image to (eval mode, no fixed size).
 *
 * @example
 * ```ts
 * import { resizedImageSize } from "./image_transform.ts";
 * console.log(resizedImageSize(480, 640)); // [800, 1066]
 * ```
 */
export function resizedImageSize(
  height: number,
  width: number,
  minSize = 800,
  maxSize = 1333,
): [number, number] {
  const f = Math.fround;
  // torch evaluates `float / tensor` as `tensor.reciprocal() * float`, both in f32
  const scale = Math.min(
    f(f(1 / Math.min(height, width)) * minSize),
    f(f(1 / Math.max(height, width)) * maxSize),
  );
  return [Math.floor(height * scale), Math.floor(width * scale)];
}

/**
 * Uploads 8-bit image bytes as u32 words (four bytes per word; the tail is zero-padded).
 * image → [ceil(H·W·channels / 4)] u32.
 *
 * @example
 * ```ts
 * import { getGpu } from "./mod.ts";
 * import { uploadRgb8 } from "./image_transform.ts";
 * await getGpu();
 * console.log(uploadRgb8({ data: new Uint8Array(2 * 3 * 3), height: 2, width: 3 }).shape); // [5]
 * ```
 */
export function uploadRgb8(image: Rgb8Image): Tensor {
  const channels = image.channels ?? 3;
  const bytes = image.height * image.width * channels;
  if (
    ![3, 4].includes(channels) || !Number.isInteger(image.height) || !Number.isInteger(image.width) ||
    image.height < 1 || image.width < 1 || image.data.length !== bytes
  ) {
    throw new ShapeError(
      "imageTransform",
      `image of ${image.data.length} bytes is not ${image.height}×${image.width}×${channels} (channels 3 or 4)`,
    );
  }
  const words = new Uint32Array(Math.ceil(bytes / 4));
  new Uint8Array(words.buffer).set(image.data);
  return tensorFromArray(words, [words.length]);
}

/**
 * Normalise, resize and batch images as torchvision's GeneralizedRCNNTransform does in eval mode.
 * images: N × (H_i × W_i × 3|4 uint8) → images [N, Hp, Wp, 3] f32, Hp = ceil(max h_i / d)·d with
 * d = `sizeDivisible`.
 *
 * @example
 * ```ts
 * import { getGpu } from "./mod.ts";
 * import { imageTransform } from "./image_transform.ts";
 * await getGpu();
 * const img = { data: new Uint8Array(480 * 640 * 3).fill(128), height: 480, width: 640 };
 * const { images, imageSizes } = imageTransform([img], {
 *   minSize: 800, // torchvision Mask R-CNN's transform (model/config.ts)
 *   maxSize: 1333,
 *   mean: [0.485, 0.456, 0.406],
 *   std: [0.229, 0.224, 0.225],
 *   sizeDivisible: 32,
 * });
 * console.log(images.shape, imageSizes); // [1, 800, 1088, 3] [[800, 1066]]
 * ```
 */
export function imageTransform(
  images: readonly Rgb8Image[],
  options: ImageTransformOptions,
): TransformedBatch {
  const op = "imageTransform";
  const { minSize, maxSize, sizeDivisible, mean, std } = options;
  if (images.length === 0) throw new ShapeError(op, "needs at least one image");
  if (!(minSize > 0 && maxSize > 0 && Number.isInteger(sizeDivisible) && sizeDivisible >= 1)) {
    throw new ShapeError(
      op,
      `minSize ${minSize}, maxSize ${maxSize}, sizeDivisible ${sizeDivisible} are invalid`,
    );
  }
  const originalSizes = images.map((im) => [im.height, im.width] as [number, number]);
  const imageSizes = images.map((im) => resizedImageSize(im.height, im.width, minSize, maxSize));
  if (imageSizes.some(([h, w]) => h < 1 || w < 1)) {
    throw new ShapeError(op, `an image resizes to an empty size: ${JSON.stringify(imageSizes)}`);
  }
  const padH = Math.ceil(Math.max(...imageSizes.map((s) => s[0])) / sizeDivisible) * sizeDivisible;
  const padW = Math.ceil(Math.max(...imageSizes.map((s) => s[1])) / sizeDivisible) * sizeDivisible;
  const uploads = images.map(uploadRgb8);
  const batch = emptyTensor([images.length, padH, padW, 3], "f32");
  images.forEach((im, n) => {
    const [outH, outW] = imageSizes[n];
    dispatch({ key: "image_transform/normalize-resize-pad", source: IMAGE_TRANSFORM_WGSL }, {
      op,
      tensors: [["image", uploads[n]], ["out", batch]],
      params: params(
        ["u32", im.height],
        ["u32", im.width],
        ["u32", im.channels ?? 3],
        ["u32", n],
        ["u32", outH],
        ["u32", outW],
        ["u32", padH],
        ["u32", padW],
        ["f32", Math.fround(im.height / outH)],
        ["f32", Math.fround(im.width / outW)],
        ["u32", 0],
        ["u32", 0],
        ["f32", mean[0]],
        ["f32", mean[1]],
        ["f32", mean[2]],
        ["f32", 0],
        ["f32", std[0]],
        ["f32", std[1]],
        ["f32", std[2]],
        ["f32", 1],
      ),
      workgroups: Math.ceil((padH * padW) / WORKGROUP_1D),
    });
  });
  for (const u of uploads) u.dispose(); // safe: encoded dispatches keep queue order with later writes
  return { images: batch, imageSizes, originalSizes };
}
