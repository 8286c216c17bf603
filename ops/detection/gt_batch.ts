/**
 * The batched ground-truth layout the training-target ops consume: every image's GT concatenated along
 * one axis, with a small per-image table of (first row, count) on the GPU and the counts also on the CPU
 * (they come from the data loader, so no read-back is ever needed to size anything).
 *
 * Masks are stored as bytes (0/1, 4 per u32 word, little-endian), each GT mask at the size of its image
 * (torchvision keeps masks at the resized-image size, not the padded batch size; roi_align's border
 * clamping depends on that size), starting at a word boundary, with a per-GT table (first word, height,
 * width, image). Bytes instead of f32 keep 90 masks of 800×1333 at 96 MB instead of 384 MB.
 * @module
 */
import { ShapeError } from "../errors.ts";
import type { GpuContext } from "../gpu.ts";
import { keep, type Tensor, tensorFromArray } from "../tensor.ts";
import { assertDType } from "../validate.ts";

/** Ground truth of one image, in resized-image pixels (structurally a `data/types.ts` `Target`). */
export interface GtImage {
  /** `n × 4` boxes (x1, y1, x2, y2). */
  boxes: Float32Array;
  /** `n` labels in 1..C−1. */
  labels: Int32Array;
  /** Optional `n × H × W` 0/1 masks, row-major. */
  masks?: Uint8Array;
  /** `[H, W]` of `masks` (the resized image's size); required with masks. */
  maskSize?: readonly [number, number];
}

/** GT masks of a batch on the GPU. */
export interface GtMasks {
  /** u32 words holding every mask's bytes (little-endian, 4 pixels per word). */
  words: Tensor;
  /** u32 `[Gtot, 4]`: (first word, height, width, image) per GT. */
  table: Tensor;
}

/** The GT of a batch of B images on the GPU. */
export interface GtBatch {
  /** f32 `[Gtot, 4]`: image 0's boxes, then image 1's, … */
  boxes: Tensor;
  /** i32 `[Gtot]`. */
  labels: Tensor;
  /** u32 `[B, 2]`: (first row in `boxes`, GT count) per image. */
  table: Tensor;
  /** GT count per image (CPU copy of `table[:, 1]`). */
  counts: readonly number[];
  /** Present when every image came with masks. */
  masks?: GtMasks;
}

/**
 * Uploads the GT of a batch (one write per tensor). Images without GT are allowed (all background).
 * images: B × {@link GtImage} → {@link GtBatch}.
 *
 * @example Two images, the second without GT
 * ```ts
 * import { getGpu } from "../mod.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * await getGpu();
 * const gt = uploadGtBatch([
 *   { boxes: new Float32Array([10, 10, 50, 40]), labels: new Int32Array([3]) },
 *   { boxes: new Float32Array(0), labels: new Int32Array(0) },
 * ]);
 * console.log(gt.counts, await gt.table.read()); // [1, 0], [0, 1, 1, 0]
 * ```
 */
export function uploadGtBatch(images: readonly GtImage[]): GtBatch {
  const op = "uploadGtBatch";
  if (images.length === 0) throw new ShapeError(op, "needs at least one image");
  const counts = images.map((im, b) => {
    const n = im.labels.length;
    if (im.boxes.length !== 4 * n) {
      throw new ShapeError(op, `image ${b}: ${im.boxes.length / 4} boxes for ${n} labels`);
    }
    return n;
  });
  const total = counts.reduce((a, c) => a + c, 0);
  const boxes = new Float32Array(4 * total);
  const labels = new Int32Array(total);
  const table = new Uint32Array(2 * images.length);
  let row = 0;
  images.forEach((im, b) => {
    boxes.set(im.boxes, 4 * row);
    labels.set(im.labels, row);
    table.set([row, counts[b]], 2 * b);
    row += counts[b];
  });
  const withMasks = images.filter((im) => im.masks).length;
  if (withMasks !== 0 && withMasks !== images.length) {
    throw new ShapeError(op, `${withMasks} of ${images.length} images have masks; give all or none`);
  }
  return {
    boxes: tensorFromArray(boxes, [total, 4]),
    labels: tensorFromArray(labels, [total]),
    table: tensorFromArray(table, [images.length, 2]),
    counts,
    masks: withMasks ? uploadMasks(op, images, total) : undefined,
  };
}

