/**
 * Inference, torchvision's `GeneralizedRCNN.forward` in eval mode in five steps — transform, backbone
 * (ResNet + FPN), RPN, RoI heads (boxes, then masks), postprocess (boxes back to input pixels, masks pasted
 * into the input) — encoded on the GPU with one read-back at the end.
 * @module
 */
import { maskBytes, pasteMasks } from "../ops/paste_masks.ts";
import { readTensors, type Tensor, tidy } from "../ops/tensor.ts";
import { LimitError } from "../ops/errors.ts";
import { currentGpu } from "../ops/gpu.ts";
import { fpnForward } from "./fpn.ts";
import { maskBranch } from "./mask_head.ts";
import type { MaskRcnnModel } from "./mask_rcnn.ts";
import { resnetForward } from "./resnet.ts";
import { boxBranch } from "./roi_heads.ts";
import { rpnForward } from "./rpn.ts";
import { postprocessBoxes, type RawImage, transformImages } from "./transform.ts";
import { checkRawImages } from "./input_checks.ts";
import { NoWeightsError } from "./weights_errors.ts";

/** Options of {@link detectImages}. */
export interface DetectOptions {
  /** Keep only detections with score ≥ this (applied after the model's own `boxScoreThresh`); default 0. */
  scoreThreshold?: number;
  /** Also return the pasted mask probabilities (`maskProbs`); default false. */
  maskProbabilities?: boolean;
}

/** One image's detections, sorted by score. */
export interface Detection {
  width: number;
  height: number;
  count: number;
  /** count×4 (x1, y1, x2, y2) in input pixels. */
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
  /** count×height×width, 0/1 (Mask R-CNN only). */
  masks?: Uint8Array;
  /** count×height×width probabilities (only with `maskProbabilities`). */
  maskProbs?: Float32Array;
}

/**
 * Throws a {@link LimitError} when an image's bytes (3 per pixel, uploaded whole before the GPU resize)
 * exceed the adapter's largest storage binding, naming the argument, the size and the fix. A 48-megapixel
 * photo is 144 MB: over lavapipe's 128 MiB binding.
 *
 * @example Checking a 100×100 image before detect
 * ```ts
 * import { getGpu } from "../ops/gpu.ts";
 * import { checkImageFitsAdapter } from "./detect.ts";
 * await getGpu();
 * checkImageFitsAdapter({ data: new Uint8Array(100 * 100 * 3), width: 100, height: 100 }, "photo.png");
 * ```
 */
export function checkImageFitsAdapter(image: RawImage, argument: string): void {
  const limit = currentGpu().limits.maxStorageBufferBindingSize;
  const bytes = image.width * image.height * 3;
  if (bytes > limit) {
    const maxMegapixels = Math.floor(limit / 3 / 1e5) / 10;
    throw new LimitError(
      "detect",
      `${argument} is ${image.width}×${image.height} (${(image.width * image.height / 1e6).toFixed(1)} ` +
        `megapixels, ${bytes} bytes as RGB) > this adapter's maxStorageBufferBindingSize ${limit}: ` +
        `downscale it to at most ${maxMegapixels} megapixels first (the model resizes to ` +
        "minSize/maxSize anyway)",
    );
  }
}

/**
 * Runs the model on a batch of decoded images (at most `MAX_BATCH_IMAGES`, 14) and returns one
 * {@link Detection} per image. Arguments of the wrong type throw `InvalidInputError` naming them.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { detectImages } from "./detect.ts";
 * // Random weights and small RPN/box limits keep this quick; loadWeights(model, file) gives real detections.
 * const model = await buildModel({
 *   preset: "small",
 *   minSize: 64,
 *   maxSize: 64,
 *   rpnPreNmsTopNTest: 50,
 *   rpnPostNmsTopNTest: 20,
 *   boxDetectionsPerImg: 5,
 * });
 * initWeights(model, { seed: 1 });
 * const image = { data: new Uint8Array(64 * 48 * 3).map((_, i) => (i * 13) % 256), width: 64, height: 48 };
 * const results = await detectImages(model, [image, image]); // one batched forward
 * assert.strictEqual(results.length, 2);
 * assert.deepStrictEqual([results[0].width, results[0].height], [64, 48]); // boxes are in input pixels
 * assert.deepStrictEqual(results[1].boxes, results[0].boxes);
 * assert.ok(results[0].count <= 5);
 * ```
 */
export async function detectImages(
  model: MaskRcnnModel,
  images: readonly RawImage[],
  options: DetectOptions = {},
): Promise<Detection[]> {
  const params = model.params;
  if (!params) {
    throw new NoWeightsError("detect: the model has no weights; call loadWeights(model, file) first");
  }
  checkRawImages("detect", images);
  images.forEach((image, i) => checkImageFitsAdapter(image, `images[${i}]`));
  if (images.length === 0) return [];
  const config = model.config;
  const wantProbs = options.maskProbabilities === true;
  const outputs = tidy(() => {
    const batch = transformImages(config, images);
    const { imageSizes, originalSizes } = batch;
    const paddedSize: [number, number] = [batch.images.shape[1], batch.images.shape[2]];
    const pyramid = fpnForward(params, resnetForward(params, batch.images));
    const proposals = rpnForward(params, config, pyramid, imageSizes, paddedSize, model.anchorCache, {
      preNmsTopN: config.rpnPreNmsTopNTest,
      postNmsTopN: config.rpnPostNmsTopNTest,
    });
    const detections = boxBranch(params, config, pyramid, proposals, imageSizes);
    const perImage = detections.perImage;
    const boxes = postprocessBoxes(detections.boxes, batch);
    const read: Tensor[] = [boxes, detections.scores, detections.labels, detections.count];
    if (params.mask) {
      // Only the real detections (the first count[b] slots of each image) are pooled, run through the
      // mask head and pasted; the other slots' planes are never read.
      const probs = maskBranch(
        params,
        pyramid,
        detections.boxes,
        detections.labels,
        perImage,
        imageSizes,
        { count: detections.count, rois: detections.rois },
      );
      originalSizes.forEach(([h, w], b) => {
        const pasted = pasteMasks(probs, boxes, [h, w], {
          probabilities: wantProbs,
          rows: [b * perImage, perImage],
          occupied: { counts: detections.count, index: b },
        });
        read.push(pasted.binary);
        if (pasted.probs) read.push(pasted.probs);
      });
    }
    return { read, perImage };
  });
  const values = await readTensors(outputs.read);
  for (const t of outputs.read) t.dispose();
  const [boxes, scores, labels, counts] = values as [Float32Array, Float32Array, Int32Array, Uint32Array];
  const perImage = outputs.perImage;
  const threshold = options.scoreThreshold ?? 0;
  return images.map((image, b) => {
    const base = b * perImage;
    let count = counts[b];
    while (count > 0 && scores[base + count - 1] < threshold) count--; // sorted by score
    const result: Detection = {
      width: image.width,
      height: image.height,
      count,
      boxes: boxes.slice(4 * base, 4 * (base + count)),
      scores: scores.slice(base, base + count),
      labels: labels.slice(base, base + count),
    };
    if (params.mask) {
      const plane = image.width * image.height;
      const step = wantProbs ? 2 : 1;
      const binary = values[4 + step * b] as Uint32Array;
      result.masks = maskBytes(binary, [perImage, image.height, image.width]).slice(0, count * plane);
      if (wantProbs) result.maskProbs = (values[5 + step * b] as Float32Array).slice(0, count * plane);
    }
    return result;
  });
}
