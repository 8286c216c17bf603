/**
 * The five Mask R-CNN training losses (torchvision 0.14's `fastrcnn_loss`, `maskrcnn_loss` and the RPN's
 * `compute_loss`) as fused forward + backward GPU kernels: each returns the loss as an f32 tensor `[1]` and
 * the gradient of that loss w.r.t. its input, with no read-back. Data-dependent normalisers (numbers of
 * sampled anchors, of positive RoIs) are GPU tensors (u32 or f32, one element), or plain numbers when known
 * on the CPU. Reductions are two-stage and deterministic (see `shaders/losses.wgsl.ts`), accurate for
 * half a million anchors.
 *
 * Rows whose label is outside [0, C) are treated as invalid (torch would raise). A zero normaliser gives
 * loss 0 and gradient 0 (torch: NaN for an empty mean; torchvision's mask loss returns 0 there).
 * @module
 */
import { LOSS_ELEMENTS, LOSS_TERMS_WGSL, type LossName } from "../shaders/loss_elements.wgsl.ts";
import {
  LOSS_MAX_GROUPS,
  LOSS_WORKGROUP,
  lossFinalizeWgsl,
  lossStage1Wgsl,
  type NormKind,
} from "../shaders/losses.wgsl.ts";
import { fill } from "./elementwise.ts";
import { ShapeError } from "./errors.ts";
import { dispatch, type NamedTensor, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType, assertRank } from "./validate.ts";

/** A loss normaliser: a GPU tensor of one u32 or f32 element (never read back), or a CPU number. */
export type Normaliser = Tensor | number;

/** A fused loss: the scalar loss `[1]` and the gradient w.r.t. the input (same shape as the input). */
export interface LossResult {
  /** f32 `[1]`. */
  loss: Tensor;
  /** f32, the input's shape. */
  grad: Tensor;
}

function normOf(op: string, norm: Normaliser): { kind: NormKind; tensor?: Tensor; value: number } {
  if (typeof norm === "number") {
    if (!(norm >= 0)) throw new ShapeError(op, `normaliser ${norm} must be a number ≥ 0`);
    return { kind: "const", value: norm };
  }
  norm.check(op, "normaliser");
  assertDType(op, "normaliser", norm, ["u32", "f32"]);
  if (norm.size !== 1) throw new ShapeError(op, `normaliser ${norm.describe()} must hold one element`);
  return { kind: norm.dtype as NormKind, tensor: norm, value: 0 };
}

/** Stage 1 + stage 2 of a loss over `total` elements; returns the loss `[1]`. */
function reduceLoss(
  op: string,
  element: LossName,
  tensors: readonly NamedTensor[],
  total: number,
  norm: Normaliser,
  shape: { a?: number; b?: number; beta?: number; normScale?: number },
): Tensor {
  const n = normOf(op, norm);
  const loss = emptyTensor([1], "f32");
  const groups = Math.min(Math.ceil(total / LOSS_WORKGROUP), LOSS_MAX_GROUPS);
  const block = (count: number) =>
    params(
      ["u32", count],
      ["u32", shape.a ?? 1],
      ["u32", shape.b ?? 1],
      ["u32", 0],
      ["f32", shape.beta ?? 0],
      ["f32", n.value],
      ["f32", shape.normScale ?? 1],
    );
  const normBinding: NamedTensor[] = n.tensor ? [["normaliser", n.tensor]] : [];
  if (groups === 0) {
    return fill([1], 0);
  }
  const partials = emptyTensor([groups], "f32");
  dispatch({
    key: `losses/${element}/${n.kind}`,
    source: lossStage1Wgsl({ ...LOSS_ELEMENTS[element], terms: LOSS_TERMS_WGSL }, n.kind),
  }, {
    op,
    tensors: [...tensors, ["partials", partials], ...normBinding],
    params: block(total),
    workgroups: [groups, 1, 1],
  });
  dispatch({ key: `losses/finalize/${n.kind}`, source: lossFinalizeWgsl(n.kind) }, {
    op,
    tensors: [["partials", partials], ["loss", loss], ...normBinding],
    params: block(groups),
    workgroups: [1, 1, 1],
  });
  partials.dispose();
  return loss;
}

function checkF32(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  t.check(op, name);
  assertDType(op, name, t, ["f32"]);
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(op, `${name} ${t.describe()} must be [${shape}]`);
  }
}

function checkRowVector(op: string, name: string, t: Tensor, dtype: "i32" | "u32", rows: number): void {
  t.check(op, name);
  assertDType(op, name, t, [dtype]);
  if (t.rank !== 1 || t.shape[0] !== rows) {
    throw new ShapeError(op, `${name} ${t.describe()} must be [${rows}] ${dtype}`);
  }
}

/**
 * Number of nonzero elements of a u32 mask, as an f32 `[1]` GPU tensor (e.g. a loss normaliser).
 * mask: [N] u32 → [1] f32.
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { countNonzero } from "./losses.ts";
 * await getGpu();
 * console.log(await countNonzero(tensorFromArray(new Uint32Array([1, 0, 3]), [3])).read()); // [2]
 * ```
 */
