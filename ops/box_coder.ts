/**
 * torchvision's `BoxCoder` (encode / decode with weights and `bbox_xform_clip`), `clip_boxes_to_image`
 * and `remove_small_boxes` as GPU ops on `[..., 4]` (x1, y1, x2, y2) f32 boxes.
 *
 * The weights and the clip of dw, dh before `exp` are arguments: torchvision's values ((1, 1, 1, 1) for the
 * RPN, (10, 10, 5, 5) for the RoI heads, clip log(1000 / 16)) are the model's, in `model/config.ts`.
 *
 * `removeSmallBoxes` returns a u32 keep-mask `[R]` (1 = keep) instead of torchvision's index list: the GPU
 * path never compacts between stages; the NMS / top-k stages consume the mask (a masked box is treated as
 * removed, e.g. given score −inf), and compaction happens once, there.
 * @module
 */
import {
  CLIP_BOXES_WGSL,
  CLIP_MAX_IMAGES,
  DECODE_CLIP_MAX_IMAGES,
  decodeBoxesWgsl,
  ENCODE_BOXES_WGSL,
  REMOVE_SMALL_BOXES_WGSL,
} from "../shaders/box_coder.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { LimitError, ShapeError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertSameShape } from "./validate.ts";

/** Box-coder weights (wx, wy, ww, wh). */
export type BoxWeights = readonly [number, number, number, number];

function boxes4(op: string, name: string, t: Tensor): void {
  t.check(op, name);
  assertDType(op, name, t, ["f32"]);
  if (t.rank < 1 || t.shape[t.rank - 1] % 4 !== 0 || t.shape[t.rank - 1] === 0) {
    throw new ShapeError(op, `${name} ${t.describe()} must end in an axis of 4·k box coordinates`);
  }
}

function groups(n: number): number {
  return Math.ceil(n / WORKGROUP_1D);
}

/**
 * Decodes regression deltas relative to reference boxes (torchvision `BoxCoder.decode_single`).
 * deltas: [R, 4·C] f32, boxes: [R, 4] f32 → [R, C, 4] f32 (C = 1 for the RPN, classes for the box head);
 * dw and dh are clamped above at `clip` (torchvision's `bbox_xform_clip`) before `exp`.
 * With `clipToImages` ((height, width) of each image, R/n rows each) the boxes are also clipped as
 * {@link clipBoxesToImage} does, in the same pass.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { decodeBoxes } from "./box_coder.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([10, 10, 50, 30]), [1, 4]);
 * const deltas = tensorFromArray(new Float32Array([0, 0, 0, 0, 1, -1, 0.5, 0]), [1, 8]);
 * // torchvision's RoI-head weights and clip (model/config.ts: ROI_BOX_WEIGHTS, BBOX_XFORM_CLIP)
 * console.log(await decodeBoxes(deltas, boxes, [10, 10, 5, 5], Math.log(1000 / 16)).read()); // 2 classes
 * ```
 */
export function decodeBoxes(
  deltas: Tensor,
  boxes: Tensor,
  weights: BoxWeights,
  clip: number,
  clipToImages?: readonly (readonly [number, number])[],
): Tensor {
  const op = "decodeBoxes";
  const n = clipToImages?.length ?? 0;
  if (clipToImages && (n < 1 || n > DECODE_CLIP_MAX_IMAGES || boxes.shape[0] % n !== 0)) {
    // clipping in the same pass takes up to 14 images with equal rows each; otherwise clip separately
    return clipBoxesToImage(decodeBoxes(deltas, boxes, weights, clip), clipToImages);
  }
  boxes4(op, "deltas", deltas);
  boxes4(op, "boxes", boxes);
  if (deltas.rank !== 2 || boxes.rank !== 2 || boxes.shape[1] !== 4 || deltas.shape[0] !== boxes.shape[0]) {
    throw new ShapeError(
      op,
      `deltas ${deltas.describe()} must be [R, 4·C] for boxes ${boxes.describe()} [R, 4]`,
    );
  }
  const rows = boxes.shape[0];
  const classes = deltas.shape[1] / 4;
  const out = emptyTensor([rows, classes, 4], "f32");
  const total = rows * classes;
  if (total === 0) return out;
  const block = new Uint32Array(n ? 8 + 4 * DECODE_CLIP_MAX_IMAGES : 8); // the whole params struct
  block.set(
    params(
      ["u32", total],
      ["u32", classes],
      ["f32", clip],
      ["u32", n],
      ...weights.map((w) => ["f32", w] as const),
    ),
  );
  clipToImages?.forEach(([h, w], k) => block.set([h, w, ((k + 1) * rows) / n, 0], 8 + 4 * k));
  dispatch({ key: `box_coder/decode${n ? "/clip" : ""}`, source: decodeBoxesWgsl(n > 0) }, {
    op,
    tensors: [["deltas", deltas], ["boxes", boxes], ["out", out]],
    params: block,
    workgroups: groups(total),
  });
  return out;
}

