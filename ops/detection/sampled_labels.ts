/**
 * Sampler outputs turned into loss inputs: {@link positiveLabels} (which sampled RoIs are foreground) and
 * {@link sampledBinaryTargets} (the RPN objectness targets and the mask of sampled anchors).
 * @module
 */
import { LABEL_POSITIVE_WGSL, SAMPLED_BINARY_WGSL } from "../../shaders/detection/sampled_labels.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { ShapeError } from "../errors.ts";
import { dispatch, params } from "../kernel.ts";
import { emptyTensor, type Tensor } from "../tensor.ts";
import { assertDType } from "../validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/**
 * labels: any shape i32 → u32 of the same shape, 1 where label > 0 (positive sampled RoIs).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { positiveLabels } from "./sampled_labels.ts";
 * await getGpu();
 * const positive = await positiveLabels(tensorFromArray(new Int32Array([2, 0, -1]), [3])).read();
 * assert.deepStrictEqual(positive, new Uint32Array([1, 0, 0])); // class 2, background, empty slot
 * ```
 */
export function positiveLabels(labels: Tensor): Tensor {
  const op = "positiveLabels";
  assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
  const out = emptyTensor(labels.shape, "u32");
  if (labels.size === 0) return out;
  dispatch({ key: "detection/label_positive", source: LABEL_POSITIVE_WGSL }, {
    op,
    tensors: [["labels", labels], ["positive", out]],
    params: params(["u32", labels.size]),
    workgroups: groups(labels.size),
  });
  return out;
}

/**
 * Sampler masks → the RPN objectness loss inputs: positive, negative: same shape u32 →
 * { targets: f32 (1 for positives), valid: u32 (positive or negative) }.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../gpu.ts";
 * import { tensorFromArray } from "../tensor.ts";
 * import { sampledBinaryTargets } from "./sampled_labels.ts";
 * await getGpu();
 * const pos = tensorFromArray(new Uint32Array([1, 0, 0]), [3]);
 * const neg = tensorFromArray(new Uint32Array([0, 1, 0]), [3]);
 * const { targets, valid } = sampledBinaryTargets(pos, neg);
 * assert.deepStrictEqual(await targets.read(), new Float32Array([1, 0, 0]));
 * assert.deepStrictEqual(await valid.read(), new Uint32Array([1, 1, 0]));
 * ```
 */
export function sampledBinaryTargets(positive: Tensor, negative: Tensor): { targets: Tensor; valid: Tensor } {
  const op = "sampledBinaryTargets";
  assertDType(op, "positive", positive.check(op, "positive"), ["u32"]);
  assertDType(op, "negative", negative.check(op, "negative"), ["u32"]);
  if (positive.size !== negative.size) {
    throw new ShapeError(op, `positive ${positive.describe()} and negative ${negative.describe()} differ`);
  }
  const n = positive.size;
  const out = { targets: emptyTensor([n], "f32"), valid: emptyTensor([n], "u32") };
  if (n === 0) return out;
  dispatch({ key: "detection/sampled_binary", source: SAMPLED_BINARY_WGSL }, {
    op,
    tensors: [["positive", positive], ["negative", negative], ["targets", out.targets], ["valid", out.valid]],
    params: params(["u32", n]),
    workgroups: groups(n),
  });
  return out;
}