export function countNonzero(mask: Tensor): Tensor {
  const op = "countNonzero";
  mask.check(op, "mask");
  assertDType(op, "mask", mask, ["u32"]);
  return reduceLoss(op, "countNonzero", [["mask", mask]], mask.size, 1, {});
}

/**
 * `F.cross_entropy(logits, labels)` (mean reduction) over the rows where `valid` is nonzero (all rows
 * when omitted): torchvision's box-head classification loss. Gradient `(softmax − onehot) / count`, where
 * count is `normaliser` when given (e.g. the sampled count of the whole data-parallel batch), else the
 * number of valid rows. logits: [R, C] f32, labels: [R] i32, valid: [R] u32 → loss [1], grad [R, C].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { softmaxCrossEntropy } from "./losses.ts";
 * await getGpu();
 * const logits = tensorFromArray(new Float32Array([2, 0, 0, 0, 1, 0]), [2, 3]);
 * const { loss } = softmaxCrossEntropy(logits, tensorFromArray(new Int32Array([0, 1]), [2]));
 * console.log(await loss.read());
 * ```
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Tensor,
  valid?: Tensor,
  normaliser?: Normaliser,
): LossResult {
  const op = "softmaxCrossEntropy";
  logits.check(op, "logits");
  assertDType(op, "logits", logits, ["f32"]);
  assertRank(op, "logits", logits, 2, "R,C");
  const [r, c] = logits.shape;
  if (c < 1) throw new ShapeError(op, `logits ${logits.describe()} needs at least one class`);
  checkRowVector(op, "labels", labels, "i32", r);
  if (valid) checkRowVector(op, "valid", valid, "u32", r);
  const mask = valid ?? fill([r], 1, "u32");
  const count: Normaliser = normaliser ?? (valid ? countNonzero(valid) : r);
  const grad = emptyTensor([r, c], "f32");
  const tensors: NamedTensor[] = [["logits", logits], ["labels", labels], ["valid", mask], ["grad", grad]];
  const loss = reduceLoss(op, "crossEntropy", tensors, r, count, { a: c });
  if (!valid) mask.dispose();
  if (typeof count !== "number" && count !== normaliser) count.dispose();
  return { loss, grad };
}

/**
 * Σ over valid i of BCE-with-logits(logits[i], targets[i]), divided by `normaliser`: the RPN objectness
 * loss (`F.binary_cross_entropy_with_logits` mean over the sampled anchors, normaliser = their number).
 * Stable form `max(x, 0) − x·t + log1p(exp(−|x|))`; gradient `(sigmoid(x) − t) / normaliser`.
 * logits: [N] f32, targets: [N] f32, valid: [N] u32 → loss [1], grad [N].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { bceWithLogits } from "./losses.ts";
 * await getGpu();
 * const x = tensorFromArray(new Float32Array([3, -2, 0.5]), [3]);
 * const t = tensorFromArray(new Float32Array([1, 0, 1]), [3]);
 * const valid = tensorFromArray(new Uint32Array([1, 1, 0]), [3]);
 * console.log(await bceWithLogits(x, t, valid, 2).loss.read());
 * ```
 */
export function bceWithLogits(
  logits: Tensor,
  targets: Tensor,
  valid: Tensor,
  normaliser: Normaliser,
): LossResult {
  const op = "bceWithLogits";
  logits.check(op, "logits");
  assertDType(op, "logits", logits, ["f32"]);
  assertRank(op, "logits", logits, 1, "N");
  const n = logits.shape[0];
  checkF32(op, "targets", targets, [n]);
  checkRowVector(op, "valid", valid, "u32", n);
  const grad = emptyTensor([n], "f32");
  const tensors: NamedTensor[] = [["logits", logits], ["targets", targets], ["valid", valid], ["grad", grad]];
  return { loss: reduceLoss(op, "bce", tensors, n, normaliser, {}), grad };
}

/**
 * `F.smooth_l1_loss(pred[valid], target[valid], beta, reduction="sum") / normaliser`: the RPN box loss
 * (beta 1/9, normaliser = number of sampled anchors). pred, target: [N, K] f32, valid: [N] u32 →
 * loss [1], grad [N, K] (zero on invalid rows).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { smoothL1 } from "./losses.ts";
 * await getGpu();
 * const pred = tensorFromArray(new Float32Array([0.1, 0.2, 0.3, 0.4]), [1, 4]);
 * const target = tensorFromArray(new Float32Array([0, 0, 0, 0]), [1, 4]);
 * const valid = tensorFromArray(new Uint32Array([1]), [1]);
 * console.log(await smoothL1(pred, target, valid, 1 / 9, 1).loss.read());
 * ```
 */