/**
 * Regression targets of ground-truth boxes relative to proposals (torchvision `encode_boxes`).
 * gt: [R, 4] f32, proposals: [R, 4] f32 → [R, 4] f32 (dx, dy, dw, dh).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { encodeBoxes } from "./box_coder.ts";
 * await getGpu();
 * const gt = tensorFromArray(new Float32Array([12, 8, 60, 30]), [1, 4]);
 * const proposals = tensorFromArray(new Float32Array([10, 10, 50, 30]), [1, 4]);
 * console.log(await encodeBoxes(gt, proposals, [10, 10, 5, 5]).read()); // the RoI heads' weights
 * ```
 */
export function encodeBoxes(gt: Tensor, proposals: Tensor, weights: BoxWeights): Tensor {
  const op = "encodeBoxes";
  boxes4(op, "gt", gt);
  boxes4(op, "proposals", proposals);
  assertSameShape(op, ["gt", gt], ["proposals", proposals]);
  if (gt.rank !== 2 || gt.shape[1] !== 4) throw new ShapeError(op, `gt ${gt.describe()} must be [R, 4]`);
  const out = emptyTensor(gt.shape, "f32");
  const total = gt.shape[0];
  if (total === 0) return out;
  dispatch({ key: "box_coder/encode", source: ENCODE_BOXES_WGSL }, {
    op,
    tensors: [["gt", gt], ["proposals", proposals], ["out", out]],
    params: params(
      ["u32", total],
      ["u32", 0],
      ["u32", 0],
      ["u32", 0],
      ...weights.map((w) => ["f32", w] as const),
    ),
    workgroups: groups(total),
  });
  return out;
}

/**
 * Clips boxes to their image: x to [0, width], y to [0, height] (torchvision `clip_boxes_to_image`).
 * boxes: [R, ..., 4] f32, rows split over images by `boxesPerImage` (default: R / N each);
 * imageSizes: N × [height, width], N ≤ 15 → same shape as boxes.
 *
 * @example Two images of 37×53 and 50×41, 2 boxes each
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { clipBoxesToImage } from "./box_coder.ts";
 * await getGpu();
 * const b = tensorFromArray(new Float32Array(16).fill(-5).map((v, i) => i % 2 ? 70 : v), [4, 4]);
 * console.log(await clipBoxesToImage(b, [[37, 53], [50, 41]]).read());
 * ```
 */
export function clipBoxesToImage(
  boxes: Tensor,
  imageSizes: readonly (readonly [number, number])[],
  boxesPerImage?: readonly number[],
): Tensor {
  const op = "clipBoxesToImage";
  boxes4(op, "boxes", boxes);
  if (boxes.rank < 2 || boxes.shape[boxes.rank - 1] !== 4) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [R, ..., 4]`);
  }
  const n = imageSizes.length;
  if (n < 1) throw new ShapeError(op, "needs at least one image size");
  if (n > CLIP_MAX_IMAGES) {
    throw new LimitError(op, `${n} images > ${CLIP_MAX_IMAGES} per call; split the batch`);
  }
  const rows = boxes.shape[0];
  if (!boxesPerImage && rows % n !== 0) {
    throw new ShapeError(
      op,
      `boxes ${boxes.describe()} do not split evenly over ${n} images; pass boxesPerImage`,
    );
  }
  const counts = boxesPerImage ?? Array(n).fill(rows / n);
  if (counts.length !== n || counts.reduce((a, b) => a + b, 0) !== rows || counts.some((c) => c < 0)) {
    throw new ShapeError(
      op,
      `boxesPerImage [${counts}] must give ${n} counts summing to ${rows} (boxes ${boxes.describe()})`,
    );
  }
  const out = emptyTensor(boxes.shape, "f32");
  const total = boxes.size / 4;
  if (total === 0) return out;
  const block = new Uint32Array(4 + 4 * CLIP_MAX_IMAGES);
  block.set([total, total / rows, n, 0]);
  let end = 0;
  imageSizes.forEach(([h, w], k) => {
    end += counts[k];
    block.set([h, w, end, 0], 4 + 4 * k);
  });
  dispatch({ key: "box_coder/clip", source: CLIP_BOXES_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["out", out]],
    params: block,
    workgroups: groups(total),
  });
  return out;
}

/**
 * Keep-mask of boxes with both sides ≥ `minSize` (torchvision `remove_small_boxes`, as a mask).
 * boxes: [..., 4] f32 → [...] u32 (1 = keep, 0 = removed), e.g. [R, 4] → [R].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { removeSmallBoxes } from "./box_coder.ts";
 * await getGpu();
 * const b = tensorFromArray(new Float32Array([0, 0, 5, 5, 0, 0, 0.0001, 9]), [2, 4]);
 * console.log(await removeSmallBoxes(b, 1e-3).read()); // [1, 0]
 * ```
 */
export function removeSmallBoxes(boxes: Tensor, minSize: number): Tensor {
  const op = "removeSmallBoxes";
  boxes4(op, "boxes", boxes);
  if (boxes.shape[boxes.rank - 1] !== 4) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [..., 4]`);
  }
  const keep = emptyTensor(boxes.shape.slice(0, -1), "u32");
  const total = boxes.size / 4;
  if (total === 0) return keep;
  dispatch({ key: "box_coder/remove-small", source: REMOVE_SMALL_BOXES_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["keep", keep]],
    params: params(["u32", total], ["f32", minSize]),
    workgroups: groups(total),
  });
  return keep;
}
