/**
 * torchvision 0.14's `paste_masks_in_image` (models/detection/roi_heads.py): the M×M mask probabilities of
 * each detection are padded by one pixel (`expand_masks`), its box is scaled by (M + 2)/M around the centre
 * (`expand_boxes`) and truncated to integers, the padded mask is resized to the integer box with
 * `F.interpolate(mode="bilinear", align_corners=False)` and pasted, clipped, into a zero image
 * (`paste_mask_in_image`, TO_REMOVE = 1). Here that is one GPU pass over the output pixels (see
 * `shaders/paste_masks.wgsl.ts`), identical to resize-then-paste.
 *
 * Binary masks: torchvision's Mask R-CNN documents its output masks as "probabilities in 0-1; to obtain
 * the final segmentation masks, the soft masks can be thresholded, generally with a value of 0.5
 * (`mask >= 0.5`)" (models/detection/mask_rcnn.py), so `binary = prob >= threshold` with threshold 0.5.
 * (torchvision's visualisation gallery uses `> 0.5`; the two differ only where a probability is exactly
 * 0.5.) The binary output is [R, H, W] u8 0/1 packed four pixels per u32 word (little-endian), a quarter of
 * the memory of u32 masks: read it with {@link maskBytes}.
 *
 * Deviation: a box entirely outside the image raises in torch (its slice bounds go negative); here it
 * pastes an empty mask.
 * @module
 */
import { PASTE_WORKGROUP, pasteMasksWgsl } from "../shaders/paste_masks.wgsl.ts";
import { bindingChunks, rangeView } from "./binding_chunks.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

/** Options of {@link pasteMasks}. */
export interface PasteMasksOptions {
  /** Binary threshold (`prob >= threshold`); default 0.5. */
  threshold?: number;
  /** Also return the pasted probabilities (`[R, H, W]` f32); default true. */
  probabilities?: boolean;
  /** Zero padding of the mask before resizing (torchvision's `padding`); default 1. */
  padding?: number;
  /**
   * Paste only rows [start, start + count) of `masks` and `boxes` (e.g. one image's detection slots);
   * default all rows.
   */
  rows?: readonly [start: number, count: number];
  /**
   * Only the first `counts[index]` of the pasted rows are real (counted on the GPU): only their pixels are
   * computed, the other planes of the outputs are left stale.
   */
  occupied?: { counts: Tensor; index?: number };
}

/** The pasted masks. */
export interface PastedMasks {
  /** [R, H, W] f32 probabilities, or null when not requested. */
  probs: Tensor<"f32"> | null;
  /** [ceil(R·H·W / 4)] u32: the [R, H, W] u8 0/1 masks packed four per word (see {@link maskBytes}). */
  binary: Tensor<"u32">;
  /** [R, H, W]. */
  shape: [number, number, number];
}

/**
 * Views the read-back packed binary masks as [R, H, W] u8 (row-major, one byte per pixel).
 *
 * @example
 * ```ts
 * import { maskBytes } from "./paste_masks.ts";
 * console.log(maskBytes(new Uint32Array([0x00010001]), [1, 1, 3])); // Uint8Array [1, 0, 1]
 * ```
 */
export function maskBytes(words: Uint32Array, shape: readonly [number, number, number]): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, shape[0] * shape[1] * shape[2]);
}

/**
 * Pastes detection masks into the image: masks: [R, M, M] f32 probabilities, boxes: [R, 4] f32 (x1, y1,
 * x2, y2 in image pixels), imageSize: [H, W] → probabilities [R, H, W] f32 and binary masks
 * [R, H, W] u8 (packed in u32 words); with `rows: [start, count]`, R = count rows from `start`.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { maskBytes, pasteMasks } from "./paste_masks.ts";
 * await getGpu();
 * const masks = tensorFromArray(new Float32Array(28 * 28).fill(0.9), [1, 28, 28]);
 * const boxes = tensorFromArray(new Float32Array([2, 3, 12, 9]), [1, 4]);
 * const { binary, shape } = pasteMasks(masks, boxes, [16, 20]);
 * const bytes = maskBytes(await binary.read(), shape);
 * console.log(bytes.reduce((a, b) => a + b, 0)); // pixels covered
 * ```
 */
export function pasteMasks(
  masks: Tensor,
  boxes: Tensor,
  imageSize: readonly [number, number],
  options: PasteMasksOptions = {},
): PastedMasks {
  const op = "paste_masks";
  masks.check(op, "masks");
  boxes.check(op, "boxes");
  assertDType(op, "masks", masks, ["f32"]);
  assertDType(op, "boxes", boxes, ["f32"]);
  if (masks.rank !== 3 || masks.shape[1] !== masks.shape[2] || masks.shape[1] < 1) {
    throw new ShapeError(op, `masks must be [R, M, M], got ${masks.describe()}`);
  }
  if (boxes.rank !== 2 || boxes.shape[1] !== 4 || boxes.shape[0] !== masks.shape[0]) {
    throw new ShapeError(op, `boxes must be [R, 4] for masks ${masks.describe()}, got ${boxes.describe()}`);
  }
  const [h, w] = imageSize;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new ShapeError(op, `image size [${imageSize}] must be positive integers`);
  }
  const padding = options.padding ?? 1;
  if (!Number.isInteger(padding) || padding < 0) throw new ShapeError(op, `padding ${padding} must be >= 0`);
  const m = masks.shape[1];
  const [first, r] = options.rows ?? [0, masks.shape[0]];
  if (!Number.isInteger(first) || !Number.isInteger(r) || first < 0 || r < 0 || first + r > masks.shape[0]) {
    throw new ShapeError(op, `rows [${options.rows}] must lie within the ${masks.shape[0]} masks`);
  }
  const pixels = r * h * w;
  const words = Math.ceil(pixels / 4);
  const withProbs = options.probabilities ?? true;
  const binary = emptyTensor([words], "u32");
  const probs = withProbs ? emptyTensor([r, h, w], "f32") : null;
  const kernel = { key: `paste_masks/${withProbs ? "probs" : "binary"}`, source: pasteMasksWgsl(withProbs) };
  // 4 pixels per word: 4 bytes of binary and 16 bytes of probabilities per unit.
  for (const [start, count] of words > 0 ? bindingChunks(binary.gpu, words, [4, 16]) : []) {
    const outputs: [string, Tensor][] = [["binary", rangeView(binary, start, 4, count)]];
    if (probs) outputs.push(["probs", rangeView(probs, start, 16, Math.min(4 * count, pixels - 4 * start))]);
    dispatch(kernel, {
      op,
      tensors: [["masks", masks], ["boxes", boxes], ...outputs],
      params: params(
        ["u32", r],
        ["u32", m],
        ["u32", padding],
        ["u32", h],
        ["u32", w],
        ["u32", pixels],
        ["u32", count],
        ["f32", (m + 2 * padding) / m],
        ["f32", options.threshold ?? 0.5],
        ["u32", start],
        ["u32", first],
      ),
      workgroups: Math.ceil(count / PASTE_WORKGROUP),
      // units are pixels: the words that hold any pixel of an occupied plane run
      bound: options.occupied && {
        counts: options.occupied.counts,
        index: options.occupied.index,
        unitsPerRow: h * w,
        unitsPerWorkgroup: 4 * PASTE_WORKGROUP,
        firstUnit: 4 * start,
      },
    });
  }
  return { probs, binary, shape: [r, h, w] };
}
