/**
 * torchvision's `maskrcnn_inference`: the sigmoid of each detection's predicted-class mask logits.
 * @module
 */
import { SELECT_CLASS_SIGMOID_WGSL } from "../../shaders/detection/class_mask.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { ShapeError } from "../errors.ts";
import { dispatch, type OccupiedRows, params } from "../kernel.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";
import { assertDType } from "../validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/**
 * logits: [R, M, M, C] f32 (NHWC), labels: [R] i32 → [R, M, M] f32 = sigmoid of channel `labels[r]`
 * (zeros where the label is negative, i.e. padding); with `occupied`, only the occupied rows are written.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { selectClassMask } from "./class_mask.ts";
 * await getGpu();
 * // one RoI, a 1×2 mask, C = 2 classes; the RoI's label is 1: channel 1 is kept
 * const logits = tensorFromArray(new Float32Array([0, 2, 0, -2]), [1, 1, 2, 2]);
 * const mask = await selectClassMask(logits, tensorFromArray(new Int32Array([1]), [1])).read();
 * const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
 * [2, -2].forEach((logit, i) => assert.ok(Math.abs(mask[i] - sigmoid(logit)) < 1e-6));
 * ```
 */
export function selectClassMask(logits: Tensor, labels: Tensor, occupied?: OccupiedRows): Tensor {
  const op = "selectClassMask";
  logits.check(op, "logits");
  assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
  if (logits.rank !== 4 || labels.size !== logits.shape[0]) {
    throw new ShapeError(
      op,
      `logits ${logits.describe()} must be [R, M, M, C] and labels ${labels.describe()} [R]`,
    );
  }
  const [rows, h, w, classes] = logits.shape;
  const out = emptyTensor([rows, h, w], "f32");
  if (out.size === 0) return out;
  dispatch({ key: "detection/select_class_sigmoid", source: SELECT_CLASS_SIGMOID_WGSL }, {
    op,
    tensors: [["logits", logits], ["labels", labels], ["out", out]],
    params: params(["u32", out.size], ["u32", h * w], ["u32", classes]),
    workgroups: groups(out.size),
    bound: occupied && { ...occupied, unitsPerRow: h * w, unitsPerWorkgroup: WORKGROUP_1D },
  });
  return out;
}