function uploadMasks(op: string, images: readonly GtImage[], total: number): GtMasks {
  const table = new Uint32Array(4 * total);
  let words = 0;
  let g = 0;
  images.forEach((im, b) => {
    const [h, w] = im.maskSize ?? [0, 0];
    if (!(h > 0 && w > 0) || im.masks!.length !== im.labels.length * h * w) {
      throw new ShapeError(
        op,
        `image ${b}: masks of ${
          im.masks!.length
        } bytes are not ${im.labels.length} × maskSize [${im.maskSize}]`,
      );
    }
    for (let k = 0; k < im.labels.length; k++, g++) {
      table.set([words, h, w, b], 4 * g);
      words += Math.ceil((h * w) / 4);
    }
  });
  const bytes = new Uint8Array(4 * Math.max(1, words));
  g = 0;
  images.forEach((im) => {
    const plane = im.maskSize![0] * im.maskSize![1];
    for (let k = 0; k < im.labels.length; k++, g++) {
      bytes.set(im.masks!.subarray(k * plane, (k + 1) * plane), 4 * table[4 * g]);
    }
  });
  return {
    words: tensorFromArray(new Uint32Array(bytes.buffer), [bytes.length / 4]),
    table: tensorFromArray(table, [total, 4]),
  };
}

/**
 * Frees the tensors of a {@link GtBatch}.
 *
 * @example
 * ```ts
 * import { getGpu } from "../mod.ts";
 * import { disposeGtBatch, uploadGtBatch } from "./gt_batch.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array(0), labels: new Int32Array(0) }]);
 * disposeGtBatch(gt);
 * console.log(gt.boxes.disposed); // true
 * ```
 */
export function disposeGtBatch(gt: GtBatch): void {
  for (const t of [gt.boxes, gt.labels, gt.table, gt.masks?.words, gt.masks?.table]) t?.dispose();
}

/**
 * Checks a {@link GtBatch}'s tensors against each other (shapes, dtypes, counts); returns B.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { checkGtBatch, uploadGtBatch } from "./gt_batch.ts";
 * await getGpu();
 * const gt = uploadGtBatch([
 *   { boxes: new Float32Array([0, 0, 10, 10, 5, 5, 20, 20]), labels: new Int32Array([1, 2]) },
 *   { boxes: new Float32Array(0), labels: new Int32Array(0) }, // an image without objects
 * ]);
 * assert.strictEqual(checkGtBatch("rpnTargets", gt), 2); // the batch size
 * ```
 */
export function checkGtBatch(op: string, gt: GtBatch): number {
  const { boxes, labels, table, counts } = gt;
  assertDType(op, "gt.boxes", boxes.check(op, "gt.boxes"), ["f32"]);
  assertDType(op, "gt.labels", labels.check(op, "gt.labels"), ["i32"]);
  assertDType(op, "gt.table", table.check(op, "gt.table"), ["u32"]);
  const total = counts.reduce((a, c) => a + c, 0);
  if (
    boxes.rank !== 2 || boxes.shape[1] !== 4 || boxes.shape[0] !== total || labels.size !== total ||
    table.rank !== 2 || table.shape[1] !== 2 || table.shape[0] !== counts.length || counts.length === 0
  ) {
    throw new ShapeError(
      op,
      `gt.boxes ${boxes.describe()}, gt.labels ${labels.describe()} and gt.table ${table.describe()} ` +
        `disagree with counts [${counts}]`,
    );
  }
  if (gt.masks) {
    assertDType(op, "gt.masks.words", gt.masks.words.check(op, "gt.masks.words"), ["u32"]);
    assertDType(op, "gt.masks.table", gt.masks.table.check(op, "gt.masks.table"), ["u32"]);
    if (gt.masks.table.rank !== 2 || gt.masks.table.shape[0] !== total || gt.masks.table.shape[1] !== 4) {
      throw new ShapeError(op, `gt.masks.table ${gt.masks.table.describe()} must be [${total}, 4]`);
    }
  }
  return counts.length;
}

const dummies = new WeakMap<GpuContext, Map<string, Tensor>>();

/**
 * `t`, or when it holds fewer than 16 bytes (an image batch without GT: `[0, 4]`) a kept zero tensor of
 * 16 bytes and the same dtype, so that it can be bound as `array<vec4<…>>` (kernels never read it then).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { bindable } from "./gt_batch.ts";
 * await getGpu();
 * console.log(bindable(tensorFromArray(new Float32Array(0), [0, 4])).shape); // [4]
 * ```
 */
export function bindable(t: Tensor): Tensor {
  if (t.byteLength >= 16) return t;
  let cache = dummies.get(t.gpu);
  if (!cache) dummies.set(t.gpu, cache = new Map());
  let dummy = cache.get(t.dtype);
  if (!dummy || dummy.disposed) {
    const data = t.dtype === "f32"
      ? new Float32Array(4)
      : t.dtype === "i32"
      ? new Int32Array(4)
      : new Uint32Array(4);
    dummy = keep(tensorFromArray(data, [4]));
    cache.set(t.dtype, dummy);
  }
  return dummy;
}
