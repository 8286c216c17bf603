/**
 * `torchvision.ops.box_iou` on the GPU, plain and batched over the concatenated-GT layout of
 * `ops/detection/gt_batch.ts`. The training-target ops do not materialise IoU matrices (the matcher recomputes
 * the same IoUs on the fly, `ops/detection/matcher.ts`); these ops are for inspection, tests and custom matchers.
 * @module
 */
import { BOX_IOU_WGSL } from "../shaders/box_iou.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { ShapeError } from "./errors.ts";
import type { GtBatch } from "./detection/gt_batch.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tensorFromArray, tidy } from "./tensor.ts";
import { assertDType } from "./validate.ts";

function checkBoxes(op: string, name: string, t: Tensor, rank: 2 | 3): void {
  t.check(op, name);
  assertDType(op, name, t, ["f32"]);
  if (t.rank !== rank || t.shape[rank - 1] !== 4) {
    throw new ShapeError(op, `${name} must be [${rank === 2 ? "N" : "B, M"}, 4], got ${t.describe()}`);
  }
}

function iouRows(op: string, a: Tensor, b: Tensor, m: number, table: Tensor, images: number, stride: number) {
  const rows = a.shape[0];
  const out = emptyTensor([rows, m], "f32");
  if (rows * m === 0) return out;
  if (rows * m > 0xffffffff - WORKGROUP_1D) throw new ShapeError(op, `[${rows}, ${m}] is too many pairs`);
  dispatch({ key: "box_iou/pairwise", source: BOX_IOU_WGSL }, {
    op,
    tensors: [["a", a], ["b", b], ["images", table], ["out", out]],
    params: params(["u32", rows], ["u32", m], ["u32", images], ["u32", stride]),
    workgroups: Math.ceil((rows * m) / WORKGROUP_1D),
  });
  return out;
}

/**
 * IoU of every pair (torchvision `box_iou(a, b)`). a: [N, 4] f32, b: [M, 4] f32 → [N, M] f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { boxIou } from "./box_iou.ts";
 * await getGpu();
 * const a = tensorFromArray(new Float32Array([0, 0, 10, 10]), [1, 4]);
 * const b = tensorFromArray(new Float32Array([0, 0, 10, 10, 5, 0, 15, 10]), [2, 4]);
 * console.log(await boxIou(a, b).read()); // [1, 0.3333]
 * ```
 */
export function boxIou(a: Tensor, b: Tensor): Tensor {
  const op = "boxIou";
  checkBoxes(op, "a", a, 2);
  checkBoxes(op, "b", b, 2);
  return tidy(() => {
    const table = tensorFromArray(new Uint32Array([0, a.shape[0]]), [1, 2]);
    return iouRows(op, a, b, b.shape[0], table, 1, 0);
  });
}

/**
 * IoU of each image's GT boxes with that image's boxes: rows of image k of `gt.boxes` against `boxes[k]`
 * (or against a shared `[M, 4]`, e.g. the anchors). gt: {@link GtBatch} (B images, Gtot boxes),
 * boxes: [B, M, 4] or [M, 4] f32 → [Gtot, M] f32 (image k's rows at `gt.table[k]`).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { boxIouBatched } from "./box_iou.ts";
 * import { uploadGtBatch } from "./detection/gt_batch.ts";
 * await getGpu();
 * const gt = uploadGtBatch([
 *   { boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) },
 *   { boxes: new Float32Array([0, 0, 4, 4, 0, 0, 8, 8]), labels: new Int32Array([1, 2]) },
 * ]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 8, 8]), [1, 4]);
 * console.log(await boxIouBatched(gt, anchors).read()); // [0.64, 0.25, 1]
 * ```
 */
export function boxIouBatched(gt: GtBatch, boxes: Tensor): Tensor {
  const op = "boxIouBatched";
  checkBoxes(op, "gt.boxes", gt.boxes, 2);
  assertDType(op, "gt.table", gt.table.check(op, "gt.table"), ["u32"]);
  const images = gt.counts.length;
  if (gt.table.shape[0] !== images || gt.boxes.shape[0] !== gt.counts.reduce((s, c) => s + c, 0)) {
    throw new ShapeError(op, `gt.table ${gt.table.describe()} and gt.boxes ${gt.boxes.describe()} disagree`);
  }
  boxes.check(op, "boxes");
  if (boxes.rank === 3 && boxes.shape[0] !== images) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [${images}, M, 4] or [M, 4]`);
  }
  checkBoxes(op, "boxes", boxes, boxes.rank === 3 ? 3 : 2);
  const m = boxes.shape[boxes.rank - 2];
  return iouRows(op, gt.boxes, boxes, m, gt.table, images, boxes.rank === 3 ? m : 0);
}