export function smoothL1(
  pred: Tensor,
  target: Tensor,
  valid: Tensor,
  beta: number,
  normaliser: Normaliser,
): LossResult {
  const op = "smoothL1";
  pred.check(op, "pred");
  assertDType(op, "pred", pred, ["f32"]);
  assertRank(op, "pred", pred, 2, "N,K");
  const [n, k] = pred.shape;
  checkF32(op, "target", target, [n, k]);
  checkRowVector(op, "valid", valid, "u32", n);
  if (!(beta >= 0)) throw new ShapeError(op, `beta ${beta} must be ≥ 0`);
  const grad = emptyTensor([n, k], "f32");
  const tensors: NamedTensor[] = [["pred", pred], ["target", target], ["valid", valid], ["grad", grad]];
  return { loss: reduceLoss(op, "smoothL1", tensors, n * k, normaliser, { a: k, beta }), grad };
}

/**
 * torchvision's box-head regression loss: smooth L1 between the label's 4 columns of `boxRegression` and
 * `targets` on positive rows, summed, divided by `normaliser` (`labels.numel()` in torchvision). The
 * gradient lands in those columns of a [R, 4C] gradient (zero elsewhere).
 * boxRegression: [R, 4C] f32, labels: [R] i32, targets: [R, 4] f32, positive: [R] u32 → loss [1],
 * grad [R, 4C].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { smoothL1ClassSelected } from "./losses.ts";
 * await getGpu();
 * const reg = tensorFromArray(new Float32Array(8).fill(0.5), [1, 8]);
 * const labels = tensorFromArray(new Int32Array([1]), [1]);
 * const targets = tensorFromArray(new Float32Array(4), [1, 4]);
 * const pos = tensorFromArray(new Uint32Array([1]), [1]);
 * console.log(await smoothL1ClassSelected(reg, labels, targets, pos, 1 / 9, 1).grad.read());
 * ```
 */
export function smoothL1ClassSelected(
  boxRegression: Tensor,
  labels: Tensor,
  targets: Tensor,
  positive: Tensor,
  beta: number,
  normaliser: Normaliser,
): LossResult {
  const op = "smoothL1ClassSelected";
  boxRegression.check(op, "boxRegression");
  assertDType(op, "boxRegression", boxRegression, ["f32"]);
  assertRank(op, "boxRegression", boxRegression, 2, "R,4C");
  const [r, cols] = boxRegression.shape;
  if (cols % 4 !== 0 || cols === 0) {
    throw new ShapeError(op, `boxRegression ${boxRegression.describe()} must have 4·C columns`);
  }
  checkRowVector(op, "labels", labels, "i32", r);
  checkF32(op, "targets", targets, [r, 4]);
  checkRowVector(op, "positive", positive, "u32", r);
  if (!(beta >= 0)) throw new ShapeError(op, `beta ${beta} must be ≥ 0`);
  const grad = emptyTensor([r, cols], "f32");
  const tensors: NamedTensor[] = [
    ["boxRegression", boxRegression],
    ["labels", labels],
    ["targets", targets],
    ["positive", positive],
    ["grad", grad],
  ];
  return {
    loss: reduceLoss(op, "smoothL1ClassSelected", tensors, r * cols, normaliser, { a: cols, beta }),
    grad,
  };
}

/**
 * torchvision's `maskrcnn_loss`: BCE-with-logits between the label channel of `maskLogits` and `targets`,
 * averaged over the positive rows × M × M (`count` = number of positive rows). Gradient [R, M, M, C],
 * zero on the other channels and rows.
 * maskLogits: [R, M, M, C] f32 (NHWC), labels: [R] i32, targets: [R, M, M] f32, positive: [R] u32 →
 * loss [1], grad [R, M, M, C].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { maskBceLoss } from "./losses.ts";
 * await getGpu();
 * const logits = tensorFromArray(new Float32Array(28 * 28 * 3).fill(0.2), [1, 28, 28, 3]);
 * const targets = tensorFromArray(new Float32Array(28 * 28).fill(1), [1, 28, 28]);
 * const labels = tensorFromArray(new Int32Array([2]), [1]);
 * const pos = tensorFromArray(new Uint32Array([1]), [1]);
 * console.log(await maskBceLoss(logits, labels, targets, pos, 1).loss.read());
 * ```
 */
export function maskBceLoss(
  maskLogits: Tensor,
  labels: Tensor,
  targets: Tensor,
  positive: Tensor,
  count: Normaliser,
): LossResult {
  const op = "maskBceLoss";
  maskLogits.check(op, "maskLogits");
  assertDType(op, "maskLogits", maskLogits, ["f32"]);
  assertRank(op, "maskLogits", maskLogits, 4, "R,M,M,C");
  const [r, mh, mw, c] = maskLogits.shape;
  checkRowVector(op, "labels", labels, "i32", r);
  checkF32(op, "targets", targets, [r, mh, mw]);
  checkRowVector(op, "positive", positive, "u32", r);
  const grad = emptyTensor(maskLogits.shape, "f32");
  const tensors: NamedTensor[] = [
    ["maskLogits", maskLogits],
    ["labels", labels],
    ["targets", targets],
    ["positive", positive],
    ["grad", grad],
  ];
  const loss = reduceLoss(op, "maskBce", tensors, grad.size, count, { a: c, b: mh * mw, normScale: mh * mw });
  return { loss, grad };
}
