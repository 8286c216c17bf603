/**
 * RoI rows `(batchIndex, x1, y1, x2, y2)` from per-image box slots: {@link boxesToRois}, and
 * {@link gatherSlots}, which gathers the kept entries of a −1-padded keep list into those slots in one pass.
 * @module
 */
import { BOXES_TO_ROIS_WGSL, gatherSlotsWgsl } from "../../shaders/detection/rois.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { ShapeError } from "../errors.ts";
import { dispatch, params } from "../kernel.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";
import { assertDType } from "../validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/**
 * boxes: [B·K, 4] f32 → RoIs [B·K, 5] (batchIndex = ⌊row / K⌋, x1, y1, x2, y2).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { boxesToRois } from "./rois.ts";
 * await getGpu();
 * const boxes = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
 * const rois = await boxesToRois(boxes, 1).read(); // one box per image
 * assert.deepStrictEqual(rois, new Float32Array([0, 1, 2, 3, 4, 1, 5, 6, 7, 8]));
 * ```
 */
export function boxesToRois(boxes: Tensor, perImage: number): Tensor {
  const op = "boxesToRois";
  boxes.check(op, "boxes");
  const rows = boxes.size / 4;
  if (boxes.shape[boxes.rank - 1] !== 4 || !(perImage >= 1) || rows % perImage !== 0) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [B·${perImage}, 4]`);
  }
  const rois = emptyTensor([rows, 5], "f32");
  if (rows === 0) return rois;
  dispatch({ key: "detection/boxes_to_rois", source: BOXES_TO_ROIS_WGSL }, {
    op,
    tensors: [["boxes", boxes], ["rois", rois]],
    params: params(["u32", rows], ["u32", perImage]),
    workgroups: groups(rows),
  });
  return rois;
}

/** Kept slots filled by {@link gatherSlots}. */
export interface GatheredSlots {
  /** [n, 4] f32 boxes of the kept entries (zeros in empty slots). */
  boxes: Tensor;
  /** [n, 5] f32 (slot / perImage, x1, y1, x2, y2), as {@link boxesToRois} makes. */
  rois: Tensor;
  /** [n] u32 1 = keep ≥ 0 (without `labels`). */
  valid?: Tensor;
  /** [n] i32 labels of the kept entries, 0 in empty slots (with `labels`). */
  labels?: Tensor;
}

/**
 * Gathers kept entries into slots in one pass: src: [N, 4] f32 boxes, keep: [n] i32 (−1 padded, n =
 * B·perImage) → {@link GatheredSlots}: the same values as `gatherRows(src, keep)`, `boxesToRois(·,
 * perImage)` and `indexValid(keep)` (or `gatherRows(labels, keep)` with `labels`: [N] i32).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { gatherSlots } from "./rois.ts";
 * await getGpu();
 * const src = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
 * const slots = gatherSlots(src, tensorFromArray(new Int32Array([1, -1]), [2]), 2);
 * assert.deepStrictEqual(await slots.rois.read(), new Float32Array([0, 5, 6, 7, 8, 0, 0, 0, 0, 0]));
 * assert.deepStrictEqual(await slots.valid!.read(), new Uint32Array([1, 0]));
 * ```
 */
export function gatherSlots(
  src: Tensor,
  keep: Tensor,
  perImage: number,
  options: { labels?: Tensor } = {},
): GatheredSlots {
  const op = "gatherSlots";
  assertDType(op, "src", src.check(op, "src"), ["f32"]);
  assertDType(op, "keep", keep.check(op, "keep"), ["i32"]);
  const n = keep.size;
  if (src.rank !== 2 || src.shape[1] !== 4 || !(perImage >= 1) || n % perImage !== 0) {
    throw new ShapeError(
      op,
      `src ${src.describe()} must be [N, 4] and keep ${keep.describe()} [B·${perImage}]`,
    );
  }
  const labels = options.labels;
  if (labels) {
    assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
    if (labels.size !== src.shape[0]) {
      throw new ShapeError(
        op,
        `labels ${labels.describe()} must have one entry per src row ${src.describe()}`,
      );
    }
  }
  const out: GatheredSlots = { boxes: emptyTensor([n, 4], "f32"), rois: emptyTensor([n, 5], "f32") };
  if (labels) out.labels = emptyTensor([n], "i32");
  else out.valid = emptyTensor([n], "u32");
  if (n === 0) return out;
  dispatch({
    key: `detection/gather_slots/${labels ? "labels" : "valid"}`,
    source: gatherSlotsWgsl(!!labels),
  }, {
    op,
    tensors: [
      ["src", src],
      ["keep", keep],
      ...(labels ? [["labels", labels] as const] : []),
      ["boxes", out.boxes],
      ["rois", out.rois],
      labels ? ["labels out", out.labels!] : ["valid", out.valid!],
    ],
    params: params(["u32", n], ["u32", perImage], ["u32", src.shape[0]]),
    workgroups: groups(n),
  });
  return out;
}
